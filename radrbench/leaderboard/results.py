"""The leaderboard's results folder: what ``radrbench leaderboard add`` copies out of a run.

``RESULTS/<run>/`` holds what the leaderboard needs, and nothing it does not:

- ``summary.json``: the run's summary, verbatim (validated: :mod:`radrbench.leaderboard.summary`);
- ``config.json``: the run's resolved configuration, when the run has one;
- ``commands.json``: the ``radrbench eval``/``score`` command lines that made the run, when
  the run recorded them (``commands.jsonl``);
- ``outcomes.json``: per task, the sample ids and each sample's outcome (correct and parse
  failure for choice tasks; true/false positives and false negatives of the label set for
  ``multi_open``), taken from lm-eval's per-sample records of the run;
- ``judgments/<judge>.json``: per judge that scored the run, per task, the sample ids and their
  factuality, completeness and effectiveness (``null``: the judge failed on that sample).

The per-sample values let the leaderboard compare two runs on the same samples with a paired
bootstrap, and rank runs under every judge that scored them. ``add`` checks them against the
summary: a run whose records and summary disagree is refused, never placed.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from radrbench.errors import RunError
from radrbench.eval.commands import read_commands
from radrbench.leaderboard.summary import SUB_SCORES, RunSummary, parse_summary, read_summary
from radrbench.metrics.bootstrap import FloatArray

SUMMARY_FILE = "summary.json"
CONFIG_FILE = "config.json"
COMMANDS_FILE = "commands.json"
OUTCOMES_FILE = "outcomes.json"
JUDGMENTS_DIR = "judgments"
FORMAT = 1
_TOLERANCE = 1e-9


def slugify(text: str, fallback: str = "run") -> str:
    """A file-name-safe version of ``text`` (letters, digits, ``.``, ``_``, ``-``)."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.")
    return slug[:120] or fallback


def task_slug(task: str) -> str:
    """A file name for a task: the name itself when it is safe, else a slug and a hash."""
    if re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,120}", task):
        return task
    return f"{slugify(task, 'task')[:100]}-{hashlib.sha256(task.encode()).hexdigest()[:8]}"


@dataclass(frozen=True)
class TaskSamples:
    """Per-sample outcomes of one task: ``values`` is (n, 1) correct for choice tasks and
    (n, 3) true positives, false positives, false negatives for label sets."""

    ids: tuple[str, ...]
    kind: Literal["choice", "labels"]
    values: FloatArray


@dataclass(frozen=True)
class JudgeSamples:
    """One judge's per-sample sub-scores of a run: per task, ids and an (n, 3) array of
    factuality, completeness, effectiveness (NaN where the judge failed)."""

    spec: str
    version: str
    tasks: dict[str, tuple[tuple[str, ...], FloatArray]]

    @property
    def key(self) -> tuple[str, str]:
        return (self.spec, self.version)


@dataclass(frozen=True)
class Entry:
    """One run on the leaderboard."""

    slug: str
    path: Path  # the run's folder in the results folder
    summary: RunSummary
    config: dict[str, Any] | None
    outcomes: dict[str, TaskSamples]
    judgments: dict[tuple[str, str], JudgeSamples]

    @property
    def judge_key(self) -> tuple[str, str] | None:
        judge = self.summary.judge
        return (judge.spec, judge.version) if judge and self.summary.radrscore else None


# --- reading a run directory ------------------------------------------------------------


def _outcomes_from_records(run_dir: Path, summary: RunSummary, where: str) -> dict[str, Any]:
    from radrbench.eval.scoring import latest_sample_files

    tasks: dict[str, Any] = {}
    for path in latest_sample_files(run_dir):
        task = path.name.removeprefix("samples_").rsplit("_", 1)[0]
        ids: list[str] = []
        parse_failed: list[int] = []
        correct: list[int] = []
        counts: list[list[int]] = []
        exact: list[int] = []
        with path.open(encoding="utf-8") as handle:
            for number, line in enumerate(handle, 1):
                try:
                    record = json.loads(line)
                    ids.append(str(record["doc"]["id"]))
                    parse_failed.append(int(record.get("parse_failed", 0)))
                    if "accuracy" in record:
                        correct.append(int(record["accuracy"]))
                    elif "label_f1" in record:
                        gold = set(record["label_f1"]["gold"])
                        pred = set(record["label_f1"]["pred"])
                        counts.append([len(gold & pred), len(pred - gold), len(gold - pred)])
                        exact.append(int(record.get("exact_match", gold == pred)))
                    else:
                        raise KeyError("accuracy or label_f1")
                except (KeyError, TypeError, ValueError) as error:
                    raise RunError(
                        f"line {number}: not an lm-eval sample record of a radrbench task "
                        f"(missing {error})",
                        where=str(path),
                    ) from error
        entry: dict[str, Any] = {"ids": ids, "parse_failed": parse_failed}
        if counts and correct:
            raise RunError("mixes choice and label-set records", where=str(path))
        if counts:
            entry.update(
                tp=[c[0] for c in counts],
                fp=[c[1] for c in counts],
                fn=[c[2] for c in counts],
                exact=exact,
            )
        else:
            entry["correct"] = correct
        tasks[task] = entry
    for task, result in summary.tasks.items():
        if task not in tasks:
            raise RunError(
                f"field tasks.{task}: the run has no per-sample records of this task",
                where=where,
                hint="finish the run with 'radrbench eval --out DIR' (same options)",
            )
        if len(tasks[task]["ids"]) != result.n:
            raise RunError(
                f"field tasks.{task}.n: {result.n}, but the run's per-sample records hold "
                f"{len(tasks[task]['ids'])}",
                where=where,
                hint="the summary is not the one of these records; re-run 'radrbench eval'",
            )
    extra = sorted(set(tasks) - set(summary.tasks))
    if extra:
        raise RunError(f"field tasks: records of {extra[0]!r} but no result", where=where)
    return tasks


def _task_samples(entry: dict[str, Any]) -> TaskSamples:
    ids = tuple(str(i) for i in entry["ids"])
    if "correct" in entry:
        values = np.asarray(entry["correct"], dtype=np.float64).reshape(len(ids), 1)
        return TaskSamples(ids, "choice", values)
    columns = [entry["tp"], entry["fp"], entry["fn"]]
    return TaskSamples(ids, "labels", np.asarray(columns, dtype=np.float64).T.reshape(len(ids), 3))


def primary_value(samples: TaskSamples) -> float:
    """Accuracy, or micro label F1 (0 where undefined), of the samples."""
    sums = samples.values.sum(axis=0)
    if samples.kind == "choice":
        return float(sums[0] / len(samples.ids)) if len(samples.ids) else 0.0
    denominator = 2 * sums[0] + sums[1] + sums[2]
    return float(2 * sums[0] / denominator) if denominator > 0 else 0.0


def _check_outcomes(summary: RunSummary, outcomes: dict[str, TaskSamples], where: str) -> None:
    for task, result in summary.tasks.items():
        samples = outcomes[task]
        metric = "accuracy" if samples.kind == "choice" else "label_f1"
        expected = result.metrics.get(metric)
        if expected is None or expected.value is None:
            raise RunError(f"field tasks.{task}.metrics.{metric}: missing", where=where)
        found = primary_value(samples)
        if abs(found - expected.value) > _TOLERANCE:
            raise RunError(
                f"field tasks.{task}.metrics.{metric}: {expected.value:.6g}, but the run's "
                f"per-sample records give {found:.6g}",
                where=where,
                hint="the summary is not the one of these records; re-run 'radrbench eval'",
            )


def _judgments_from_file(path: Path) -> dict[str, Any] | None:
    """The compact form of ``judgments/<judge>.jsonl``; ``None`` when it has no rows."""
    tasks: dict[str, dict[str, list[Any]]] = {}
    judge: tuple[str, str] | None = None
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                this = (str(row["judge"]["spec"]), str(row["judge"]["version"]))
                task = tasks.setdefault(
                    str(row["task"]), {"ids": [], **{name: [] for name in SUB_SCORES}}
                )
                task["ids"].append(str(row["sample_id"]))
                for name in SUB_SCORES:
                    value = row[name]
                    task[name].append(None if value is None else float(value))
            except (KeyError, TypeError, ValueError) as error:
                raise RunError(
                    f"line {number}: not a judgment record (missing or bad {error})",
                    where=str(path),
                ) from error
            if judge is not None and this != judge:
                raise RunError(
                    f"line {number}: judgments of two judges in one file", where=str(path)
                )
            judge = this
    if judge is None:
        return None
    return {"spec": judge[0], "version": judge[1], "tasks": tasks}


def _judge_samples(payload: dict[str, Any]) -> JudgeSamples:
    tasks = {}
    for task, entry in payload["tasks"].items():
        ids = tuple(str(i) for i in entry["ids"])
        values = np.asarray(
            [[np.nan if v is None else v for v in entry[name]] for name in SUB_SCORES],
            dtype=np.float64,
        ).T.reshape(len(ids), 3)
        tasks[str(task)] = (ids, values)
    return JudgeSamples(str(payload["spec"]), str(payload["version"]), tasks)


def macro_means(
    values: FloatArray,
) -> tuple[float | None, float | None, float | None, float | None]:
    """Sub-score means over the samples where the judge did not fail, and their mean
    (RadRScore), as :func:`radrbench.metrics.radrscore.summarize` computes them."""
    means: list[float | None] = []
    for column in values.T:
        valid = column[~np.isnan(column)]
        means.append(float(valid.mean()) if len(valid) else None)
    parts = [m for m in means if m is not None]
    radrscore = sum(parts) / 3 if len(parts) == 3 else None
    return (radrscore, means[0], means[1], means[2])


def _check_judgments(summary: RunSummary, judge: JudgeSamples | None, where: str) -> None:
    if summary.radrscore is None or summary.radrscore.overall is None or summary.judge is None:
        return
    if judge is None or judge.key != (summary.judge.spec, summary.judge.version):
        raise RunError(
            f"field judge: no per-sample judgments of {summary.judge.spec} "
            f"(version {summary.judge.version}) in the run",
            where=where,
            hint=f"re-score it: radrbench score RUN --judge {summary.judge.spec}",
        )
    every = np.concatenate([values for _, values in judge.tasks.values()])
    found = macro_means(every)[0]
    expected = summary.radrscore.overall.radrscore.value
    if found != expected and (
        found is None or expected is None or abs(found - expected) > _TOLERANCE
    ):
        raise RunError(
            f"field radrscore.overall.radrscore: {expected}, but the run's judgments give {found}",
            where=where,
            hint=f"re-score it: radrbench score RUN --judge {summary.judge.spec}",
        )


@dataclass(frozen=True)
class PreparedRun:
    """A run directory read and checked, ready to be written into the results folder."""

    source: Path
    slug: str
    summary: RunSummary
    files: dict[str, Any]  # relative path -> JSON payload


def prepare_run(run_dir: Path) -> PreparedRun:
    """Read and check everything the leaderboard needs from a run directory."""
    if not run_dir.is_dir():
        raise RunError("not a run directory", where=str(run_dir))
    summary_path = run_dir / SUMMARY_FILE
    summary = read_summary(summary_path)
    where = str(summary_path)
    payload = json.loads(summary_path.read_text("utf-8"))
    if summary.failures.request_failures:
        raise RunError(
            f"field failures.request_failures: {summary.failures.request_failures} requests "
            "never got a response, so the run is unfinished",
            where=where,
            hint="finish it with 'radrbench eval --out DIR' (same options)",
        )
    outcomes_payload = _outcomes_from_records(run_dir, summary, where)
    outcomes = {task: _task_samples(entry) for task, entry in outcomes_payload.items()}
    _check_outcomes(summary, outcomes, where)
    files: dict[str, Any] = {
        SUMMARY_FILE: payload,
        OUTCOMES_FILE: {"format": FORMAT, "tasks": outcomes_payload},
    }
    config_path = run_dir / CONFIG_FILE
    if config_path.is_file():
        try:
            files[CONFIG_FILE] = json.loads(config_path.read_text("utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            raise RunError(f"cannot read it as JSON ({error})", where=str(config_path)) from error
    if commands := read_commands(run_dir):
        files[COMMANDS_FILE] = commands
    judge_of_record = None
    judgments_dir = run_dir / JUDGMENTS_DIR
    for path in sorted(judgments_dir.glob("*.jsonl")) if judgments_dir.is_dir() else []:
        compact = _judgments_from_file(path)
        if compact is None:
            continue
        judge = _judge_samples(compact)
        if summary.judge and judge.key == (summary.judge.spec, summary.judge.version):
            judge_of_record = judge
        files[f"{JUDGMENTS_DIR}/{path.stem}.json"] = {"format": FORMAT, **compact}
    _check_judgments(summary, judge_of_record, where)
    return PreparedRun(run_dir, slugify(summary.run_id), summary, files)


# --- the results folder -----------------------------------------------------------------


def _same_run(a: RunSummary, b: RunSummary) -> bool:
    return (a.run_id, a.model.name, a.benchmark.name, a.benchmark.version) == (
        b.run_id,
        b.model.name,
        b.benchmark.name,
        b.benchmark.version,
    )


def _write_json(path: Path, payload: Any) -> None:
    """Summary and configuration indented as a person reads them; per-sample files compact."""
    path.parent.mkdir(parents=True, exist_ok=True)
    readable = path.name in (SUMMARY_FILE, CONFIG_FILE)
    text = json.dumps(
        payload,
        indent=2 if readable else None,
        separators=None if readable else (",", ":"),
        ensure_ascii=False,
    )
    path.write_text(text + "\n", "utf-8")


@dataclass(frozen=True)
class AddedRun:
    slug: str
    path: Path
    model: str
    updated: bool


def add_runs(run_dirs: Sequence[Path], results_dir: Path) -> list[AddedRun]:
    """Check every run, then copy what the leaderboard needs into ``results_dir/<run>/``.

    Nothing is written unless every run can be placed. A run already in the folder (same run
    id, model and benchmark) is replaced by its new state, e.g. after re-scoring; another run
    with the same name is refused.
    """
    prepared = [prepare_run(run_dir) for run_dir in run_dirs]
    seen: dict[str, Path] = {}
    for run in prepared:
        if run.slug in seen:
            raise RunError(
                f"two runs named {run.slug!r} ({seen[run.slug]} and {run.source})",
                where=str(run.source),
                hint="give the run directories different names",
            )
        seen[run.slug] = run.source
        target = results_dir / run.slug
        if (target / SUMMARY_FILE).is_file():
            try:
                existing = read_summary(target / SUMMARY_FILE)
            except RunError:
                existing = None
            if existing is None or not _same_run(existing, run.summary):
                raise RunError(
                    f"the leaderboard already holds another run named {run.slug!r}",
                    where=str(target),
                    hint="rename the run directory, or remove the old one from the results",
                )
    added = []
    for run in prepared:
        target = results_dir / run.slug
        updated = target.exists()
        staging = results_dir / f".{run.slug}.tmp"
        shutil.rmtree(staging, ignore_errors=True)
        for name, payload in run.files.items():
            _write_json(staging / name, payload)
        if updated:
            old = results_dir / f".{run.slug}.old"
            shutil.rmtree(old, ignore_errors=True)
            target.replace(old)
            staging.replace(target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            staging.replace(target)
        added.append(AddedRun(run.slug, target, run.summary.model.name, updated))
    return added


def load_entry(run_dir: Path) -> Entry:
    """One run of the results folder."""
    summary_path = run_dir / SUMMARY_FILE
    try:
        payload = json.loads(summary_path.read_text("utf-8"))
        summary = parse_summary(payload, str(summary_path))
        config = None
        if (run_dir / CONFIG_FILE).is_file():
            config = json.loads((run_dir / CONFIG_FILE).read_text("utf-8"))
        outcomes_payload = json.loads((run_dir / OUTCOMES_FILE).read_text("utf-8"))
        outcomes = {
            str(task): _task_samples(entry) for task, entry in outcomes_payload["tasks"].items()
        }
        judgments = {}
        for path in sorted((run_dir / JUDGMENTS_DIR).glob("*.json")):
            judge = _judge_samples(json.loads(path.read_text("utf-8")))
            judgments[judge.key] = judge
    except RunError:
        raise
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as error:
        raise RunError(
            f"unreadable leaderboard entry ({type(error).__name__}: {error})",
            where=str(run_dir),
            hint="add the run again with 'radrbench leaderboard add RUN_DIR'",
        ) from error
    return Entry(slugify(run_dir.name), run_dir, summary, config, outcomes, judgments)


def load_results(results_dir: Path) -> list[Entry]:
    """Every run of the results folder, by name."""
    if not results_dir.is_dir():
        raise RunError(
            "no leaderboard results folder here",
            where=str(results_dir),
            hint="add runs first: radrbench leaderboard add RUN_DIR... --results DIR",
        )
    entries = [
        load_entry(path)
        for path in sorted(results_dir.iterdir())
        if path.is_dir() and not path.name.startswith(".") and (path / SUMMARY_FILE).is_file()
    ]
    seen: set[str] = set()
    for entry in entries:
        if entry.slug in seen:
            raise RunError(
                f"two runs whose names give the same page name {entry.slug!r}",
                where=str(results_dir),
                hint="rename one of the folders (letters, digits, '.', '_', '-')",
            )
        seen.add(entry.slug)
    return entries
