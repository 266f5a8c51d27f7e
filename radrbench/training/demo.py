"""``radrbench train demo``: pretrain -> base, then SFT -> GRPO on CPU, each evaluated.

1. a phantom benchmark large enough to learn binary questions from (``--studies``);
2. the *base* model: the random ``toy`` Qwen2-VL after a short pretraining, first of its
   vision encoder on each training image's finding labels (``training/toy_vision.yaml``), then
   of the whole model (encoder fixed) to list them (``training/toy_pretrain.yaml``: each
   training image, "List the findings", answered with its finding labels). It stands in for
   the pretrained Qwen2-VL the paper starts from: it has seen the images but never a question,
   a reasoning chain or the answer format;
3. SFT with ``training/toy_sft.yaml`` (``<think>`` chain ``</think><answer>`` answer) and GRPO
   (format + outcome + process reward) with ``training/toy_grpo.yaml``;
4. ``radrbench eval --hf`` of base, SFT and GRPO on the same test binary questions (outcome
   accuracy and RadRScore with the offline judge, 95% bootstrap CIs), the paired differences
   SFT - base and GRPO - SFT with their CIs, GRPO's guard-tripping share early and late and its
   reward time share, and the three runs as rows of a leaderboard (``OUT/leaderboard``).

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

import numpy as np

from radrbench.errors import RunError
from radrbench.metrics.bootstrap import Statistic, bootstrap_interval
from radrbench.resources import resource_dir
from radrbench.training.recipe import EvalSpec, Recipe, load_recipe
from radrbench.training.train import run_recipe

TASK = "radrbench_phantom_binary"
MODELS = ("base", "sft", "grpo")


@dataclass(frozen=True)
class DemoSettings:
    """Sizes of the demo: about 13 minutes on 2 idle cores of an AVX-512 Xeon (docs/training.md)."""

    studies: int = 2000
    seed: int = 0
    model_size: str = "toy"
    vision_steps: int = 200
    """Vision-encoder pretraining steps of 32 images (5 epochs of the 1,280 training images)."""
    pretrain_steps: int = 150
    sft_steps: int = 600
    """SFT steps of 16 questions; the toy starts to read the question after 150-300 of them."""
    grpo_steps: int = 6
    eval_samples: int = 100
    """Test binary questions ``radrbench eval`` asks each model."""
    curve_samples: int = 16
    """Test questions generated at every checkpoint for the learning curves (0: none)."""
    max_new_tokens: int = 256
    """Enough for a whole chain (the phantom's run to about 175 tokens)."""


QUICK = DemoSettings(
    studies=24,
    model_size="tiny",
    vision_steps=1,
    pretrain_steps=1,
    sft_steps=2,
    grpo_steps=1,
    eval_samples=2,
    curve_samples=0,
    max_new_tokens=16,
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


@dataclass(frozen=True)
class Difference:
    """A paired difference between two models on the same questions, with its 95% CI."""

    value: float
    ci: tuple[float, float]

    @property
    def beyond_ci(self) -> bool:
        return self.ci[0] > 0 or self.ci[1] < 0


@dataclass(frozen=True)
class Comparison:
    name: str  # "sft - base"
    n: int
    accuracy: Difference
    radrscore: Difference | None


@dataclass(frozen=True)
class GrpoTrend:
    """GRPO's guard-tripping share in its first and second half, and the reward time share."""

    guard_first: float | None
    guard_last: float | None
    reward_seconds: float | None
    step_seconds: float | None

    @property
    def reward_share(self) -> float | None:
        if not self.reward_seconds or not self.step_seconds:
            return None
        return self.reward_seconds / self.step_seconds


@dataclass
class DemoResult:
    out: Path
    rows: list[DemoRow]
    comparisons: list[Comparison] = field(default_factory=list)
    grpo: GrpoTrend | None = None
    plots: list[Path] = field(default_factory=list)
    leaderboard: Path | None = None


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
    random = build_tiny_qwen2vl(models / "random", seed=settings.seed, size=settings.model_size)
    encoder = _stage(out, "vision", random, bench, settings, settings.vision_steps, say)
    base = _stage(out, "pretrain", encoder, bench, settings, settings.pretrain_steps, say)
    sft = _stage(out, "sft", base, bench, settings, settings.sft_steps, say)
    grpo = _stage(out, "grpo", sft, bench, settings, settings.grpo_steps, say)
    for name, target in (("base", base), ("sft", sft), ("grpo", grpo)):
        link = models / name
        if not link.exists():
            link.symlink_to(os.path.relpath(target, models))
    runs = [_evaluate(out, models / name, bench, settings, say) for name in MODELS]
    rows = [_row(run, name) for run, name in zip(runs, MODELS, strict=True)]
    board = _leaderboard(out, runs, say)
    plots = [
        plot
        for stage in ("vision", "pretrain", "sft", "grpo")
        for plot in sorted((out / stage / "plots").glob("*.png"))
    ]
    return DemoResult(
        out,
        rows,
        comparisons=_comparisons(out / "leaderboard" / "results"),
        grpo=_grpo_trend(out / "grpo"),
        plots=plots,
        leaderboard=board,
    )


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
        "save_steps": max(1, -(-steps // 4)),  # 4 checkpoints, the last one at the end
        "seed": settings.seed,
    }
    if recipe.stage == "grpo":
        trainer["max_completion_length"] = settings.max_new_tokens
    if steps < 5:  # a smoke run: small batches
        trainer["per_device_train_batch_size"] = 4 if recipe.stage == "grpo" else 2
        trainer["per_device_eval_batch_size"] = 4
        trainer["logging_steps"] = 1
        if recipe.stage == "grpo":
            trainer["num_generations"] = 2
    if recipe.stage == "vision":  # held-out images, scored after every epoch
        curve = min(recipe.eval.samples, 8) if steps < 5 else recipe.eval.samples
    else:  # test questions generated at every checkpoint
        curve = settings.curve_samples if recipe.eval.samples else 0
    evaluation = EvalSpec(
        samples=curve,
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
) -> Path:
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
    return run


def _row(run: Path, name: str) -> DemoRow:
    summary = json.loads((run / "summary.json").read_text(encoding="utf-8"))
    overall = summary["outcome"]["overall"]
    accuracy = overall["metrics"].get("accuracy")
    radr = (summary.get("radrscore") or {}).get("overall", {}).get("radrscore")
    return DemoRow(
        model=name,
        accuracy=None if accuracy is None else accuracy["value"],
        accuracy_ci=None if accuracy is None else (accuracy["ci_low"], accuracy["ci_high"]),
        n=int(overall["n"]),
        parse_failed=int(overall["parse_failed"]),
        radrscore=None if not radr else radr["value"],
        radrscore_ci=None if not radr else (radr["ci_low"], radr["ci_high"]),
    )


def _leaderboard(out: Path, runs: list[Path], say: Callable[[str], None]) -> Path:
    """The three evaluations as rows of a leaderboard (``leaderboard add`` + ``build``)."""
    from radrbench.leaderboard import build_leaderboard
    from radrbench.leaderboard.results import add_runs

    results = out / "leaderboard" / "results"
    add_runs(runs, results)
    report = build_leaderboard(results, out / "leaderboard" / "site")
    say(f"leaderboard of base, sft and grpo: {report.index}")
    return report.index


def _comparisons(results: Path) -> list[Comparison]:
    """Paired differences SFT - base and GRPO - SFT on the questions both answered."""
    from radrbench.leaderboard.results import load_results

    entries = {entry.path.name: entry for entry in load_results(results)}
    pairs = (("base", "sft"), ("sft", "grpo"))
    found = [_compare(entries[a], entries[b], seed) for seed, (a, b) in enumerate(pairs)]
    return [comparison for comparison in found if comparison is not None]


def _compare(before: Any, after: Any, seed: int) -> Comparison | None:
    from radrbench.leaderboard.ranking import judged_columns, radrscore_statistic

    ids_a, ids_b = before.outcomes[TASK].ids, after.outcomes[TASK].ids
    shared = sorted(set(ids_a) & set(ids_b))
    if not shared:
        return None
    n = len(shared)
    correct = np.concatenate(
        [
            before.outcomes[TASK].values[[ids_a.index(i) for i in shared], :1],
            after.outcomes[TASK].values[[ids_b.index(i) for i in shared], :1],
        ],
        axis=1,
    )
    accuracy = _difference(correct, lambda sums: (sums[:, 1] - sums[:, 0]) / n, seed)
    radrscore = None
    judged = [_judged(entry, shared) for entry in (before, after)]
    if judged[0] is not None and judged[1] is not None:
        score = radrscore_statistic(None)
        columns = np.concatenate([judged_columns(judged[0]), judged_columns(judged[1])], 1)
        radrscore = _difference(
            columns, lambda sums: score(sums[:, 6:], n) - score(sums[:, :6], n), seed
        )
    name = f"{after.path.name} - {before.path.name}"
    return Comparison(name, n, accuracy, radrscore)


def _difference(values: Any, statistic: Statistic, seed: int) -> Difference:
    """The statistic on all samples, and its 95% bootstrap CI."""
    full = np.asarray(values, dtype=np.float64).sum(axis=0, keepdims=True)
    low, high = bootstrap_interval(values, statistic, seed=seed)
    return Difference(float(statistic(full)[0]), (low, high))


def _judged(entry: Any, ids: list[str]) -> Any:
    """The (n, 3) sub-scores of ``ids`` under the run's offline judge, None if not judged."""
    for judge in entry.judgments.values():
        if judge.spec == "offline" and TASK in judge.tasks:
            known, values = judge.tasks[TASK]
            where = {sample_id: row for row, sample_id in enumerate(known)}
            if all(i in where for i in ids):
                return values[[where[i] for i in ids]]
    return None


def _grpo_trend(run_dir: Path) -> GrpoTrend | None:
    """Guard share in GRPO's first and second half of steps, and reward vs step seconds."""
    from radrbench.training.logs import read_metrics

    if not (run_dir / "metrics.csv").is_file():
        return None
    metrics = read_metrics(run_dir)

    def halves(name: str) -> tuple[float | None, float | None]:
        values = [value for _, value in metrics.get(name, [])]
        if len(values) < 2:
            return (values[0], values[0]) if values else (None, None)
        middle = len(values) // 2
        return float(np.mean(values[:middle])), float(np.mean(values[middle:]))

    def total(name: str) -> float | None:
        values = [value for _, value in metrics.get(name, [])]
        return float(np.sum(values)) if values else None

    first, last = halves("process/guard_tripped")
    return GrpoTrend(first, last, total("process/seconds"), total("step_time"))


def with_overrides(settings: DemoSettings, **values: Any) -> DemoSettings:
    """``settings`` with the given (non-None) fields replaced."""
    return replace(settings, **{k: v for k, v in values.items() if v is not None})
