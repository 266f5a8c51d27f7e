"""``radrbench data fetch``: the official annotations from the Hub, imported as a benchmark.

The annotation files are downloaded into the Hugging Face cache at a revision resolved to a
commit hash (so ``HF_HUB_OFFLINE=1`` later finds them, and an interrupted download resumes),
then :func:`radrbench.data.official.import_official` re-roots their image paths under the
user's own image copies. The manifest records the repo, the requested revision and the commit.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from pathlib import Path

from huggingface_hub import snapshot_download

from radrbench.data.benchmark import MANIFEST_FILE, read_manifest
from radrbench.data.official import import_official
from radrbench.data.schema import Sample
from radrbench.errors import DataError
from radrbench.hub.errors import hub_errors

OFFICIAL_REPO = "byrLLCC/RadRBench-CXR"
DEFAULT_REVISION = "main"
# The test files of every task; the training files live under reason_train/.
DEFAULT_FILES = ("*test*.json",)


@dataclass(frozen=True)
class Snapshot:
    """Files of one repo at one commit, in the local Hugging Face cache."""

    repo_id: str
    revision: str
    commit: str
    folder: Path
    files: tuple[Path, ...]


def download_annotations(
    repo_id: str = OFFICIAL_REPO,
    revision: str = DEFAULT_REVISION,
    patterns: tuple[str, ...] = DEFAULT_FILES,
) -> Snapshot:
    """The JSON files of dataset ``repo_id`` at ``revision`` that match ``patterns``."""
    with hub_errors(repo_id, "dataset", revision):
        folder = Path(
            snapshot_download(
                repo_id, repo_type="dataset", revision=revision, allow_patterns=list(patterns)
            )
        )
    files = tuple(
        path
        for path in sorted(folder.rglob("*.json"))
        if any(fnmatch.fnmatch(path.relative_to(folder).as_posix(), p) for p in patterns)
    )
    if not files:
        raise DataError(
            f"no annotation files match {', '.join(patterns)}",
            where=f"dataset {repo_id}@{revision}",
            hint="pass --files with a pattern of the repo's JSON files, e.g. 'reason_train/*.json'",
        )
    # snapshot_download answers with …/snapshots/<commit hash>.
    return Snapshot(repo_id, revision, folder.name, folder, files)


def fetch_benchmark(
    out_dir: Path,
    image_root: Path,
    *,
    repo_id: str = OFFICIAL_REPO,
    revision: str = DEFAULT_REVISION,
    patterns: tuple[str, ...] = DEFAULT_FILES,
    skip_missing: bool = False,
) -> tuple[Snapshot, list[Sample]]:
    """Download the annotations and import them into the benchmark directory ``out_dir``."""
    snapshot = download_annotations(repo_id, revision, patterns)
    samples = import_official(snapshot.files, image_root, out_dir, skip_missing=skip_missing)
    manifest = read_manifest(out_dir)
    hub = {
        "repo_id": repo_id,
        "repo_type": "dataset",
        "revision": revision,
        "commit": snapshot.commit,
        "files": [path.relative_to(snapshot.folder).as_posix() for path in snapshot.files],
    }
    updated = manifest.model_copy(update={"generator": {**manifest.generator, "hub": hub}})
    (out_dir / MANIFEST_FILE).write_text(updated.model_dump_json(indent=2) + "\n", "utf-8")
    return snapshot, samples
