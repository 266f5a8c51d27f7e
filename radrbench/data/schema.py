"""The ``Sample`` record that flows through every stage, and the benchmark manifest."""

from __future__ import annotations

import re
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Source = Literal[
    "mimic-cxr", "chexpert", "ms-cxr-t", "rsna", "siim", "phantom", "phantom-rsna", "phantom-siim"
]
TaskFamily = Literal["binary", "single", "multi", "multi_open", "anomaly", "temporal"]
ImageRole = Literal["current", "prior"]

TASK_FAMILIES: tuple[str, ...] = get_args(TaskFamily)
# Sources whose data needs a PhysioNet / Stanford credential (the data-use guard applies).
CREDENTIALED_SOURCES: frozenset[str] = frozenset({"mimic-cxr", "chexpert", "ms-cxr-t"})

CHEXPERT_LABELS: tuple[str, ...] = (
    "Atelectasis",
    "Cardiomegaly",
    "Consolidation",
    "Edema",
    "Enlarged Cardiomediastinum",
    "Fracture",
    "Lung Lesion",
    "Lung Opacity",
    "Pleural Effusion",
    "Pleural Other",
    "Pneumonia",
    "Pneumothorax",
    "Support Devices",
    "No Finding",
)

_LETTERS = "ABCDEFGHIJ"
_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:\-\[\]/]*$")


class ImageRef(BaseModel):
    """One image of a sample: a path relative to the benchmark's image root."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    path: str = Field(min_length=1)
    role: ImageRole = "current"
    view: str | None = None

    @field_validator("path")
    @classmethod
    def _relative(cls, value: str) -> str:
        if value.startswith("/") or ".." in value.split("/"):
            raise ValueError("must be a path relative to the image root, without '..'")
        return value


class Sample(BaseModel):
    """One visual question with its ground truth, reasoning chain and report."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(min_length=1)
    source: Source
    task: TaskFamily
    split: str = Field(min_length=1)
    images: list[ImageRef] = Field(min_length=1)
    question: str = Field(min_length=1)
    options: dict[str, str] | None = None
    answer: str = Field(min_length=1)
    answer_text: str = ""
    findings: list[str] = Field(default_factory=list)
    reasoning: list[str] | None = None
    report: str | None = None
    prior_report: str | None = None
    meta: dict[str, Any] = Field(default_factory=dict)

    @field_validator("id")
    @classmethod
    def _id_chars(cls, value: str) -> str:
        if not _ID_PATTERN.match(value):
            raise ValueError("may hold only letters, digits and . _ : - [ ] /")
        return value

    @field_validator("options")
    @classmethod
    def _letters_in_order(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        if value is None:
            return None
        expected = list(_LETTERS[: len(value)])
        if len(value) < 2 or list(value) != expected:
            raise ValueError(f"keys must be consecutive letters from A (got {list(value)})")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Sample:
        if self.task == "multi_open":
            if self.options is not None:
                raise ValueError("multi_open samples have no options")
        elif self.options is None:
            raise ValueError(f"{self.task} samples need options")
        elif self.answer not in self.options:
            raise ValueError(f"answer {self.answer!r} is not among options {list(self.options)}")
        if self.task == "temporal":
            roles = sorted(image.role for image in self.images)
            if roles != ["current", "prior"]:
                raise ValueError("temporal samples need two images: one 'prior', one 'current'")
        return self

    @property
    def answer_labels(self) -> list[str]:
        """The ground-truth label set of a ``multi_open`` sample (comma-separated answer)."""
        return [part.strip() for part in self.answer.split(",") if part.strip()]

    @property
    def has_reasoning_reference(self) -> bool:
        """Whether RadRScore can be computed (a ground-truth chain and a report exist)."""
        return bool(self.reasoning) and bool(self.report)

    def ordered_images(self) -> list[ImageRef]:
        """Images in prompt order: the prior study first, then the current one."""
        return sorted(self.images, key=lambda image: image.role != "prior")


class Manifest(BaseModel):
    """``manifest.json`` of a benchmark directory."""

    model_config = ConfigDict(extra="forbid")

    name: str
    version: str
    description: str = ""
    image_root: str = "images"
    generator: dict[str, Any] = Field(default_factory=dict)
    n_samples: int
    counts: dict[str, dict[str, int]] = Field(default_factory=dict)
    checksums: dict[str, str] = Field(default_factory=dict)
