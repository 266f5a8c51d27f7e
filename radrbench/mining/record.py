"""What mining records in a sample (``meta["mining"]``), and its check for ``data validate``."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from radrbench.data.schema import Sample

META_KEY = "mining"


class MiningRecord(BaseModel):
    """How a sample's chain was mined; a rejected chain is not kept, its reasons are."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    llm: str = Field(min_length=1)
    """The ``openai:<model>[@<base_url>]`` spec that wrote the chain."""
    prompts: str = Field(min_length=1)
    """Version hash of the mining prompt templates."""
    status: Literal["accepted", "rejected"]
    plan: list[str] = Field(default_factory=list)
    reasons: list[str] = Field(default_factory=list)
    """Why the chain was rejected (empty when accepted)."""


def mining_problems(sample: Sample) -> list[str]:
    """What is wrong with a mined sample's fields (nothing for samples never mined)."""
    raw = sample.meta.get(META_KEY)
    if raw is None:
        return []
    try:
        record = MiningRecord.model_validate(raw)
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(part) for part in first["loc"])
        return [f"field meta.mining.{field}: {first['msg']}"]
    if record.status == "rejected":
        return [] if record.reasons else ["a rejected chain must say why (meta.mining.reasons)"]
    if not sample.reasoning or not sample.report:
        return ["an accepted mined chain needs reasoning and a report"]
    if record.reasons:
        return ["an accepted mined chain has rejection reasons"]
    from radrbench.mining.checks import check_chain

    return [f"mined chain: {reason}" for reason in check_chain(sample, sample.reasoning)]
