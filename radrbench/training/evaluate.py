"""Evaluate a model in memory on held-out samples: used at every checkpoint during training.

Greedy generation with the model's processor and the training prompts, then the benchmark's
own scoring: outcome accuracy (``score_outcome``) with a seeded 95% bootstrap CI, the share
of well-formed outputs, and RadRScore with the chosen judge. It is a quick learning-curve
signal; the numbers to report come from ``radrbench eval --hf RUN/final`` (or a
checkpoint), which runs the full benchmark protocol.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict
from transformers import TrainerCallback, TrainerControl, TrainerState, TrainingArguments

from radrbench.data.images import open_image
from radrbench.data.schema import Sample
from radrbench.metrics.bootstrap import bootstrap_interval
from radrbench.metrics.judges import get_judge
from radrbench.metrics.outcome import score_outcome
from radrbench.metrics.radrscore import ReferenceCache, score_sample
from radrbench.tasks.prompts import PromptProfile
from radrbench.training.data import prompt_messages
from radrbench.training.logs import append_metrics
from radrbench.training.rewards import format_reward


class CheckpointEval(BaseModel):
    """Scores of one model on the evaluation samples."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    n: int
    accuracy: float
    accuracy_low: float
    accuracy_high: float
    parse_failed: float
    format: float
    radrscore: float | None

    def metrics(self) -> dict[str, float]:
        values = {
            "eval/accuracy": self.accuracy,
            "eval/accuracy_low": self.accuracy_low,
            "eval/accuracy_high": self.accuracy_high,
            "eval/parse_failed": self.parse_failed,
            "eval/format": self.format,
        }
        if self.radrscore is not None:
            values["eval/radrscore"] = self.radrscore
        return values


def generate(
    model: Any,
    processor: Any,
    samples: Sequence[Sample],
    root: Path,
    profile: PromptProfile,
    *,
    max_new_tokens: int,
    batch_size: int = 8,
) -> list[str]:
    """Greedy completions of ``samples`` (prompt as in training, images from ``root``)."""
    import torch

    tokenizer = processor.tokenizer
    side = tokenizer.padding_side
    tokenizer.padding_side = "left"
    was_training = model.training
    model.eval()
    outputs: list[str] = []
    try:
        for start in range(0, len(samples), batch_size):
            batch = samples[start : start + batch_size]
            texts = [
                processor.apply_chat_template(
                    prompt_messages(sample, profile), add_generation_prompt=True, tokenize=False
                )
                for sample in batch
            ]
            images = [open_image(root / ref.path) for s in batch for ref in s.ordered_images()]
            inputs = processor(text=texts, images=images, padding=True, return_tensors="pt")
            inputs = inputs.to(model.device)
            with torch.inference_mode():
                generated = model.generate(
                    **inputs, max_new_tokens=max_new_tokens, do_sample=False, use_cache=True
                )
            new = generated[:, inputs["input_ids"].shape[1] :]
            outputs += processor.batch_decode(new, skip_special_tokens=True)
    finally:
        tokenizer.padding_side = side
        model.train(was_training)
    return outputs


def score_outputs(
    samples: Sequence[Sample], outputs: Sequence[str], judge: str | None, seed: int = 0
) -> CheckpointEval:
    """Outcome accuracy with its 95% CI, well-formed share and RadRScore of ``outputs``."""
    outcomes = [score_outcome(s, o) for s, o in zip(samples, outputs, strict=True)]
    correct = np.array([float(o.correct) for o in outcomes])
    low, high = bootstrap_interval(correct, lambda sums: sums[:, 0] / len(correct), seed=seed)
    radrscore = None
    if judge is not None:
        scores = asyncio.run(_radrscores(judge, samples, outputs))
        valid = [s for s in scores if s is not None]
        radrscore = sum(valid) / len(valid) if valid else None
    return CheckpointEval(
        n=len(samples),
        accuracy=float(correct.mean()),
        accuracy_low=low,
        accuracy_high=high,
        parse_failed=sum(o.parse_failed for o in outcomes) / len(outcomes),
        format=sum(format_reward(o) for o in outputs) / len(outputs),
        radrscore=radrscore,
    )


async def _radrscores(
    spec: str, samples: Sequence[Sample], outputs: Sequence[str]
) -> list[float | None]:
    judge = get_judge(spec)
    references = ReferenceCache()
    try:
        scores = [
            await score_sample(judge, s, o, references)
            for s, o in zip(samples, outputs, strict=True)
        ]
    finally:
        await judge.aclose()
    return [None if score is None else score.radrscore for score in scores]


class EvalCallback(TrainerCallback):
    """Evaluates the model at every checkpoint (main process) into ``metrics.csv``."""

    def __init__(
        self,
        run_dir: Path,
        processor: Any,
        samples: Sequence[Sample],
        root: Path,
        profile: PromptProfile,
        *,
        max_new_tokens: int,
        batch_size: int,
        judge: str | None,
    ):
        self.run_dir = run_dir
        self.processor = processor
        self.samples = list(samples)
        self.root = root
        self.profile = profile
        self.max_new_tokens = max_new_tokens
        self.batch_size = batch_size
        self.judge = judge

    def evaluate(self, model: Any, step: int) -> CheckpointEval:
        outputs = generate(
            model,
            self.processor,
            self.samples,
            self.root,
            self.profile,
            max_new_tokens=self.max_new_tokens,
            batch_size=self.batch_size,
        )
        result = score_outputs(self.samples, outputs, self.judge)
        append_metrics(self.run_dir, step, result.metrics())
        return result

    def on_train_begin(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        model: Any = None,
        **kwargs: Any,
    ) -> None:
        """The starting point of the curve (not again when resuming)."""
        if state.is_world_process_zero and model is not None and state.global_step == 0:
            self.evaluate(model, 0)

    def on_save(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        model: Any = None,
        **kwargs: Any,
    ) -> None:
        if state.is_world_process_zero and model is not None:
            self.evaluate(model, state.global_step)
