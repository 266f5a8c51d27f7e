"""Training recipes: one YAML file per run (pydantic-checked), as in ``training/*.yaml``.

```yaml
name: toy-sft
stage: sft                      # vision, sft or grpo
model:
  path: radrbench:tiny-qwen2-vl # HF repo id, local directory, or the built-in tiny model
  dtype: float32                # auto, float32, bfloat16, float16
  image_size: 112               # the processor resizes every image to about this square
data:
  path: null                    # benchmark directory (null: the cached phantom demo set)
  split: train
  tasks: [binary]               # task families (null: all)
  prompt_profile: radrbench     # the evaluation prompt profile the prompts come from
  target: chain                 # SFT: chain (reasoning) or findings (image captions)
output_dir: runs/train/toy-sft
global_batch_size: 16           # SFT: sequences, GRPO: prompts per optimizer step
trainer:                        # TRL SFTConfig / GRPOConfig (vision: TrainingArguments) fields
  learning_rate: 1.0e-3
  num_train_epochs: 1
rewards:                        # GRPO only
  weights: {format: 0.5, outcome: 1.0, process: 1.0}
  process: {judge: offline}     # null: no process reward
eval:
  samples: 64                   # test samples generated at every checkpoint (0: none;
                                #   vision: held-out images scored after every epoch)
```

Relative paths are relative to the working directory. ``global_batch_size`` sets
``gradient_accumulation_steps`` from the per-device batch and the number of processes (for
GRPO it counts prompts: each brings ``num_generations`` completions).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from radrbench.data.benchmark import describe_validation_error
from radrbench.data.schema import Source, TaskFamily
from radrbench.errors import ConfigError
from radrbench.training.rewards import ProcessRewardConfig, RewardWeights

TINY_MODEL = "radrbench:tiny-qwen2-vl"
"""Model path naming the built-in tiny random Qwen2-VL (built offline into the cache)."""


class ModelSpec(BaseModel):
    """Which model to start from and how to load it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    path: str = Field(min_length=1)
    revision: str | None = None
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    attn_implementation: str | None = None
    image_size: int | None = Field(None, ge=28)
    """Side in pixels of the square the processor resizes images to (the paper: 448)."""
    freeze_vision: bool = False
    """Keep the vision encoder (patch embedding and blocks) fixed; its merger, which projects
    image features into the language model, still trains."""


class DataSpec(BaseModel):
    """The training samples: a benchmark split, filtered."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    path: str | None = None
    """Benchmark directory; ``None``: the phantom demo set (generated once into the cache)."""
    demo_studies: int = Field(120, ge=1)
    demo_seed: int = 0
    split: str = "train"
    tasks: list[TaskFamily] | None = None
    sources: list[Source] | None = None
    limit: int | None = Field(None, ge=1)
    prompt_profile: str = "radrbench"
    target: Literal["chain", "findings"] = "chain"
    """SFT target: ``chain`` (``<think>`` chain ``</think><answer>`` answer ``</answer>`` after
    the question) or ``findings`` (vision-language pretraining: each distinct image once, asked
    to list its findings, answered ``Findings: a, b.`` from the sample's per-image labels)."""


class EvalSpec(BaseModel):
    """Outcome accuracy (and RadRScore) of every checkpoint on held-out samples."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    samples: int = Field(0, ge=0)
    """Samples generated at every checkpoint (0: no evaluation during training)."""
    split: str = "test"
    tasks: list[TaskFamily] | None = None
    max_new_tokens: int = Field(256, ge=1)
    batch_size: int = Field(8, ge=1)
    judge: str | None = "offline"
    """RadRScore judge for the checkpoints' reasoning (``None``: outcome only)."""


class RewardsSpec(BaseModel):
    """GRPO's rewards: their weights, and the process reward's settings."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    weights: RewardWeights = RewardWeights()
    process: ProcessRewardConfig | None = ProcessRewardConfig()
    """``None``: no process reward (format and outcome only)."""


class Recipe(BaseModel):
    """One training run."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1)
    stage: Literal["vision", "sft", "grpo"]
    description: str = ""
    model: ModelSpec
    data: DataSpec = DataSpec()
    output_dir: str = Field(min_length=1)
    global_batch_size: int | None = Field(None, ge=1)
    trainer: dict[str, Any] = Field(default_factory=dict)
    rewards: RewardsSpec | None = None
    eval: EvalSpec = EvalSpec()

    @model_validator(mode="after")
    def _stage_fields(self) -> Recipe:
        if self.stage != "grpo" and self.rewards is not None:
            raise ValueError("rewards are for stage grpo only")
        if self.stage == "vision" and self.model.image_size is None:
            raise ValueError("stage vision needs model.image_size (a fixed number of image tokens)")
        reserved = {"output_dir", "reward_weights"} & set(self.trainer)
        if reserved:
            raise ValueError(
                f"trainer.{sorted(reserved)[0]} is set by radrbench "
                "(use output_dir and rewards.weights at the top level)"
            )
        return self

    @property
    def reward_settings(self) -> RewardsSpec:
        return self.rewards or RewardsSpec()


def load_recipe(path: Path) -> Recipe:
    """Read and check a recipe; every problem is a ``ConfigError`` naming file and field."""
    if not path.is_file():
        raise ConfigError("recipe file not found", where=str(path), hint="see training/*.yaml")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise ConfigError(f"not valid YAML ({error})", where=str(path)) from error
    if not isinstance(data, dict):
        raise ConfigError("a recipe is a YAML mapping", where=str(path))
    try:
        return Recipe.model_validate(data)
    except ValidationError as error:
        raise ConfigError(describe_validation_error(error), where=str(path)) from error


def dump_recipe(recipe: Recipe) -> str:
    """The recipe as YAML (what a run directory keeps as ``recipe.yaml``)."""
    text: str = yaml.safe_dump(recipe.model_dump(mode="json"), sort_keys=False)
    return text
