"""The default benchmark: the phantom demo set, generated once into a user cache."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path

DEMO_STUDIES = 120
DEMO_SEED = 0


def cache_root() -> Path:
    """``$RADRBENCH_CACHE``, else ``$XDG_CACHE_HOME/radrbench``, else ``~/.cache/radrbench``."""
    if env := os.environ.get("RADRBENCH_CACHE"):
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "radrbench"


def generator_fingerprint() -> str:
    """Hash of the phantom generator's source: a changed generator gets a fresh cache."""
    digest = hashlib.sha256()
    for path in sorted((Path(__file__).parent / "phantom").glob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def default_demo_dir(studies: int = DEMO_STUDIES, seed: int = DEMO_SEED) -> Path:
    """Path of the cached demo benchmark, generating it (atomically) the first time."""
    from radrbench.data.phantom import generate_demo

    target = cache_root() / "demo" / f"phantom-{generator_fingerprint()}-n{studies}-s{seed}"
    if (target / "manifest.json").is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=target.parent))
    try:
        generate_demo(staging, studies=studies, seed=seed)
        try:
            staging.rename(target)
        except OSError:  # another process won the race; its copy is identical
            if not (target / "manifest.json").is_file():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    for stale in target.parent.glob(f"phantom-*-n{studies}-s{seed}"):
        if stale != target:  # made by an older generator
            shutil.rmtree(stale, ignore_errors=True)
    return target
