"""Functions the task YAMLs in ``tasks/`` call (``!function radrbench.tasks.hooks.…``).

Metric aggregations live in :mod:`radrbench.metrics.outcome` and are named there directly.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from PIL import Image

from radrbench.data.benchmark import sample_from_row
from radrbench.data.images import open_image, resize_for_model
from radrbench.tasks.data import load_task_dataset

__all__ = ["doc_to_image", "doc_to_text", "load_task_dataset", "process_results"]


def doc_to_text(doc: dict[str, Any]) -> str:
    """The prompt built by the task's prompt profile (``<image>`` placeholders included)."""
    return str(doc["prompt"])


def doc_to_image(doc: dict[str, Any]) -> list[Image.Image]:
    """The sample's images, prior first, decoded now and resized for the model."""
    return [resize_for_model(open_image(Path(path))) for path in doc["image_files"]]


def process_results(doc: dict[str, Any], results: Sequence[str]) -> dict[str, Any]:
    """Per-sample outcome items; unparseable answers count as wrong and as ``parse_failed``."""
    from radrbench.metrics.outcome import score_outcome

    score = score_outcome(sample_from_row(doc), results[0] if results else "")
    return dict(score.items())
