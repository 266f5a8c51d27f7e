"""Publish a leaderboard's results as a Hub dataset, its site as a Space, and pull them back.

The dataset holds ``README.md`` (the dataset card) and ``results/<run>/`` per run with exactly
what ``radrbench leaderboard build`` reads (``summary.json``, ``config.json``,
``outcomes.json``, ``judgments/*.json``) plus the run's ``provenance.json``. Those files hold
sample ids, per-sample outcomes and sub-scores, never images, questions, reports or model
output; every file is also scanned for secrets before anything is sent. Pulling the dataset
into an empty results folder and building it gives the same leaderboard.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from huggingface_hub import CommitOperationAdd, CommitOperationDelete, HfApi, snapshot_download

from radrbench import __version__
from radrbench.errors import DataError, RunError
from radrbench.hub.card import dataset_card, space_readme
from radrbench.hub.errors import hub_errors
from radrbench.hub.provenance import PROVENANCE_FILE, run_provenance
from radrbench.leaderboard.results import (
    CONFIG_FILE,
    JUDGMENTS_DIR,
    OUTCOMES_FILE,
    SUMMARY_FILE,
    Entry,
    load_results,
)

RESULTS_PREFIX = "results"
RUN_FILES = (SUMMARY_FILE, CONFIG_FILE, OUTCOMES_FILE)
_SECRET_NAME = re.compile(r"TOKEN|SECRET|PASSWORD|API_?KEY|ACCESS_?KEY", re.I)
_SECRET_SHAPES = {
    "a Hugging Face token": re.compile(rb"\bhf_[A-Za-z0-9]{30,}"),
    "an OpenAI-style API key": re.compile(rb"\bsk-[A-Za-z0-9_-]{20,}"),
    "a bearer token": re.compile(rb"Bearer\s+[A-Za-z0-9._~+/-]{20,}"),
}


@dataclass(frozen=True)
class Pushed:
    """What one push sent: the repo, its new commit, and every path in the upload."""

    repo_id: str
    repo_type: str
    commit: str
    url: str
    paths: tuple[str, ...]


def _run_files(entry: Entry) -> dict[str, bytes]:
    prefix = f"{RESULTS_PREFIX}/{entry.path.name}"
    files = {
        f"{prefix}/{name}": (entry.path / name).read_bytes()
        for name in RUN_FILES
        if (entry.path / name).is_file()
    }
    for path in sorted((entry.path / JUDGMENTS_DIR).glob("*.json")):
        files[f"{prefix}/{JUDGMENTS_DIR}/{path.name}"] = path.read_bytes()
    provenance = json.dumps(run_provenance(entry), indent=2, ensure_ascii=False) + "\n"
    files[f"{prefix}/{PROVENANCE_FILE}"] = provenance.encode()
    return files


def results_upload(results_dir: Path, repo_id: str) -> tuple[list[Entry], dict[str, bytes]]:
    """The runs of ``results_dir`` and the dataset's files (path in repo → content)."""
    entries = load_results(results_dir)
    if not entries:
        raise RunError(
            "no runs to push",
            where=str(results_dir),
            hint="add runs first: radrbench leaderboard add RUN_DIR... --results DIR",
        )
    files: dict[str, bytes] = {}
    for entry in entries:
        files.update(_run_files(entry))
    files["README.md"] = dataset_card(entries, repo_id).encode()
    check_upload(files)
    return entries, files


def check_upload(files: Mapping[str, bytes]) -> None:
    """Refuse an upload holding a secret of this environment or a known token shape."""
    secrets = {
        name: value.encode()
        for name, value in os.environ.items()
        if _SECRET_NAME.search(name) and len(value) >= 8
    }
    for path, content in files.items():
        found = [f"${name}" for name, value in secrets.items() if value in content]
        found += [kind for kind, shape in _SECRET_SHAPES.items() if shape.search(content)]
        if found:
            raise DataError(
                f"holds {', '.join(found)}; nothing was uploaded",
                where=path,
                hint="remove the secret from that file (keys belong in environment variables)",
            )


def _commit(
    api: HfApi,
    repo_id: str,
    repo_type: str,
    files: Mapping[str, bytes],
    *,
    replace: tuple[str, ...],
    private: bool,
    message: str,
    space_sdk: str | None = None,
) -> Pushed:
    """Create the repo if needed and commit ``files``; stale files under ``replace`` go."""
    with hub_errors(repo_id, repo_type):
        url = api.create_repo(
            repo_id, repo_type=repo_type, private=private, exist_ok=True, space_sdk=space_sdk
        )
        existing = api.list_repo_files(repo_id, repo_type=repo_type)
        stale = [
            path
            for path in existing
            if path not in files and any(PurePosixPath(path).is_relative_to(p) for p in replace)
        ]
        operations: list[CommitOperationAdd | CommitOperationDelete] = [
            CommitOperationDelete(path) for path in stale
        ]
        operations += [CommitOperationAdd(path, content) for path, content in files.items()]
        info = api.create_commit(repo_id, operations, repo_type=repo_type, commit_message=message)
    return Pushed(repo_id, repo_type, info.oid, str(url), tuple(files))


def push_results(results_dir: Path, repo_id: str, *, private: bool = False) -> Pushed:
    """Upload the leaderboard's runs as dataset ``repo_id`` (created when missing)."""
    entries, files = results_upload(results_dir, repo_id)
    replace = tuple(f"{RESULTS_PREFIX}/{entry.path.name}" for entry in entries)
    return _commit(
        HfApi(),
        repo_id,
        "dataset",
        files,
        replace=replace,
        private=private,
        message=f"radrbench {__version__}: {len(entries)} runs",
    )


def site_files(site_dir: Path) -> dict[str, bytes]:
    """Every file of a built site (path relative to it → content), scanned for secrets."""
    if not (site_dir / "index.html").is_file():
        raise DataError(
            "not a built leaderboard site (no index.html)",
            where=str(site_dir),
            hint="build it first: radrbench leaderboard build --out DIR",
        )
    files = {
        path.relative_to(site_dir).as_posix(): path.read_bytes()
        for path in sorted(site_dir.rglob("*"))
        if path.is_file() and not path.name.startswith(".")
    }
    check_upload(files)
    return files


def push_site(site_dir: Path, space_id: str, *, private: bool = False) -> Pushed:
    """Upload a built site as a static Space ``space_id`` (created when missing)."""
    files = site_files(site_dir)
    files["README.md"] = space_readme(space_id).encode()
    return _commit(
        HfApi(),
        space_id,
        "space",
        files,
        replace=("",),
        private=private,
        message=f"radrbench {__version__}: leaderboard site",
        space_sdk="static",
    )


def copy_site(site_dir: Path, folder: Path) -> list[str]:
    """Copy a built site into ``folder`` (e.g. a web server's or GitHub Pages' checkout)."""
    files = site_files(site_dir)
    for path, content in files.items():
        target = folder / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
    return sorted(files)


def pull_results(repo_id: str, results_dir: Path, revision: str = "main") -> tuple[str, list[str]]:
    """Download dataset ``repo_id`` and place its runs in ``results_dir``; the commit and runs."""
    with hub_errors(repo_id, "dataset", revision):
        folder = Path(
            snapshot_download(
                repo_id,
                repo_type="dataset",
                revision=revision,
                allow_patterns=[f"{RESULTS_PREFIX}/**", "README.md"],
            )
        )
    runs = sorted(
        path for path in (folder / RESULTS_PREFIX).glob("*") if (path / SUMMARY_FILE).is_file()
    )
    if not runs:
        raise DataError(
            f"holds no runs under {RESULTS_PREFIX}/",
            where=f"dataset {repo_id}@{revision}",
            hint="is it a dataset pushed by radrbench leaderboard push?",
        )
    results_dir.mkdir(parents=True, exist_ok=True)
    for run in runs:
        target = results_dir / run.name
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(run, target)  # the cache holds links to blobs: copy their content
    return folder.name, [run.name for run in runs]
