"""Score predictions made elsewhere: ``radrbench eval --predictions FILE_OR_DIR --model NAME``.

Writes the same run directory as a live run (lm-eval-style ``samples_<task>_<time>.jsonl``,
``summary.json``, then the judging stage), so ``radrbench score`` and ``radrbench leaderboard
add`` take it like any other run. Two input formats, a file or a folder of them:

- **radrbench JSONL** (``*.jsonl``): one ``{"id": SAMPLE_ID, "output": TEXT}`` per line, matched
  to the samples of a benchmark directory (``--data``, default the demo set). Every test sample
  of a task that has predictions is scored: one without a prediction counts as an empty
  output (wrong, and a parse failure), so a partial file cannot look better than it is.
- **The official ChestX-Reasoner result files** (``*.json``): a JSON list per test file, named
  like ``mimic_binary_test_option.json``, whose items carry ``item_id``, ``question`` (with its
  ``Options:`` block), ``answer``, ``answer_content``, ``image_path``, ``dataset_name`` and
  ``pred`` (the model's raw output). Items are read with the official importer's conversion,
  so their sample ids are the ids ``radrbench data import-official`` gives: with ``--data``
  (an imported benchmark) they are matched to its samples; without it the items themselves
  are the samples. Reasoning files (``<task>_evaluation_res.json``) also carry
  ``reason_steps`` and ``original_report``, so RadRScore is computed from them with no
  benchmark directory at all.

Records that cannot be read, matched or placed are counted and listed (printed, in
``summary.json`` under ``run.predictions`` and in full in ``RUN/predictions_report.json``),
never dropped silently.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from pydantic import ValidationError

from radrbench.data.benchmark import load_samples, read_manifest, sample_to_row
from radrbench.data.official import (
    OFFICIAL_NAME,
    OFFICIAL_VERSION,
    ImageResolver,
    _convert_item,
)
from radrbench.data.schema import Sample
from radrbench.errors import ConfigError, DataError, RunError
from radrbench.eval.summary import (
    BenchmarkInfo,
    Failures,
    ModelInfo,
    Summary,
    Usage,
    task_results,
)
from radrbench.metrics.outcome import score_outcome
from radrbench.tasks.catalog import TASKS

CONFIG_FILE = "config.json"
REPORT_FILE = "predictions_report.json"
KIND = "predictions"
_STAMP = "%Y-%m-%dT%H-%M-%S.%f"
_TASK_OF = {(spec.source, spec.family): name for name, spec in TASKS.items()}


@dataclass
class PredictionReport:
    """What happened to every record read."""

    files: list[str] = field(default_factory=list)
    records: int = 0
    scored: int = 0
    unreadable: list[str] = field(default_factory=list)  # "file:where: why"
    unmatched: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # sample ids scored as an empty output

    def counts(self) -> dict[str, int]:
        return {
            "records": self.records,
            "scored": self.scored,
            "unreadable": len(self.unreadable),
            "unmatched": len(self.unmatched),
            "duplicates": len(self.duplicates),
            "missing": len(self.missing),
        }

    def line(self) -> str:
        c = self.counts()
        return (
            f"{c['records']} prediction records: {c['scored']} scored, {c['unreadable']} "
            f"unreadable, {c['unmatched']} unmatched, {c['duplicates']} duplicates; "
            f"{c['missing']} samples without a prediction scored as empty outputs"
        )


def prediction_files(source: Path) -> list[Path]:
    if source.is_file():
        return [source]
    if source.is_dir():
        files = sorted(p for p in source.iterdir() if p.suffix in (".jsonl", ".json"))
        if files:
            return files
        raise DataError("no *.jsonl or *.json prediction files in this folder", where=str(source))
    raise DataError("no such file or folder", where=str(source))


# --- radrbench JSONL ---------------------------------------------------------------------


def _jsonl_records(path: Path, report: PredictionReport) -> Iterator[tuple[str, str, str]]:
    """(where, sample id, output) of each readable line."""
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            report.records += 1
            where = f"{path.name}:{number}"
            try:
                row = json.loads(line)
                sample_id, output = row["id"], row["output"]
            except (json.JSONDecodeError, KeyError, TypeError) as error:
                report.unreadable.append(f"{where}: not a JSON object with id and output ({error})")
                continue
            if not isinstance(output, str) or not isinstance(sample_id, str | int):
                report.unreadable.append(f"{where}: id must be a string and output a string")
                continue
            yield where, str(sample_id), output


# --- the official result files -----------------------------------------------------------


class _KeepPaths(ImageResolver):
    """Official image paths kept as they are (images are not needed to score outputs)."""

    def __init__(self) -> None:
        self.root = Path(".")

    def resolve(self, official: str) -> str | None:
        return PurePosixPath(official.replace("\\", "/").lstrip("/")).as_posix() or None


def _official_records(path: Path, report: PredictionReport) -> Iterator[tuple[str, Sample, str]]:
    """(where, sample built from the item, output) of each readable item."""
    try:
        items = json.loads(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        report.records += 1
        report.unreadable.append(f"{path.name}: not valid JSON ({error})")
        return
    if not isinstance(items, list):
        report.records += 1
        report.unreadable.append(f"{path.name}: expected a JSON list of result items")
        return
    for index, item in enumerate(items):
        report.records += 1
        where = f"{path.name}[{index}]"
        if not isinstance(item, dict) or not isinstance(item.get("pred"), str | list):
            report.unreadable.append(f"{where}: not a result item with a 'pred'")
            continue
        pred = item["pred"]
        output = pred if isinstance(pred, str) else "\n".join(str(part) for part in pred)
        try:
            record = _convert_item(item, path, index, _KeepPaths(), [])
            if record is None:
                raise DataError("no image paths")
            record["split"] = "test"
            sample = Sample.model_validate(record)
        except (DataError, ValidationError, TypeError, ValueError) as error:
            message = error.render() if isinstance(error, DataError) else str(error).split("\n")[0]
            report.unreadable.append(f"{where}: {message}")
            continue
        yield where, sample, output


# --- collecting ----------------------------------------------------------------------------


@dataclass
class Collected:
    """Scored records per task, and the benchmark they belong to."""

    records: list[tuple[str, Sample, str]]  # task, sample, output
    benchmark: tuple[str, str, str]  # name, version, data dir (or the predictions' source)
    report: PredictionReport


def _task_of(sample: Sample) -> str | None:
    return _TASK_OF.get((sample.source, sample.task))


def collect(source: Path, data_dir: Path | None, limit: int | None) -> Collected:
    """Read, match and complete the predictions (see the module docstring)."""
    report = PredictionReport()
    files = prediction_files(source)
    report.files = [str(path) for path in files]
    benchmark: dict[str, Sample] | None = None
    identity = (OFFICIAL_NAME, OFFICIAL_VERSION, str(source))
    needs_benchmark = any(path.suffix == ".jsonl" for path in files)
    if data_dir is None and needs_benchmark:
        from radrbench.tasks.data import resolve_data_dir

        data_dir = resolve_data_dir(None, "phantom")
    if data_dir is not None:
        manifest = read_manifest(data_dir)
        benchmark = {s.id: s for s in load_samples(data_dir, "test")}
        identity = (manifest.name, manifest.version, str(data_dir))
    chosen: dict[str, tuple[str, Sample, str]] = {}  # sample id -> (where, sample, output)

    def place(where: str, sample_id: str, sample: Sample | None, output: str) -> None:
        if benchmark is not None:
            known = benchmark.get(sample_id)
            if known is None:
                report.unmatched.append(
                    f"{where}: sample {sample_id!r} is not a test sample of {identity[2]}"
                )
                return
            sample = known  # the benchmark's sample is the reference
        assert sample is not None
        if _task_of(sample) is None:
            report.unmatched.append(
                f"{where}: no radrbench task reads {sample.source} {sample.task} samples"
            )
            return
        previous = chosen.get(sample_id)
        if previous is not None:
            if previous[2] == output:  # the same prediction twice (task and reasoning file)
                if sample.has_reasoning_reference and not previous[1].has_reasoning_reference:
                    chosen[sample_id] = (previous[0], sample, output)
                return
            report.duplicates.append(
                f"{where}: another prediction for {sample_id!r} (the one in {previous[0]} is kept)"
            )
            return
        chosen[sample_id] = (where, sample, output)

    for path in files:
        if path.suffix == ".jsonl":
            for where, sample_id, output in _jsonl_records(path, report):
                place(where, sample_id, None, output)
        else:
            for where, sample, output in _official_records(path, report):
                place(where, sample.id, sample, output)
    records: list[tuple[str, Sample, str]] = []
    by_task: dict[str, dict[str, tuple[Sample, str]]] = {}
    for _, sample, output in chosen.values():
        task = _task_of(sample)
        assert task is not None
        by_task.setdefault(task, {})[sample.id] = (sample, output)
    for task in sorted(by_task):
        given = by_task[task]
        if benchmark is not None:
            spec = TASKS[task]
            ordered = [
                s for s in benchmark.values() if s.source == spec.source and s.task == spec.family
            ]
            if limit is not None:
                ordered = ordered[:limit]
            outside = [sid for sid in given if sid not in {s.id for s in ordered}]
            for sample_id in outside:  # beyond --limit
                report.unmatched.append(f"sample {sample_id!r}: beyond --limit {limit} of {task}")
            for sample in ordered:
                if sample.id in given:
                    records.append((task, sample, given[sample.id][1]))
                else:
                    report.missing.append(sample.id)
                    records.append((task, sample, ""))
        else:
            items = list(given.values())[:limit] if limit is not None else list(given.values())
            records += [(task, sample, output) for sample, output in items]
    without = set(report.missing)
    report.scored = sum(1 for _, sample, _ in records if sample.id not in without)
    if not records:
        raise DataError(
            f"no prediction could be scored ({report.line()})",
            where=str(source),
            hint="; ".join((report.unreadable + report.unmatched)[:3]) or None,
        )
    return Collected(records, identity, report)


# --- the run directory ---------------------------------------------------------------------


def _prepare(run_dir: Path, config: dict[str, Any]) -> None:
    if (run_dir / "requests.jsonl").exists():
        raise RunError(
            "this run directory holds a live run, not scored predictions",
            where=str(run_dir),
            hint="choose another --out",
        )
    existing = run_dir / CONFIG_FILE
    if existing.is_file():
        previous = json.loads(existing.read_text("utf-8"))
        if previous != config:
            raise RunError(
                "this run directory holds other predictions or options",
                where=str(run_dir),
                hint="choose another --out, or the same options as before",
            )
    run_dir.mkdir(parents=True, exist_ok=True)
    for old in run_dir.glob("samples_*.jsonl"):
        old.unlink()


def write_run(
    source: Path,
    run_dir: Path,
    *,
    model: str,
    data_dir: Path | None = None,
    limit: int | None = None,
    prompt_profile: str = "unknown",
) -> tuple[Summary, PredictionReport]:
    """Score the predictions and write the run directory (without judging)."""
    from radrbench.eval.runner import SUMMARY_FILE, write_json
    from radrbench.eval.summary import _lm_eval_version

    collected = collect(source, data_dir, limit)
    config = {
        "model": {"kind": KIND, "name": model},
        "predictions": str(source.resolve()),
        "data_dir": str(data_dir.resolve()) if data_dir else None,
        "limit": limit,
        "prompt_profile": prompt_profile,
    }
    _prepare(run_dir, config)
    write_json(run_dir / CONFIG_FILE, config)
    stamp = dt.datetime.now().strftime(_STAMP)
    scored = []
    per_task: dict[str, list[dict[str, Any]]] = {}
    for task, sample, output in collected.records:
        score = score_outcome(sample, output)
        scored.append((task, sample, score))
        rows = per_task.setdefault(task, [])
        rows.append(
            {
                "doc_id": len(rows),
                "doc": sample_to_row(sample),
                "target": sample.answer,
                "resps": [[output]],
                "filtered_resps": [output],
                "filter": "none",
                "metrics": [name for name in score.items() if name != "parse_failed"],
                **score.items(),
            }
        )
    for task, rows in per_task.items():
        with (run_dir / f"samples_{task}_{stamp}.jsonl").open("w", encoding="utf-8") as handle:
            for row in rows:
                handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    outcome, tasks = task_results(scored)
    report = collected.report
    name, version, data = collected.benchmark
    summary = Summary(
        run_id=run_dir.name,
        lm_eval_version=_lm_eval_version(),
        model=ModelInfo(name=model, kind=KIND, prompt_profile=prompt_profile),
        benchmark=BenchmarkInfo(
            name=name, version=version, data_dir=data, n_samples=len(scored), limit=limit
        ),
        tasks=tasks,
        outcome=outcome,
        failures=Failures(parse_failures=outcome.overall.parse_failed),
        usage=Usage(requests=len(scored)),
        run={
            "predictions": {"source": str(source), **report.counts()},
            "finished_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        },
    )
    write_json(run_dir / SUMMARY_FILE, summary.model_dump(mode="json"))
    write_json(
        run_dir / REPORT_FILE,
        {
            "files": report.files,
            **report.counts(),
            "unreadable": report.unreadable,
            "unmatched": report.unmatched,
            "duplicates": report.duplicates,
            "missing": report.missing,
        },
    )
    return summary, report


def check_options(conflicting: Mapping[str, object], model: str | None) -> str:
    """The model name for --predictions; other model options are refused."""
    given = [name for name, value in conflicting.items() if value]
    if given:
        raise ConfigError(
            f"--predictions scores outputs made elsewhere; {', '.join(given)} cannot go with it",
        )
    if not model or not re.search(r"\S", model):
        raise ConfigError("--predictions needs --model NAME (the name the leaderboard shows)")
    return model
