"""``Sample`` records as TRL's conversational vision datasets.

One row per sample:

- ``prompt``: the chat messages the model sees, from an evaluation prompt profile
  (``radrbench.tasks.prompts``): the profile's system message when it has one, then a user
  turn of one ``{"type": "image"}`` placeholder per image (prior first) followed by the
  question and the profile's instruction, exactly the text evaluation sends;
- ``images``: the image files in the same order (a ``datasets`` image column, decoded when a
  batch is built; the model's processor resizes them);
- ``completion`` (SFT only): the assistant turn
  ``<think>{reasoning}</think><answer>{answer}</answer>``, the chain's steps one per line;
- ``sample``: the ``Sample`` as JSON, which the reward functions read.

With the ``findings`` target (vision-language pretraining of a model trained from scratch),
rows are one per distinct image instead: the image, "List the findings in this chest X-ray."
and the completion ``Findings: a, b.`` from the sample's per-image labels.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from radrbench.data.benchmark import image_root, load_samples
from radrbench.data.schema import Sample
from radrbench.errors import DataError
from radrbench.tasks.prompts import PromptProfile, build_prompt, get_profile, strip_placeholders
from radrbench.training.rewards import SAMPLE_COLUMN, sample_json

if TYPE_CHECKING:
    import datasets

Stage = Literal["sft", "grpo"]


def prompt_messages(sample: Sample, profile: PromptProfile) -> list[dict[str, Any]]:
    """The prompt as chat messages with one image placeholder per image (prior first)."""
    text = strip_placeholders(build_prompt(sample, profile))
    content: list[dict[str, Any]] = [{"type": "image"} for _ in sample.images]
    content.append({"type": "text", "text": text})
    messages: list[dict[str, Any]] = []
    if profile.system:
        messages.append({"role": "system", "content": [{"type": "text", "text": profile.system}]})
    messages.append({"role": "user", "content": content})
    return messages


def target_text(sample: Sample) -> str:
    """The SFT target: ``<think>`` the chain's steps, one per line ``</think>`` and the answer."""
    if not sample.reasoning:
        raise DataError("sample has no reasoning chain to train on", where=sample.id)
    steps = "\n".join(step.strip() for step in sample.reasoning)
    return f"<think>{steps}</think><answer>{sample.answer}</answer>"


FINDINGS_PROMPT = "List the findings in this chest X-ray."


def image_labels(sample: Sample) -> set[str]:
    """The finding labels of the sample's current image (``meta.findings``), lower case."""
    labels = sample.meta.get("findings")
    if not isinstance(labels, list):
        raise DataError(
            "sample has no per-image finding labels (meta.findings) to pretrain on",
            where=sample.id,
            hint="use target: chain, or a benchmark with image labels (radrbench data demo)",
        )
    return {str(item["label"]).lower() for item in labels if isinstance(item, dict)}


def findings_text(sample: Sample) -> str:
    """The pretraining target of the sample's current image: ``Findings: a, b.`` or ``none``."""
    names = sorted(image_labels(sample))
    return f"Findings: {', '.join(names) if names else 'none'}."


def distinct_images(samples: Iterable[Sample]) -> Iterator[tuple[Sample, str]]:
    """Each distinct current image once, with the first sample that shows it."""
    seen: set[str] = set()
    for sample in samples:
        image = sample.ordered_images()[-1].path
        if image not in seen:
            seen.add(image)
            yield sample, image


def findings_rows(samples: Sequence[Sample], root: Path) -> list[dict[str, Any]]:
    """One pretraining row per distinct current image: list its findings."""
    content = [{"type": "image"}, {"type": "text", "text": FINDINGS_PROMPT}]
    return [
        {
            "prompt": [{"role": "user", "content": content}],
            "images": [str(root / image)],
            SAMPLE_COLUMN: sample_json(sample),
            "completion": [
                {"role": "assistant", "content": [{"type": "text", "text": findings_text(sample)}]}
            ],
        }
        for sample, image in distinct_images(samples)
    ]


def to_row(sample: Sample, root: Path, profile: PromptProfile, stage: Stage) -> dict[str, Any]:
    """One dataset row for ``stage`` (image paths resolved against ``root``)."""
    images = [str(root / ref.path) for ref in sample.ordered_images()]
    row: dict[str, Any] = {
        "prompt": prompt_messages(sample, profile),
        "images": images,
        SAMPLE_COLUMN: sample_json(sample),
    }
    if stage == "sft":
        row["completion"] = [
            {"role": "assistant", "content": [{"type": "text", "text": target_text(sample)}]}
        ]
    return row


def select_samples(
    samples: Iterable[Sample],
    *,
    tasks: Sequence[str] | None = None,
    sources: Sequence[str] | None = None,
    require_reasoning: bool = True,
    limit: int | None = None,
) -> list[Sample]:
    """Samples of the given task families and sources (``None``: all), in file order."""
    chosen = [
        sample
        for sample in samples
        if (tasks is None or sample.task in tasks)
        and (sources is None or sample.source in sources)
        and (not require_reasoning or sample.has_reasoning_reference)
    ]
    return chosen if limit is None else chosen[:limit]


def build_dataset(
    samples: Sequence[Sample],
    root: Path,
    stage: Stage,
    profile: PromptProfile | str = "radrbench",
    target: Literal["chain", "findings"] = "chain",
) -> datasets.Dataset:
    """TRL's conversational vision dataset of ``samples`` for ``stage`` (and SFT ``target``)."""
    import datasets

    if not samples:
        raise DataError("no samples to train on", hint="check the recipe's data selection")
    chosen = get_profile(profile) if isinstance(profile, str) else profile
    missing = [
        str(root / ref.path) for s in samples for ref in s.images if not (root / ref.path).is_file()
    ]
    if missing:
        shown = ", ".join(missing[:3]) + (
            f" and {len(missing) - 3} more" if len(missing) > 3 else ""
        )
        raise DataError(
            f"{len(missing)} image file(s) missing: {shown}", hint="check the image root"
        )
    if target == "findings":
        if stage != "sft":
            raise DataError("the findings target is for SFT only", where="recipe data.target")
        rows = findings_rows(samples, root)
    else:
        rows = [to_row(sample, root, chosen, stage) for sample in samples]
    dataset = datasets.Dataset.from_list(rows)
    return dataset.cast_column("images", datasets.Sequence(datasets.Image()))


def load_training_samples(bench: Path, split: str) -> tuple[list[Sample], Path]:
    """A benchmark split's samples and its image root."""
    samples = load_samples(bench, split)
    if not samples:
        raise DataError(f"no samples in split {split!r}", where=str(bench))
    return samples, image_root(bench)
