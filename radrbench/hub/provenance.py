"""Where a leaderboard's numbers came from, one record per run (``provenance.json``).

A record holds the radrbench and lm-eval versions, the benchmark's name, version and source
(for a benchmark fetched from the Hub: repo, requested revision and commit), the judge spec
and its prompt or lexicon version, and the command lines of the run: as recorded by the run
(``commands.jsonl``, copied by ``leaderboard add``), or else rebuilt from its ``config.json``.
``radrbench leaderboard push`` stores the records beside the runs in the dataset (so a pulled
copy keeps them), and ``radrbench leaderboard build`` writes them into the site.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

from radrbench import __version__
from radrbench.data.benchmark import MANIFEST_FILE
from radrbench.leaderboard.results import COMMANDS_FILE, Entry

PROVENANCE_FILE = "provenance.json"


def _benchmark_source(data_dir: str | None) -> dict[str, Any] | None:
    """The generator section of the benchmark's manifest, when the benchmark is still there."""
    if not data_dir or not (Path(data_dir) / MANIFEST_FILE).is_file():
        return None
    manifest = json.loads((Path(data_dir) / MANIFEST_FILE).read_text("utf-8"))
    generator: dict[str, Any] = manifest.get("generator") or {}
    return generator


def eval_command(config: dict[str, Any]) -> str | None:
    """The ``radrbench eval`` command line equivalent to a resolved run configuration."""
    model = config.get("model")
    if not isinstance(model, dict):
        return None
    args = ["radrbench", "eval"]
    if model.get("baseline"):
        args += ["--baseline", str(model["baseline"])]
    elif model.get("kind") == "hf":
        args += ["--hf", str(model.get("path"))]
    else:
        args += ["--endpoint", str(model.get("base_url")), "--model", str(model.get("name"))]
    options = {
        "--tasks": ",".join(config.get("tasks") or []) or None,
        "--data": config.get("data_dir"),
        "--limit": config.get("limit"),
        "--prompt-profile": config.get("prompt_profile"),
        "--max-tokens": config.get("max_tokens"),
        "--seed": config.get("seed"),
    }
    for flag, value in options.items():
        if value is not None:
            args += [flag, str(value)]
    return shlex.join(args)


def run_provenance(entry: Entry) -> dict[str, Any]:
    """The provenance record of one leaderboard run (a stored one wins when present)."""
    stored = entry.path / PROVENANCE_FILE
    if stored.is_file():
        record: dict[str, Any] = json.loads(stored.read_text("utf-8"))
        return record
    s = entry.summary
    raw = json.loads((entry.path / "summary.json").read_text("utf-8"))
    data_dir = raw.get("benchmark", {}).get("data_dir")
    recorded = entry.path / COMMANDS_FILE
    if recorded.is_file():
        commands: list[str] = json.loads(recorded.read_text("utf-8"))
        note = "as run (the run's commands.jsonl)"
    else:
        commands = [command] if entry.config and (command := eval_command(entry.config)) else []
        if s.judge is not None:
            commands.append(shlex.join(["radrbench", "score", s.run_id, "--judge", s.judge.spec]))
        note = "rebuilt from the run's config.json (the run recorded no command lines)"
    return {
        "run": entry.path.name,
        "model": s.model.name,
        "radrbench_version": s.radrbench_version,
        "lm_eval_version": s.lm_eval_version,
        "benchmark": {
            "name": s.benchmark.name,
            "version": s.benchmark.version,
            "task_hashes": s.benchmark.task_hashes,
            "source": _benchmark_source(data_dir),
        },
        "judge": None if s.judge is None else {"spec": s.judge.spec, "version": s.judge.version},
        "judged_by": [
            {"spec": spec, "version": version} for spec, version in sorted(entry.judgments)
        ],
        "commands": commands,
        "commands_note": note,
    }


def leaderboard_provenance(entries: list[Entry]) -> dict[str, Any]:
    """The provenance of a whole leaderboard: who built it and every run's record."""
    return {
        "built_with": {"radrbench_version": __version__},
        "runs": [run_provenance(entry) for entry in entries],
    }
