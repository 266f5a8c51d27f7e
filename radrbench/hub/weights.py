"""Baseline weights from the Hub: the repo id and pinned revision of a baseline entry.

:func:`plan_download` says how many bytes are missing from the local cache and how many are
free there, before anything is downloaded; :func:`fetch_weights` downloads the snapshot
(huggingface_hub's own progress bars, resumable) and returns its local folder, which
``radrbench serve`` then serves instead of the repo id.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path

from huggingface_hub import (
    HfApi,
    constants,
    get_cached_repo_tree,
    snapshot_download,
    try_to_load_from_cache,
)
from huggingface_hub.hf_api import RepoFile

from radrbench.baselines.registry import Baseline
from radrbench.errors import ConfigError, ServerError
from radrbench.hub.errors import hub_errors

# Files a server needs; other formats of the same weights (.bin next to .safetensors,
# original checkpoints) are left on the Hub.
SERVING_FILES = ("*.json", "*.safetensors", "*.model", "*.txt", "*.py", "*.jinja", "*.tiktoken")
LEGACY_WEIGHTS = "*.bin"


def serving_patterns(paths: Iterable[str]) -> tuple[str, ...]:
    """The file patterns to fetch: ``.bin`` weights only for repos without safetensors."""
    has_safetensors = any(path.endswith(".safetensors") for path in paths)
    return SERVING_FILES if has_safetensors else (*SERVING_FILES, LEGACY_WEIGHTS)


def _matches(path: str, patterns: tuple[str, ...]) -> bool:
    return any(fnmatch(path, pattern) for pattern in patterns)


@dataclass(frozen=True)
class DownloadPlan:
    """What fetching a snapshot takes: bytes still missing from the cache, bytes free there."""

    repo_id: str
    revision: str
    commit: str
    total_bytes: int
    missing_bytes: int
    free_bytes: int
    cache_dir: Path
    patterns: tuple[str, ...] = SERVING_FILES

    @property
    def fits(self) -> bool:
        return self.missing_bytes <= self.free_bytes

    def describe(self) -> str:
        return (
            f"{self.repo_id}@{self.commit[:12]}: {_gb(self.total_bytes)} in all, "
            f"{_gb(self.missing_bytes)} to download, "
            f"{_gb(self.free_bytes)} free in {self.cache_dir}"
        )


def _gb(n: int) -> str:
    return f"{n / 1e9:.2f} GB"


def baseline_source(baseline: Baseline) -> tuple[str, str]:
    """The baseline's repo id and revision, or a :class:`ConfigError` saying what to set."""
    if baseline.repo_id is None:
        raise ConfigError(
            f"baseline {baseline.name!r} has no repo id to fetch",
            where=f"baselines/{baseline.name}.yaml: repo_id",
            hint="serve a local copy with --model-path",
        )
    return baseline.repo_id, baseline.revision or "main"


def _cache_dir() -> Path:
    path = Path(constants.HF_HUB_CACHE)
    path.mkdir(parents=True, exist_ok=True)
    return path


def plan_download(repo_id: str, revision: str) -> DownloadPlan:
    """Sizes of the serving files of ``repo_id`` at ``revision`` against the cache's free space."""
    with hub_errors(repo_id, "model", revision):
        api = HfApi()
        commit = api.model_info(repo_id, revision=revision).sha or revision
        every = [
            entry
            for entry in api.list_repo_tree(repo_id, revision=commit, recursive=True)
            if isinstance(entry, RepoFile)
        ]
    patterns = serving_patterns(entry.path for entry in every)
    files = [entry for entry in every if _matches(entry.path, patterns)]
    missing = sum(
        entry.size
        for entry in files
        if not isinstance(try_to_load_from_cache(repo_id, entry.path, revision=commit), str)
    )
    cache = _cache_dir()
    return DownloadPlan(
        repo_id,
        revision,
        commit,
        total_bytes=sum(entry.size for entry in files),
        missing_bytes=missing,
        free_bytes=shutil.disk_usage(cache).free,
        cache_dir=cache,
        patterns=patterns,
    )


def fetch_weights(repo_id: str, revision: str, patterns: tuple[str, ...]) -> Path:
    """Download (or find in the cache) the files matching ``patterns``; the snapshot folder."""
    with hub_errors(repo_id, "model", revision):
        return Path(
            snapshot_download(
                repo_id, repo_type="model", revision=revision, allow_patterns=list(patterns)
            )
        )


def check_space(plan: DownloadPlan) -> None:
    """A :class:`ServerError` when the missing files do not fit in the cache's free space."""
    if not plan.fits:
        raise ServerError(
            f"not enough disk space: {plan.describe()}",
            where=str(plan.cache_dir),
            hint="free space there, or point HF_HOME (or HF_HUB_CACHE) at a larger disk",
        )


def prefetch_baseline(baseline: Baseline, report: Callable[[str], None]) -> Path:
    """The baseline's weights at its pinned revision in the local cache; their folder.

    Online, the sizes are reported and checked against the free space first; with
    ``HF_HUB_OFFLINE=1`` the cached snapshot is used as it is.
    """
    repo_id, revision = baseline_source(baseline)
    if constants.is_offline_mode():
        with hub_errors(repo_id, "model", revision):
            cached = get_cached_repo_tree(repo_id, revision=revision)
        return fetch_weights(repo_id, revision, serving_patterns(f.path for f in cached))
    plan = plan_download(repo_id, revision)
    report(plan.describe())
    check_space(plan)
    return fetch_weights(repo_id, revision, plan.patterns)  # a branch name also updates refs/
