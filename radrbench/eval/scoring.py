"""The judging stage: RadRScore of a finished run's outputs, with any judge.

``score_run`` reads the outputs a run generated (lm-eval's ``samples_*.jsonl``), judges
every sample that has a reference chain and report, writes per-sample judgments to
``judgments/<judge>.jsonl`` (findings, recall/consistency flags and step labels, so a person
can audit any score) and records RadRScore with bootstrap CIs in ``summary.json``. Judge
replies are cached in ``judge_cache.sqlite`` in the run directory, so re-scoring an
unchanged run makes no judge calls.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from radrbench.data.schema import Sample
from radrbench.errors import RunError
from radrbench.eval.summary import generation_records
from radrbench.metrics.bootstrap import FloatArray, bootstrap_interval, safe_ratio
from radrbench.metrics.judges import get_judge
from radrbench.metrics.judges.base import Judge
from radrbench.metrics.judges.cache import CACHE_FILE, CachedJudge, JudgeCache
from radrbench.metrics.radrscore import (
    SUB_SCORES,
    ReferenceCache,
    SampleScore,
    score_sample,
    summarize,
)

JUDGMENTS_DIR = "judgments"
Record = tuple[str, Sample, str]  # task, sample, model output


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


async def judge_records(
    judge: Judge,
    records: Sequence[Record],
    *,
    concurrency: int = 16,
    progress: Callable[[int], None] | None = None,
) -> list[SampleScore | None]:
    """RadRScore per record (``None`` where the sample has no reference), in order."""
    references = ReferenceCache()
    limit = asyncio.Semaphore(concurrency)
    done = 0

    async def one(record: Record) -> SampleScore | None:
        nonlocal done
        async with limit:
            score = await score_sample(judge, record[1], record[2], references)
        done += 1
        if progress is not None:
            progress(done)
        return score

    return list(await asyncio.gather(*(one(record) for record in records)))


def _columns(scores: Sequence[SampleScore]) -> FloatArray:
    """Per sample: value and validity of each sub-score (a failure is value 0, invalid)."""
    rows = []
    for score in scores:
        row: list[float] = []
        for name in SUB_SCORES:
            value = getattr(score, name)
            row += [0.0 if value is None else float(value), 0.0 if value is None else 1.0]
        rows.append(row)
    return np.asarray(rows, dtype=np.float64)


def _means(sums: FloatArray) -> FloatArray:
    """Sub-score means (columns 0..2) and RadRScore (column 3) from column sums."""
    means = np.stack([safe_ratio(sums[:, 2 * i], sums[:, 2 * i + 1]) for i in range(3)], axis=1)
    return np.concatenate([means, means.mean(axis=1, keepdims=True)], axis=1)


def _column_of_means(index: int) -> Callable[[FloatArray], FloatArray]:
    def statistic(sums: FloatArray) -> FloatArray:
        return _means(sums)[:, index]

    return statistic


def radrscore_group(scores: Sequence[SampleScore], *, resamples: int, seed: int) -> dict[str, Any]:
    """Macro means of the sub-scores and RadRScore (:func:`summarize`), with bootstrap CIs,
    n and judge failures."""
    point = summarize(scores)
    data = _columns(scores)

    def estimate(value: float | None, n: int, index: int) -> dict[str, Any]:
        if value is None:
            return {"value": None, "ci_low": None, "ci_high": None, "n": n}
        low, high = bootstrap_interval(
            data, _column_of_means(index), resamples=resamples, seed=seed
        )
        return {"value": value, "ci_low": low, "ci_high": high, "n": n}

    parts = [getattr(point, name) for name in SUB_SCORES]
    result: dict[str, Any] = {"n": len(scores)}
    for index, (name, part) in enumerate(zip(SUB_SCORES, parts, strict=True)):
        result[name] = estimate(part.mean, part.n, index)
    result["radrscore"] = estimate(point.radrscore, min(part.n for part in parts), 3)
    result["judge_failures"] = sum(1 for s in scores if s.failures)
    return result


def radrscore_summary(
    records: Sequence[Record],
    scores: Sequence[SampleScore | None],
    *,
    resamples: int = 1000,
    seed: int = 0,
) -> dict[str, Any]:
    """RadRScore per task and overall (samples without references are left out)."""
    by_task: dict[str, list[SampleScore]] = defaultdict(list)
    for (task, _, _), score in zip(records, scores, strict=True):
        if score is not None:
            by_task[task].append(score)
    every = [score for group in by_task.values() for score in group]
    if not every:
        return {"overall": None, "by_task": {}}
    return {
        "overall": radrscore_group(every, resamples=resamples, seed=seed),
        "by_task": {
            task: radrscore_group(group, resamples=resamples, seed=seed)
            for task, group in sorted(by_task.items())
        },
    }


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
    inner = get_judge(judge_spec)
    cache = JudgeCache(run_dir / CACHE_FILE)
    judge = CachedJudge(inner, cache)

    async def run() -> list[SampleScore | None]:
        try:
            return await judge_records(
                judge,
                records,
                concurrency=concurrency,
                progress=(lambda done: progress(done, len(records))) if progress else None,
            )
        finally:
            await judge.aclose()
            await inner.aclose()

    try:
        scores = asyncio.run(run())
    finally:
        cache.close()
    write_judgments(run_dir / JUDGMENTS_DIR / f"{judge_slug(judge.spec)}.jsonl", records, scores)
    result = radrscore_summary(records, scores)
    summary["radrscore"] = result
    summary["judge"] = {
        "spec": judge.spec,
        "version": judge.version,
        "judgments": f"{JUDGMENTS_DIR}/{judge_slug(judge.spec)}.jsonl",
        "cache": CACHE_FILE,
    }
    summary["failures"]["judge_failures"] = (result["overall"] or {}).get("judge_failures", 0)
    summary.setdefault("run", {})["judge_calls"] = {
        "hits": judge.counters.hits,
        "misses": judge.counters.misses,
    }
    write_json(summary_path, summary)
    return summary
