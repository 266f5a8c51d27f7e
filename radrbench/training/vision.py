"""Vision-encoder pretraining (``stage: vision``): finding labels from image tokens.

A real Qwen2-VL starts from a vision encoder pretrained on billions of images; a model built
from scratch has none, and a language-model loss alone teaches its encoder little in the
minutes a CPU toy has. This stage gives the toy what the real model brings: the encoder (patch
embedding, blocks and merger) learns each training image's finding labels (multi-label, every
label's positives weighted by its rarity) through a linear head that reads all of the image's
merged tokens in order, so that where a finding lies counts. HF ``Trainer`` runs it
(checkpoints, ``--resume``, progress bar, ``metrics.csv``); the whole Qwen2-VL is then written
with the trained encoder and without the head. Held-out images give the balanced accuracy per
label after each epoch (``eval_balanced_accuracy`` in ``metrics.csv``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from radrbench.data.images import open_image
from radrbench.data.schema import Sample
from radrbench.errors import ConfigError
from radrbench.training.data import distinct_images, image_labels

LABELS_FILE = "vision_labels.json"


def label_vocabulary(samples: Sequence[Sample]) -> list[str]:
    """The finding labels of the training images, sorted."""
    found = {label for sample, _ in distinct_images(samples) for label in image_labels(sample)}
    return sorted(found)


class ImageLabels:
    """A map-style dataset: (pixel patches, grid, multi-hot labels) per distinct image.

    Images are resized to ``size`` x ``size`` (a fixed number of tokens for the head) once, on
    first use, and kept in memory as 8-bit pixels (37 KB each at 112).
    """

    def __init__(
        self,
        samples: Sequence[Sample],
        root: Path,
        labels: list[str],
        processor: Any,
        size: int,
        limit: int | None = None,
    ):
        images = list(islice(distinct_images(samples), limit))
        self.paths = [root / image for _, image in images]
        self.labels = labels
        # the multi-hot label matrix, (images, labels)
        self.targets = np.array(
            [[label in image_labels(sample) for label in labels] for sample, _ in images],
            dtype=np.float32,
        ).reshape(len(images), len(labels))
        self.processor = processor
        self.size = size
        self._pixels: dict[int, Any] = {}

    def __len__(self) -> int:
        return len(self.paths)

    def _image(self, index: int) -> Any:
        if index not in self._pixels:
            image = open_image(self.paths[index]).convert("RGB")
            self._pixels[index] = image.resize((self.size, self.size))
        return self._pixels[index]

    def __getitem__(self, index: int) -> dict[str, Any]:
        encoded = self.processor.image_processor(images=[self._image(index)], return_tensors="pt")
        return {
            "pixel_values": encoded["pixel_values"],
            "image_grid_thw": encoded["image_grid_thw"],
            "labels": self.targets[index],
        }


def collate(rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "pixel_values": torch.cat([row["pixel_values"] for row in rows]),
        "image_grid_thw": torch.cat([row["image_grid_thw"] for row in rows]),
        "labels": torch.from_numpy(np.stack([row["labels"] for row in rows])),
    }


class FindingsHead(nn.Module):
    """The vision encoder and a linear head over its merged tokens, trained with weighted BCE."""

    def __init__(self, visual: nn.Module, tokens: int, width: int, pos_weight: torch.Tensor):
        super().__init__()
        self.visual = visual
        self.head = nn.Linear(tokens * width, len(pos_weight))
        self.pos_weight: torch.Tensor
        self.register_buffer("pos_weight", pos_weight)

    def forward(
        self,
        pixel_values: torch.Tensor,
        image_grid_thw: torch.Tensor,
        labels: torch.Tensor | None = None,
    ) -> dict[str, torch.Tensor]:
        hidden = self.visual(pixel_values, grid_thw=image_grid_thw)
        hidden = getattr(hidden, "pooler_output", hidden)  # the merged tokens, image after image
        logits = self.head(hidden.reshape(len(image_grid_thw), -1))
        out = {"logits": logits}
        if labels is not None:
            out["loss"] = nn.functional.binary_cross_entropy_with_logits(
                logits, labels, pos_weight=self.pos_weight
            )
        return out


def balanced_accuracy(logits: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Per label, the mean of the true-positive and true-negative rates (NaN without both)."""
    predicted = logits > 0
    truth = targets > 0.5
    with np.errstate(invalid="ignore", divide="ignore"):
        positive = (predicted & truth).sum(0) / truth.sum(0)
        negative = (~predicted & ~truth).sum(0) / (~truth).sum(0)
    return np.asarray((positive + negative) / 2)


def encoder_of(model: Any) -> Any:
    """The vision encoder of a Qwen2-VL (``model.model.visual`` or ``model.visual``)."""
    inner = getattr(model, "model", model)
    return inner.visual if hasattr(inner, "visual") else model.visual


def build_vision_trainer(
    model: Any,
    processor: Any,
    train: ImageLabels,
    held_out: ImageLabels | None,
    args: Any,
    callbacks: list[Any],
) -> Any:
    """HF ``Trainer`` of the encoder + head on ``train`` (per-epoch held-out metrics)."""
    from transformers import Trainer

    sample = train[0]
    grid = sample["image_grid_thw"][0]
    merge = int(processor.image_processor.merge_size) ** 2
    tokens = int(grid.prod()) // merge
    targets = train.targets
    positives = targets.sum(0)
    if (positives == 0).any() or (positives == len(targets)).any():
        constant = [
            label
            for label, count in zip(train.labels, positives, strict=True)
            if count in (0, len(targets))
        ]
        raise ConfigError(
            f"label(s) {', '.join(constant)} are on every training image or on none",
            where="recipe data",
            hint="choose training data in which every finding is both present and absent",
        )
    pos_weight = torch.tensor((len(targets) - positives) / positives, dtype=torch.float32)
    width = int(model.config.text_config.hidden_size)
    head = FindingsHead(encoder_of(model), tokens, width, pos_weight)

    def metrics(prediction: Any) -> dict[str, float]:
        per_label = balanced_accuracy(prediction.predictions, prediction.label_ids)
        values = {
            f"balanced_accuracy/{label}": float(value)
            for label, value in zip(train.labels, per_label, strict=True)
        }
        values["balanced_accuracy"] = float(np.nanmean(per_label))
        return values

    return Trainer(
        model=head,
        args=args,
        train_dataset=train,
        eval_dataset=held_out,
        data_collator=collate,
        compute_metrics=metrics if held_out is not None else None,
        callbacks=callbacks,
    )


def write_labels(final: Path, labels: list[str], held_out: dict[str, float] | None) -> None:
    """Record the label set (and held-out balanced accuracy) beside the written model."""
    record = {"labels": labels, "held_out": held_out}
    (final / LABELS_FILE).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
