"""The judging stage: RadRScore of many generated outputs with any judge, in one batch.

One stage, used both by the lm-eval RadRScore aggregations (:mod:`radrbench.tasks.hooks`)
and by ``radrbench score`` (:mod:`radrbench.eval.scoring`, which reads a run directory and
writes its results). Records are ``(task, sample, output)``; samples without a reference
chain and report score ``None``. :func:`judge_cached` judges through an on-disk judge cache,
so judging unchanged outputs again makes no judge calls; :func:`radrscore_summary` averages
the scores per task and overall with bootstrap CIs.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from radrbench.data.schema import Sample
from radrbench.metrics.bootstrap import FloatArray, bootstrap_interval, safe_ratio
from radrbench.metrics.judges import get_judge
from radrbench.metrics.judges.base import Judge
from radrbench.metrics.judges.cache import CacheCounters, CachedJudge, JudgeCache
from radrbench.metrics.radrscore import (
    SUB_SCORES,
    ReferenceCache,
    SampleScore,
    score_sample,
    summarize,
)

Record = tuple[str, Sample, str]  # task, sample, model output


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


@dataclass(frozen=True)
class Judging:
    """The scores of one judging pass, the judge that gave them and how its cache answered."""

    scores: list[SampleScore | None]
    spec: str
    version: str
    counters: CacheCounters


def judge_cached(
    judge_spec: str | None,
    records: Sequence[Record],
    cache_path: Path,
    *,
    concurrency: int = 16,
    progress: Callable[[int], None] | None = None,
) -> Judging:
    """Judge ``records`` with the judge ``judge_spec`` names, through the SQLite judge cache
    at ``cache_path`` (created if missing)."""
    inner = get_judge(judge_spec)
    cache = JudgeCache(cache_path)
    judge = CachedJudge(inner, cache)

    async def run() -> list[SampleScore | None]:
        try:
            return await judge_records(judge, records, concurrency=concurrency, progress=progress)
        finally:
            await judge.aclose()
            await inner.aclose()

    try:
        scores = asyncio.run(run())
    finally:
        cache.close()
    return Judging(scores, judge.spec, judge.version, judge.counters)


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
