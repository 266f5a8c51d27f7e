"""Seeded percentile bootstrap confidence intervals, vectorised with numpy.

A metric is a function of the column sums of per-sample values (accuracy: the sum of 0/1
outcomes; micro F1: the sums of true positives, false positives and false negatives), so
one resample is one row of resampled column sums and all resamples are computed at once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

FloatArray = NDArray[np.float64]
# Column sums of one resample per row, shape (resamples, k) -> the metric, shape (resamples,).
Statistic = Callable[[FloatArray], FloatArray]

_MAX_CELLS = 1 << 22  # bound on resamples x samples x columns held at once


class Interval(NamedTuple):
    """A confidence interval."""

    low: float
    high: float


def resampled_sums(values: ArrayLike, *, resamples: int = 1000, seed: int = 0) -> FloatArray:
    """Column sums of ``resamples`` samples drawn with replacement, shape (resamples, k).

    ``values`` holds one row per sample (a 1-D array is one column).
    """
    data = np.asarray(values, dtype=np.float64)
    data = data[:, None] if data.ndim == 1 else data
    n = len(data)
    if n == 0:
        raise ValueError("cannot bootstrap an empty sample")
    rng = np.random.default_rng(seed)
    per_chunk = max(1, _MAX_CELLS // (n * data.shape[1]))
    sums = np.empty((resamples, data.shape[1]), dtype=np.float64)
    for first in range(0, resamples, per_chunk):
        size = min(per_chunk, resamples - first)
        rows = rng.integers(0, n, size=(size, n))
        sums[first : first + size] = data[rows].sum(axis=1)
    return sums


def percentile_interval(stats: ArrayLike, confidence: float = 0.95) -> Interval:
    """The central ``confidence`` percentile interval of bootstrap statistics."""
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(np.asarray(stats, dtype=np.float64), [tail, 1.0 - tail])
    return Interval(float(low), float(high))


def bootstrap_interval(
    values: ArrayLike,
    statistic: Statistic,
    *,
    resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> Interval:
    """Percentile interval of ``statistic`` over samples drawn with replacement.

    ``values`` holds one row per sample (a 1-D array is one column). The result depends
    only on the values, the statistic and the three settings.
    """
    sums = resampled_sums(values, resamples=resamples, seed=seed)
    return percentile_interval(statistic(sums), confidence)


def safe_ratio(numerator: FloatArray, denominator: FloatArray) -> FloatArray:
    """Element-wise ratio, 0 where the denominator is 0 (sklearn's ``zero_division=0``)."""
    out = np.zeros(np.broadcast(numerator, denominator).shape, dtype=np.float64)
    return np.divide(numerator, denominator, out=out, where=denominator > 0)
