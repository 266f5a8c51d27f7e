"""``radrbench score``: the judging stage of :mod:`radrbench.metrics.judging` on a run.

``score_run`` reads the outputs a run generated (lm-eval's ``samples_*.jsonl``), judges
every sample that has a reference chain and report, writes per-sample judgments to
``judgments/<judge>.jsonl`` (findings, recall/consistency flags and step labels, so a person
can audit any score) and records RadRScore with bootstrap CIs in ``summary.json``. Judge
replies are cached in ``judge_cache.sqlite`` in the run directory, so re-scoring an
unchanged run makes no judge calls.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from radrbench.errors import RunError
from radrbench.eval.summary import generation_records
from radrbench.metrics.judges.cache import CACHE_FILE
from radrbench.metrics.judging import Record, judge_cached, radrscore_summary
from radrbench.metrics.radrscore import SampleScore

JUDGMENTS_DIR = "judgments"


def latest_sample_files(run_dir: Path) -> list[Path]:
    """lm-eval's per-task sample files of the most recent evaluation in the run."""
    files = sorted(run_dir.glob("samples_*.jsonl"))
    if not files:
        raise RunError(
            "no generated samples in this run directory",
            where=str(run_dir),
            hint="run 'radrbench eval --out DIR' first (or again, to finish it)",
        )
    stamp = re.compile(r"_(\d{4}-\d\d-\d\dT[\d.-]+)\.jsonl$")
    latest = max(m[1] for f in files if (m := stamp.search(f.name)))
    return [f for f in files if f.name.endswith(f"_{latest}.jsonl")]


def read_records(run_dir: Path) -> list[Record]:
    """(task, sample, output) of every generated sample, ordered by task and doc id."""
    by_task: dict[str, list[dict[str, Any]]] = {}
    for path in latest_sample_files(run_dir):
        task = path.name.removeprefix("samples_").rsplit("_", 1)[0]
        with path.open(encoding="utf-8") as handle:
            by_task[task] = [json.loads(line) for line in handle]
    return generation_records(by_task)


def judge_slug(spec: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", spec.split("@", 1)[0]).strip("_") or "judge"


def write_judgments(
    path: Path, records: Sequence[Record], scores: Sequence[SampleScore | None]
) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".jsonl.tmp")
    with tmp.open("w", encoding="utf-8") as handle:
        for (task, _, _), score in zip(records, scores, strict=True):
            if score is None:
                continue
            row = {"task": task, **score.model_dump(mode="json"), "radrscore": score.radrscore}
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    tmp.replace(path)


def score_run(
    run_dir: Path,
    judge_spec: str | None,
    *,
    concurrency: int = 16,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Judge a run's outputs, write judgments and update ``summary.json``; return the summary."""
    from radrbench.eval.runner import SUMMARY_FILE, write_json

    summary_path = run_dir / SUMMARY_FILE
    if not summary_path.is_file():
        raise RunError(
            "the run has no summary.json yet",
            where=str(run_dir),
            hint="finish it with 'radrbench eval --out DIR' (same options) first",
        )
    summary: dict[str, Any] = json.loads(summary_path.read_text("utf-8"))
    records = read_records(run_dir)
    judged = judge_cached(
        judge_spec,
        records,
        run_dir / CACHE_FILE,
        concurrency=concurrency,
        progress=(lambda done: progress(done, len(records))) if progress else None,
    )
    scores = judged.scores
    slug = judge_slug(judged.spec)
    write_judgments(run_dir / JUDGMENTS_DIR / f"{slug}.jsonl", records, scores)
    result = radrscore_summary(records, scores)
    summary["radrscore"] = result
    summary["judge"] = {
        "spec": judged.spec,
        "version": judged.version,
        "judgments": f"{JUDGMENTS_DIR}/{slug}.jsonl",
        "cache": CACHE_FILE,
    }
    summary["failures"]["judge_failures"] = (result["overall"] or {}).get("judge_failures", 0)
    summary.setdefault("run", {})["judge_calls"] = {
        "hits": judged.counters.hits,
        "misses": judged.counters.misses,
    }
    write_json(summary_path, summary)
    return summary
