"""Functions the task YAMLs in ``tasks/`` call (``!function radrbench.tasks.hooks.…``).

Outcome aggregations live in :mod:`radrbench.metrics.outcome` and are named there directly.
RadRScore is judged in one batch per task: ``process_results`` only collects (sample,
output) items, and the first RadRScore aggregation of a task judges them all concurrently
with the judging stage of :mod:`radrbench.metrics.judging` (cached, so the other three
sub-scores reuse the same judgments). The tasks depend on ``radrbench.metrics`` only, never
on radrbench's own runner (``radrbench.eval``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from PIL import Image

from radrbench.data.benchmark import sample_from_row
from radrbench.data.images import open_image, resize_for_model
from radrbench.tasks.data import load_task_dataset

__all__ = [
    "completeness",
    "doc_to_image",
    "doc_to_text",
    "effectiveness",
    "factuality",
    "load_task_dataset",
    "process_results",
    "radrscore",
]

_JUDGED: dict[tuple[str, ...], list[Any]] = {}


def doc_to_text(doc: dict[str, Any]) -> str:
    """The prompt built by the task's prompt profile (``<image>`` placeholders included)."""
    return str(doc["prompt"])


def doc_to_image(doc: dict[str, Any]) -> list[Image.Image] | list[str]:
    """The sample's images, prior first: decoded and resized for the model, or only their
    paths when the task metadata says ``images: paths``."""
    if doc.get("image_mode") == "paths":
        return list(doc["image_files"])
    return [resize_for_model(open_image(Path(path))) for path in doc["image_files"]]


def process_results(doc: dict[str, Any], results: Sequence[str]) -> dict[str, Any]:
    """Per-sample outcome items (unparseable answers are wrong and count as ``parse_failed``)
    and, where the sample has a reference chain and report, RadRScore items."""
    from radrbench.metrics.outcome import score_outcome

    sample = sample_from_row(doc)
    output = results[0] if results else ""
    items: dict[str, Any] = dict(score_outcome(sample, output).items())
    judge = doc.get("judge") or "offline"
    if judge != "none" and sample.has_reasoning_reference:
        item = {
            "judge": judge,
            "doc": {k: v for k, v in doc.items() if k != "judge"},
            "output": output,
        }
        items.update(radrscore=item, factuality=item, completeness=item, effectiveness=item)
    return items


def _judge_batch(items: Sequence[dict[str, Any]]) -> list[Any]:
    """RadRScore of every item, judged once per batch (all sub-scores share it)."""
    from radrbench.data.demo_cache import cache_root
    from radrbench.metrics.judging import judge_cached

    key = tuple(f"{i['judge']}|{i['doc']['id']}|{hash(i['output'])}" for i in items)
    if key not in _JUDGED:
        records = [("", sample_from_row(i["doc"]), str(i["output"])) for i in items]
        judged = judge_cached(str(items[0]["judge"]), records, cache_root() / "judge_cache.sqlite")
        _JUDGED[key] = judged.scores
    return _JUDGED[key]


def _summary(items: Sequence[dict[str, Any]]) -> Any:
    from radrbench.metrics.radrscore import summarize

    return summarize([score for score in _judge_batch(items) if score is not None])


def _mean(items: Sequence[dict[str, Any]], name: str) -> float:
    mean = getattr(_summary(items), name).mean
    return float("nan") if mean is None else float(mean)


def factuality(items: Sequence[dict[str, Any]]) -> float:
    """Aggregation: macro-averaged factuality (judge failures excluded)."""
    return _mean(items, "factuality")


def completeness(items: Sequence[dict[str, Any]]) -> float:
    """Aggregation: macro-averaged completeness (judge failures excluded)."""
    return _mean(items, "completeness")


def effectiveness(items: Sequence[dict[str, Any]]) -> float:
    """Aggregation: macro-averaged effectiveness (judge failures excluded)."""
    return _mean(items, "effectiveness")


def radrscore(items: Sequence[dict[str, Any]]) -> float:
    """Aggregation: RadRScore, the mean of the three macro-averaged sub-scores."""
    value = _summary(items).radrscore
    return float("nan") if value is None else float(value)
