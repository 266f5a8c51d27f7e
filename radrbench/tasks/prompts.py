"""Prompt profiles: how a sample becomes the text a model sees.

The default follows the paper: the question, then the reasoning-format instruction, with one
``<image>`` placeholder per image (prior before current). lm-eval's ``hf-multimodal`` turns the
placeholders into image slots; API models receive the images as separate content parts and
radrbench's own chat model strips the placeholders.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from radrbench.data.schema import Sample
from radrbench.errors import ConfigError

IMAGE_PLACEHOLDER = "<image>"
REASONING_SUFFIX = (
    "Let's think step by step. Enclose the reasoning within <think></think> "
    "and the answer within <answer></answer>."
)


class PromptProfile(BaseModel):
    """A named way of prompting: optional system message and the instruction after the question."""

    model_config = ConfigDict(frozen=True)

    name: str
    system: str | None = None
    suffix: str = REASONING_SUFFIX
    description: str = ""


PROFILES: dict[str, PromptProfile] = {
    profile.name: profile
    for profile in (
        PromptProfile(
            name="radrbench",
            description="The paper's evaluation prompt: question + step-by-step instruction.",
        ),
        PromptProfile(
            name="chestx-reasoner",
            system="You are a helpful assistant.",
            description="ChestX-Reasoner's inference prompt (Qwen2-VL default system message "
            "and the reasoning instruction it was trained with).",
        ),
        PromptProfile(
            name="direct",
            suffix="Answer with the option's letter (or the list of findings) only.",
            description="No reasoning requested; RadRScore is not meaningful with it.",
        ),
    )
}


def get_profile(name: str) -> PromptProfile:
    try:
        return PROFILES[name]
    except KeyError:
        raise ConfigError(
            f"unknown prompt profile {name!r}", hint=f"choose one of {', '.join(PROFILES)}"
        ) from None


def build_prompt(sample: Sample, profile: PromptProfile) -> str:
    """Prompt text led by one ``<image>`` placeholder per image (prior first).

    Placeholders touch the question, so ``hf-multimodal`` builds the same user turn (images,
    then one text part) as the chat request a server receives.
    """
    return f"{IMAGE_PLACEHOLDER * len(sample.images)}{sample.question}\n{profile.suffix}"


def strip_placeholders(text: str) -> str:
    """The prompt as API models get it: images travel as content parts, not text."""
    return text.replace(IMAGE_PLACEHOLDER, "").strip()
