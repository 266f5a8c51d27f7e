"""The resolved configuration of an evaluation run (saved as ``config.json``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class ModelSpec(BaseModel):
    """Which model answers: an OpenAI-compatible endpoint or an in-process HF model."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["endpoint", "hf"]
    name: str = Field(description="served model name (endpoint) or a display name")
    base_url: str | None = Field(None, description="…/v1, credentials and query removed")
    api_key_env: str | None = Field(
        "OPENAI_API_KEY", description="environment variable holding the API key (never the key)"
    )
    path: str | None = Field(None, description="local path or repo id for kind=hf")
    revision: str | None = None
    engine: str | None = Field(None, description="vllm, transformers, openai, … (informational)")
    baseline: str | None = None


class EvalConfig(BaseModel):
    """Everything that determines the responses of a run; resuming requires the same values."""

    model_config = ConfigDict(extra="forbid")

    model: ModelSpec
    tasks: list[str] = Field(default_factory=lambda: ["radrbench_demo"])
    data_dir: str | None = None
    limit: int | None = None
    prompt_profile: str = "radrbench"
    max_tokens: int | None = Field(None, description="override the tasks' max_gen_toks")
    seed: int = 1234
    concurrency: int = 8
    timeout_s: float = 600.0
    max_retries: int = 6
    max_images: int = 4

    def identity(self) -> dict[str, object]:
        """Fields that must match for a run directory to be resumed."""
        return self.model_dump(exclude={"concurrency", "timeout_s", "max_retries"})
