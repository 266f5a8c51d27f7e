"""``radrbench train …``: reproduce ChestX-Reasoner (SFT, then GRPO with the process reward)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from radrbench.cli._common import console

if TYPE_CHECKING:
    from radrbench.training.demo import DemoResult
    from radrbench.training.reward_suite import RewardSuiteReport
    from radrbench.training.train import TrainResult

app = typer.Typer(
    help="Train on TRL: SFT on reasoning chains, then GRPO with format, outcome and process "
    "rewards; a model built from scratch first pretrains its vision encoder (recipes in "
    "training/*.yaml).",
    no_args_is_help=True,
)

RecipeOption = Annotated[
    Path, typer.Option("--recipe", "-r", help="Recipe YAML (see training/*.yaml).")
]
ResumeOption = Annotated[
    bool, typer.Option("--resume", help="Continue from the run directory's last checkpoint.")
]
OutOption = Annotated[
    Path | None, typer.Option("--out", "-o", help="Run directory (default: the recipe's).")
]
StepsOption = Annotated[
    int | None, typer.Option("--max-steps", min=1, help="Stop after N optimizer steps.")
]
DryRunOption = Annotated[
    bool,
    typer.Option(
        "--dry-run",
        help="Build the trainer with the recipe's settings on the tiny model and a few phantom "
        "samples, print the settings, train nothing.",
    ),
]


def _train(
    stage: str, recipe_path: Path, resume: bool, out: Path | None, steps: int | None, dry_run: bool
) -> None:
    from radrbench.errors import ConfigError
    from radrbench.training.recipe import load_recipe
    from radrbench.training.train import run_recipe

    recipe = load_recipe(recipe_path)
    if recipe.stage != stage:
        raise ConfigError(
            f"this is a {recipe.stage} recipe",
            where=str(recipe_path),
            hint=f"run it with 'radrbench train {recipe.stage}'",
        )
    result = run_recipe(recipe, out=out, resume=resume, dry_run=dry_run, max_steps=steps)
    _report(result, dry_run)


def _report(result: TrainResult, dry_run: bool) -> None:
    from radrbench.training.train import is_main_process

    if not is_main_process():
        return
    for note in result.notes:
        console.print(f"note: {note}")
    if dry_run:
        console.print("dry run: the trainer builds; settings as the trainer got them:")
        for name, value in result.settings.items():
            console.print(f"  {name}: {value}")
        return
    console.print(f"trained {result.steps} steps; run directory {result.run_dir}")
    console.print(f"model: {result.final_dir}  (evaluate: radrbench eval --hf {result.final_dir})")
    console.print(f"metrics: {result.run_dir / 'metrics.csv'}")
    for plot in result.plots:
        console.print(f"plot: {plot}")


@app.command("vision")
def vision_command(
    recipe: RecipeOption,
    resume: ResumeOption = False,
    out: OutOption = None,
    max_steps: StepsOption = None,
    dry_run: DryRunOption = False,
) -> None:
    """Vision-encoder pretraining on per-image finding labels (for a model built from scratch)."""
    _train("vision", recipe, resume, out, max_steps, dry_run)


@app.command("sft")
def sft_command(
    recipe: RecipeOption,
    resume: ResumeOption = False,
    out: OutOption = None,
    max_steps: StepsOption = None,
    dry_run: DryRunOption = False,
) -> None:
    """Supervised fine-tuning on <think>chain</think><answer>answer</answer> targets."""
    _train("sft", recipe, resume, out, max_steps, dry_run)


@app.command("grpo")
def grpo_command(
    recipe: RecipeOption,
    resume: ResumeOption = False,
    out: OutOption = None,
    max_steps: StepsOption = None,
    dry_run: DryRunOption = False,
) -> None:
    """GRPO with the format, outcome and (hardened) process rewards."""
    _train("grpo", recipe, resume, out, max_steps, dry_run)


@app.command("demo")
def demo_command(
    out: Annotated[Path, typer.Option("--out", "-o", help="Demo directory.")] = Path(
        "runs/train-demo"
    ),
    quick: Annotated[
        bool, typer.Option("--quick", help="A smoke run: tiny data, 1-2 steps, 2 questions.")
    ] = False,
    studies: Annotated[int | None, typer.Option(min=1, help="Phantom studies.")] = None,
    vision_steps: Annotated[
        int | None, typer.Option(min=1, help="Vision-encoder pretraining optimizer steps.")
    ] = None,
    pretrain_steps: Annotated[
        int | None, typer.Option(min=1, help="Pretraining (finding lists) optimizer steps.")
    ] = None,
    sft_steps: Annotated[int | None, typer.Option(min=1, help="SFT optimizer steps.")] = None,
    grpo_steps: Annotated[int | None, typer.Option(min=1, help="GRPO optimizer steps.")] = None,
    eval_samples: Annotated[
        int | None, typer.Option(min=1, help="Test binary questions per model.")
    ] = None,
) -> None:
    """The toy reproduction on CPU: base -> SFT -> GRPO, evaluated side by side.

    Generates a phantom benchmark, builds the random toy Qwen2-VL, pretrains its vision encoder
    on each training image's finding labels and then the whole model to list them (the base
    model), trains it with the toy SFT recipe and then
    GRPO with the process reward, and evaluates the three models with radrbench eval on the
    same test binary questions: accuracy and RadRScore with 95% CIs, the paired differences
    with theirs, and a leaderboard of the three. A killed demo continues where it stopped when
    run again with the same --out.
    """
    from radrbench.training.demo import QUICK, DemoSettings, run_demo, with_overrides

    settings = with_overrides(
        QUICK if quick else DemoSettings(),
        studies=studies,
        vision_steps=vision_steps,
        pretrain_steps=pretrain_steps,
        sft_steps=sft_steps,
        grpo_steps=grpo_steps,
        eval_samples=eval_samples,
    )
    result = run_demo(out, settings, say=console.print)
    _print_demo(result)


def _print_demo(result: DemoResult) -> None:
    from rich.table import Table

    def ci(pair: tuple[float, float] | None) -> str:
        return "-" if pair is None else f"[{pair[0]:.3f}, {pair[1]:.3f}]"

    def value(number: float | None) -> str:
        return "-" if number is None else f"{number:.3f}"

    table = Table(
        title="toy reproduction: phantom test binary questions (radrbench eval, 95% bootstrap CI)",
        title_justify="left",
    )
    for column in ("model", "n", "accuracy", "95% CI", "parse failed", "RadRScore", "95% CI"):
        table.add_column(column, justify="left" if column == "model" else "right")
    for row in result.rows:
        table.add_row(
            row.model,
            str(row.n),
            value(row.accuracy),
            ci(row.accuracy_ci),
            str(row.parse_failed),
            value(row.radrscore),
            ci(row.radrscore_ci),
        )
    console.print(table)
    for comparison in result.comparisons:
        console.print(
            f"{comparison.name} on the same {comparison.n} questions: "
            + "; ".join(
                f"{what} {difference.value:+.3f} [{difference.ci[0]:+.3f}, "
                f"{difference.ci[1]:+.3f}]"
                f"{' (beyond the 95% CI)' if difference.beyond_ci else ' (within the 95% CI)'}"
                for what, difference in (
                    ("accuracy", comparison.accuracy),
                    ("RadRScore", comparison.radrscore),
                )
                if difference is not None
            ),
            markup=False,
            highlight=False,
        )
    trend = result.grpo
    if trend is not None and trend.guard_first is not None:
        share = trend.reward_share
        console.print(
            f"GRPO rollouts tripping a process-reward guard: {trend.guard_first:.3f} in the "
            f"first half of the steps, {trend.guard_last:.3f} in the second"
            + ("" if share is None else f"; rewards took {share:.1%} of the step time"),
            markup=False,
            highlight=False,
        )
    out = result.out
    console.print(
        f"runs: {out}/vision, {out}/pretrain, {out}/sft, {out}/grpo; evaluations: {out}/eval/",
        markup=False,
        highlight=False,
    )
    if result.leaderboard is not None:
        console.print(f"leaderboard: {result.leaderboard}", markup=False, highlight=False)
    for plot in result.plots:
        console.print(f"plot: {plot}", markup=False, highlight=False)


@app.command("plot")
def plot_command(
    run: Annotated[Path, typer.Argument(help="A training run directory.")],
) -> None:
    """Redraw a run's plots from its metrics.csv."""
    from radrbench.errors import RunError
    from radrbench.training.logs import METRICS_FILE, plot_run

    if not (run / METRICS_FILE).is_file():
        raise RunError(f"no {METRICS_FILE}", where=str(run), hint="is this a training run?")
    for plot in plot_run(run):
        console.print(f"plot: {plot}")


@app.command("reward-check")
def reward_check_command(
    judge: Annotated[str, typer.Option(help="RadRScore judge spec.")] = "offline",
    cases: Annotated[int, typer.Option(min=1, help="Phantom samples per report style.")] = 40,
    seed: Annotated[int, typer.Option(help="Seed of the phantom cases and variants.")] = 0,
) -> None:
    """Can degenerate reasoning earn the process reward? Exit 1 when a requirement is missed.

    Scores the true chain and each degenerate variant (the answer always correct) on phantom
    samples of both report styles: every required variant must score at least 0.5 below the
    true chain on every sample, and correct reasoning above wrong reasoning.
    """
    from radrbench.training.reward_suite import run_reward_suite
    from radrbench.training.rewards import ProcessReward, ProcessRewardConfig

    reward = ProcessReward(ProcessRewardConfig(judge=judge))
    report = asyncio.run(run_reward_suite(reward, n=cases, seed=seed))
    _print_suite(report)
    if not report.met:
        for failure in report.failures:
            console.print(f"[red]missed:[/red] {failure}")
        raise typer.Exit(1)
    console.print("every requirement met")


def _print_suite(report: RewardSuiteReport) -> None:
    from rich.table import Table

    def cell(value: float | None) -> str:
        return "-" if value is None else f"{value:.3f}"

    for style, rows in report.variants.items():
        table = Table(
            title=f"process reward, phantom-{style} ({report.cases[style]} samples, judge "
            f"{report.judge})",
            title_justify="left",
        )
        for column in ("variant", "n", "RadRScore", "base", "reward", "mean gap", "min gap"):
            table.add_column(column, justify="left" if column == "variant" else "right")
        table.add_column("guards tripped (share)")
        for row in rows:
            guards = ", ".join(f"{name} {share:.2f}" for name, share in row.guards.items())
            mark = "*" if row.required else ""
            table.add_row(
                row.variant + mark,
                str(row.n),
                cell(row.mean_radrscore),
                cell(row.mean_base),
                cell(row.mean_reward),
                cell(row.mean_gap),
                cell(row.min_gap),
                guards,
            )
        console.print(table)
        below, total = report.wrong_below_true[style]
        console.print(f"correct above wrong reasoning (both answers right): {below}/{total}")
    console.print("* required: min gap >= 0.5")
