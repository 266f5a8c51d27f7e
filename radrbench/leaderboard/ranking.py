"""Ranks that share a place when a difference is within its 95% CI, and Kendall's tau.

A run's rank is 1 + the number of runs whose score is higher beyond the 95% bootstrap CI of
the difference, so runs that cannot be told apart share a rank (Chatbot Arena's rule).

The CI of a difference comes from one bootstrap for all runs: runs scored on the same samples
share the resampled indices, so the difference of their resampled statistics is a **paired**
bootstrap of the difference; runs on other sample sets get their own draws (an unpaired
bootstrap). Each run's resampled statistic is computed once, and every pair is a subtraction,
so ranking 50 runs costs 50 statistics, not 1,225 bootstraps. A run without per-sample
records is compared by its CI alone: another run is higher beyond the CI when its interval
lies wholly above.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import cast

import numpy as np
from numpy.typing import NDArray

from radrbench.metrics.bootstrap import FloatArray, safe_ratio

RESAMPLES = 1000
CONFIDENCE = 0.95
_MAX_CELLS = 1 << 22

Statistic = Callable[[FloatArray, int], FloatArray]
"""Column sums of resamples (resamples, k) and the sample count -> statistic (resamples,)."""


def single_threaded_blas() -> AbstractContextManager[object]:
    """One BLAS thread: the resample sums are many small matrix products, for which
    OpenBLAS's thread hand-offs cost 20x the product itself on a busy machine."""
    from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

    return cast(AbstractContextManager[object], threadpool_limits(limits=1, user_api="blas"))


def accuracy_statistic(sums: FloatArray, n: int) -> FloatArray:
    return sums[:, 0] / max(n, 1)


def label_f1_statistic(sums: FloatArray, n: int) -> FloatArray:
    tp, fp, fn = sums[:, 0], sums[:, 1], sums[:, 2]
    return safe_ratio(2 * tp, 2 * tp + fp + fn)


def judged_columns(values: FloatArray) -> FloatArray:
    """(n, 3) sub-scores with NaN for failures -> (n, 6) value and validity columns."""
    valid = ~np.isnan(values)
    out = np.empty((len(values), 6), dtype=np.float64)
    out[:, 0::2] = np.where(valid, values, 0.0)
    out[:, 1::2] = valid
    return out


def radrscore_statistic(part: int | None) -> Statistic:
    """Mean of sub-score ``part`` (0..2) over valid samples, or RadRScore (``None``)."""

    def statistic(sums: FloatArray, n: int) -> FloatArray:
        means = np.stack([safe_ratio(sums[:, 2 * i], sums[:, 2 * i + 1]) for i in range(3)], 1)
        return means.mean(axis=1) if part is None else means[:, part]

    return statistic


@dataclass(frozen=True)
class Contender:
    """One run in a ranking: its point value and CI, and its per-sample columns if known."""

    key: str
    value: float | None
    ci_low: float | None = None
    ci_high: float | None = None
    ids: tuple[str, ...] | None = None
    columns: FloatArray | None = None


@dataclass(frozen=True)
class Rank:
    rank: int
    tied: bool  # another run has the same rank
    method: str  # how it was compared: paired, unpaired, CI
    interval: tuple[float, float] | None = None  # bootstrap 95% CI of the run's own statistic


def _seed(scope: str, ids: tuple[str, ...]) -> int:
    digest = hashlib.sha256(scope.encode())
    for sample_id in ids:
        digest.update(b"\0" + sample_id.encode())
    return int.from_bytes(digest.digest()[:8], "little")


def _resampled(
    statistic: Statistic, members: Sequence[Contender], seed: int, resamples: int
) -> FloatArray:
    """(len(members), resamples) statistics of runs on the same samples, same draws."""
    columns = [m.columns for m in members if m.columns is not None]
    n, width = columns[0].shape
    data = np.concatenate(columns, axis=1)
    rng = np.random.default_rng(seed)
    out = np.empty((resamples, len(members)), dtype=np.float64)
    per_chunk = max(1, _MAX_CELLS // max(n, 1))
    for start in range(0, resamples, per_chunk):
        size = min(per_chunk, resamples - start)
        rows = rng.integers(0, n, size=(size, n))
        offsets = (np.arange(size) * n)[:, None]
        counts = np.bincount((rows + offsets).ravel(), minlength=size * n).reshape(size, n)
        sums = (counts.astype(np.float64) @ data).reshape(size * len(members), width)
        out[start : start + size] = statistic(sums, n).reshape(size, len(members))
    return out.T


def _higher_beyond(stats: FloatArray, q: float) -> NDArray[np.bool_]:
    """``higher[i, j]``: the percentile interval of ``stats[j] - stats[i]`` over resamples
    (``np.quantile(..., [q, 1 - q])``, linear interpolation) lies wholly above 0.

    Decided from the number of resamples where ``stats[j] <= stats[i]``, so no difference is
    formed, sorted or partitioned; only pairs where 0 falls between the two order statistics
    around the bound need their differences.
    """
    position = (stats.shape[1] - 1) * q
    low = int(np.floor(position))
    fraction = position - low
    # at_most[i, j] = #{r: stats[j, r] - stats[i, r] <= 0}; sorted: s[count - 1] <= 0 < s[count]
    at_most = np.count_nonzero(stats[None, :, :] <= stats[:, None, :], axis=2)
    higher: NDArray[np.bool_] = at_most <= low
    if fraction > 0:
        for i, j in zip(*np.nonzero(at_most == low + 1), strict=True):  # s[low] <= 0 < s[low+1]
            d = stats[j] - stats[i]
            s_low, s_high = d[d <= 0].max(), d[d > 0].min()
            higher[i, j] = s_low + fraction * (s_high - s_low) > 0
    np.fill_diagonal(higher, False)
    return higher


def shared_ranks(
    contenders: Sequence[Contender],
    statistic: Statistic,
    *,
    scope: str,
    resamples: int = RESAMPLES,
    confidence: float = CONFIDENCE,
) -> dict[str, Rank]:
    """Ranks of the contenders with a value (higher is better); equal ranks are ties."""
    ranked = [c for c in contenders if c.value is not None]
    if not ranked:
        return {}
    clusters: dict[tuple[str, ...], list[int]] = {}
    for index, contender in enumerate(ranked):
        if contender.ids is not None and contender.columns is not None and contender.ids:
            clusters.setdefault(contender.ids, []).append(index)
    stats = np.full((len(ranked), resamples), np.nan)  # one row of resampled values per run
    cluster = np.full(len(ranked), -1)
    for number, (ids, members) in enumerate(clusters.items()):
        block = _resampled(statistic, [ranked[i] for i in members], _seed(scope, ids), resamples)
        stats[members] = block
        cluster[members] = number
    tail = (1.0 - confidence) / 2.0
    m = len(ranked)
    higher = np.zeros((m, m), dtype=bool)  # higher[i, j]: j is higher than i beyond the CI
    flags = {name: np.zeros(m, dtype=bool) for name in ("paired", "unpaired", "CI")}
    sampled = np.flatnonzero(cluster >= 0)
    if len(sampled) > 1:
        higher[np.ix_(sampled, sampled)] = _higher_beyond(stats[sampled], tail)
        same = cluster[sampled][:, None] == cluster[sampled][None, :]
        flags["paired"][sampled] = same.sum(axis=1) > 1
        flags["unpaired"][sampled] = (~same).any(axis=1)
    own = np.quantile(stats, [tail, 1.0 - tail], axis=1) if clusters else None

    def bounds(i: int) -> tuple[float, float] | None:
        contender = ranked[i]
        if contender.ci_low is not None and contender.ci_high is not None:
            return (contender.ci_low, contender.ci_high)
        if own is not None and cluster[i] >= 0:
            return (float(own[0, i]), float(own[1, i]))
        return None

    for i in np.flatnonzero(cluster < 0).tolist():
        for j in range(m):
            if j == i or (j < i and cluster[j] < 0):
                continue  # itself, or a pair compared already
            x, y = bounds(i), bounds(j)
            if x is None or y is None:
                continue
            higher[i, j] = y[0] > x[1]
            higher[j, i] = x[0] > y[1]
            flags["CI"][[i, j]] = True
    numbers = (1 + higher.sum(axis=1)).tolist()
    counts = np.bincount(numbers)
    out = {}
    for i in range(m):
        sampled_interval = None
        if own is not None and cluster[i] >= 0:
            sampled_interval = (float(own[0, i]), float(own[1, i]))
        out[ranked[i].key] = Rank(
            numbers[i],
            bool(counts[numbers[i]] > 1),
            "+".join(name for name in sorted(flags) if flags[name][i]) or "alone",
            sampled_interval,
        )
    return out


def kendall_tau(x: Sequence[float], y: Sequence[float]) -> float | None:
    """Kendall's tau-b of two paired sequences (ties handled); ``None`` when undefined."""
    a = np.asarray(x, dtype=np.float64)
    b = np.asarray(y, dtype=np.float64)
    if len(a) < 2:
        return None
    i, j = np.triu_indices(len(a), k=1)
    da, db = np.sign(a[i] - a[j]), np.sign(b[i] - b[j])
    numerator = float((da * db).sum())
    denominator = float(np.sqrt(np.count_nonzero(da) * np.count_nonzero(db)))
    return numerator / denominator if denominator > 0 else None
