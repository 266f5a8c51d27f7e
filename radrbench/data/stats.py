"""Counts of a benchmark per source, task, split and finding."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

from radrbench.data.schema import Sample

DIMENSIONS = ("source", "task", "split", "finding")


def benchmark_stats(samples: Iterable[Sample]) -> dict[str, Any]:
    """Counts per dimension, plus totals of images and reasoning steps."""
    counters: dict[str, Counter[str]] = {name: Counter() for name in DIMENSIONS}
    images: set[str] = set()
    steps = with_reasoning = total = 0
    for sample in samples:
        total += 1
        counters["source"][sample.source] += 1
        counters["task"][sample.task] += 1
        counters["split"][sample.split] += 1
        for finding in sample.findings or ["(none)"]:
            counters["finding"][finding] += 1
        images.update(ref.path for ref in sample.images)
        if sample.reasoning:
            with_reasoning += 1
            steps += len(sample.reasoning)
    return {
        "samples": total,
        "images": len(images),
        "samples_with_reasoning": with_reasoning,
        "reasoning_steps": steps,
        **{name: dict(counter.most_common()) for name, counter in counters.items()},
    }
