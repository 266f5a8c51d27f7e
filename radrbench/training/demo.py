"""``radrbench train demo``: base -> SFT -> GRPO on CPU, each evaluated with ``radrbench eval``.

1. a phantom benchmark large enough to learn binary questions from (``--studies``);
2. the tiny random Qwen2-VL (the *base* model);
3. SFT with ``training/toy_sft.yaml`` and GRPO (format + outcome + process reward) with
   ``training/toy_grpo.yaml``, on that benchmark, for the given numbers of steps;
4. ``radrbench eval --hf`` of the three models on the test split's binary questions
   (outcome accuracy with a 95% bootstrap CI, RadRScore with the offline judge), shown side by
   side, with the paths of the training plots.

Every stage writes under ``--out`` and is skipped when its output exists, so a killed demo
continues where it stopped.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from radrbench.errors import RunError
from radrbench.resources import resource_dir
from radrbench.training.recipe import EvalSpec, Recipe, load_recipe
from radrbench.training.train import run_recipe

TASK = "radrbench_phantom_binary"


@dataclass(frozen=True)
class DemoSettings:
    """Sizes of the demo. The defaults are planned for about 20 minutes on 2 idle CPU cores
    (SFT ~5 s per step of 16 sequences, GRPO ~40 s per step of 16 rollouts); not yet timed
    end to end."""

    studies: int = 600
    seed: int = 0
    sft_steps: int = 120
    grpo_steps: int = 8
    eval_samples: int = 60
    """Test binary questions ``radrbench eval`` asks each model."""
    curve_samples: int = 24
    """Test questions generated at every checkpoint for the learning curves (0: none)."""
    max_new_tokens: int = 160


QUICK = DemoSettings(
    studies=24, sft_steps=2, grpo_steps=1, eval_samples=2, curve_samples=0, max_new_tokens=16
)


@dataclass
class DemoRow:
    model: str
    accuracy: float | None
    accuracy_ci: tuple[float, float] | None
    n: int
    parse_failed: int
    radrscore: float | None
    radrscore_ci: tuple[float, float] | None


@dataclass
class DemoResult:
    out: Path
    rows: list[DemoRow]
    plots: list[Path] = field(default_factory=list)


def run_demo(out: Path, settings: DemoSettings, say: Callable[[str], None] = print) -> DemoResult:
    """Run (or continue) the demo under ``out``."""
    from radrbench.data.phantom import generate_demo
    from radrbench.dev.tiny_model import build_tiny_qwen2vl

    bench = out / "bench"
    if not (bench / "manifest.json").is_file():
        say(f"phantom benchmark: {settings.studies} studies -> {bench}")
        generate_demo(bench, studies=settings.studies, seed=settings.seed)
    models = out / "models"
    models.mkdir(parents=True, exist_ok=True)
    base = build_tiny_qwen2vl(models / "base", seed=settings.seed)
    sft = _stage(out, "sft", base, bench, settings, settings.sft_steps, say)
    grpo = _stage(out, "grpo", sft, bench, settings, settings.grpo_steps, say)
    for name, target in (("sft", sft), ("grpo", grpo)):
        link = models / name
        if not link.exists():
            link.symlink_to(os.path.relpath(target, models))
    rows = [_evaluate(out, models / name, bench, settings, say) for name in ("base", "sft", "grpo")]
    plots = sorted((out / "sft" / "plots").glob("*.png")) + sorted(
        (out / "grpo" / "plots").glob("*.png")
    )
    return DemoResult(out, rows, plots)


def _stage(
    out: Path,
    stage: str,
    start: Path,
    bench: Path,
    settings: DemoSettings,
    steps: int,
    say: Callable[[str], None],
) -> Path:
    """Train one stage from ``start``; return its final model (kept if already trained)."""
    run_dir = out / stage
    final = run_dir / "final"
    if (final / "config.json").is_file():
        say(f"{stage}: {final} exists, kept")
        return final
    recipe = load_recipe(resource_dir("training") / f"toy_{stage}.yaml")
    recipe = _adapt(recipe, start, bench, run_dir, settings, steps)
    say(f"{stage}: {steps} steps from {start} -> {run_dir}")
    resume = (run_dir / "recipe.yaml").is_file()
    result = run_recipe(recipe, resume=resume)
    if result.final_dir is None:
        raise RunError(f"the {stage} stage produced no model", where=str(run_dir))
    return result.final_dir


def _adapt(
    recipe: Recipe,
    start: Path,
    bench: Path,
    run_dir: Path,
    settings: DemoSettings,
    steps: int,
) -> Recipe:
    trainer: dict[str, Any] = {
        **recipe.trainer,
        "max_steps": steps,
        "save_steps": max(1, steps // 4),
        "seed": settings.seed,
    }
    if recipe.stage == "grpo":
        trainer["max_completion_length"] = settings.max_new_tokens
    if steps < 5:  # a smoke run: small batches
        trainer["per_device_train_batch_size"] = 4 if recipe.stage == "grpo" else 2
        trainer["logging_steps"] = 1
        if recipe.stage == "grpo":
            trainer["num_generations"] = 2
    evaluation = EvalSpec(
        samples=settings.curve_samples,
        max_new_tokens=settings.max_new_tokens,
        batch_size=recipe.eval.batch_size,
        judge=recipe.eval.judge,
    )
    return recipe.model_copy(
        update={
            "model": recipe.model.model_copy(update={"path": str(start)}),
            "data": recipe.data.model_copy(update={"path": str(bench)}),
            "output_dir": str(run_dir),
            "global_batch_size": None if steps < 5 else recipe.global_batch_size,
            "trainer": trainer,
            "eval": evaluation,
        }
    )


def _evaluate(
    out: Path, model: Path, bench: Path, settings: DemoSettings, say: Callable[[str], None]
) -> DemoRow:
    """``radrbench eval --hf`` of one model on the test binary questions (as a user runs it)."""
    run = out / "eval" / model.name
    if not (run / "summary.json").is_file():
        say(f"eval {model.name}: radrbench eval --hf {model} ({settings.eval_samples} questions)")
        command = [
            sys.executable,
            "-m",
            "radrbench",
            "eval",
            "--hf",
            str(model),
            "--tasks",
            TASK,
            "--data",
            str(bench),
            "--limit",
            str(settings.eval_samples),
            "--max-tokens",
            str(settings.max_new_tokens),
            "--judge",
            "offline",
            "--out",
            str(run),
        ]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
            raise RunError(f"radrbench eval failed: {tail[0]}", where=str(run))
    summary = json.loads((run / "summary.json").read_text(encoding="utf-8"))
    overall = summary["outcome"]["overall"]
    accuracy = overall["metrics"].get("accuracy")
    radr = (summary.get("radrscore") or {}).get("overall", {}).get("radrscore")
    return DemoRow(
        model=model.name,
        accuracy=None if accuracy is None else accuracy["value"],
        accuracy_ci=None if accuracy is None else (accuracy["ci_low"], accuracy["ci_high"]),
        n=int(overall["n"]),
        parse_failed=int(overall["parse_failed"]),
        radrscore=None if not radr else radr["value"],
        radrscore_ci=None if not radr else (radr["ci_low"], radr["ci_high"]),
    )


def with_overrides(settings: DemoSettings, **values: int | None) -> DemoSettings:
    """``settings`` with the given (non-None) fields replaced."""
    return replace(settings, **{k: v for k, v in values.items() if v is not None})
