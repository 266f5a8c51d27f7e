"""``radrbench score``, ``metric-check`` and ``judge-agreement``: RadRScore and its judges."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated, Any

import typer

from radrbench.cli._common import console, progress_bar
from radrbench.eval.commands import record_command

JudgeOption = Annotated[
    str, typer.Option("--judge", help="Judge spec: offline, or openai:MODEL[@BASE_URL].")
]


def print_radrscore_table(summary: dict[str, Any]) -> None:
    from rich.table import Table

    result = summary.get("radrscore") or {}
    judge = (summary.get("judge") or {}).get("spec", "?")
    if not result.get("by_task"):
        console.print("RadRScore: no samples with reference reasoning in this run")
        return
    table = Table(
        title=f"RadRScore — judge {judge} (fact./compl./effect.: factuality, completeness, "
        "effectiveness)",
        title_justify="left",
    )
    table.add_column("task", no_wrap=True)
    for column in ("n", "RadRScore", "95% CI", "fact.", "compl.", "effect.", "failed"):
        table.add_column(column, justify="right")

    def value(entry: dict[str, Any]) -> str:
        return "-" if entry["value"] is None else f"{entry['value']:.3f}"

    rows = [*result["by_task"].items(), ("[bold]overall[/bold]", result["overall"])]
    for name, group in rows:
        score = group["radrscore"]
        interval = (
            "-" if score["value"] is None else f"{score['ci_low']:.2f}-{score['ci_high']:.2f}"
        )
        table.add_row(
            name.removeprefix("radrbench_"),
            str(group["n"]),
            value(score),
            interval,
            *(value(group[key]) for key in ("factuality", "completeness", "effectiveness")),
            str(group["judge_failures"]),
        )
    console.print(table)


def judge_run_dir(run_dir: Path, judge: str, concurrency: int) -> dict[str, Any]:
    from radrbench.eval.scoring import score_run

    def progress(done: int, total: int) -> None:
        bar.total(total)
        bar(done)

    with progress_bar(f"judging ({judge})", None) as bar:
        return score_run(run_dir, judge, concurrency=concurrency, progress=progress)


def score_command(
    run_dir: Annotated[Path, typer.Argument(help="A run directory written by radrbench eval.")],
    judge: JudgeOption = "offline",
    concurrency: Annotated[int, typer.Option(min=1, help="Judge calls in flight at most.")] = 16,
) -> None:
    """Re-score a finished run's reasoning with any judge, without regenerating.

    Writes RUN/judgments/<judge>.jsonl (findings and step labels behind every score) and
    records RadRScore, the judge spec and its prompt version in RUN/summary.json.
    """
    summary = judge_run_dir(run_dir, judge, concurrency)
    record_command(run_dir)
    print_radrscore_table(summary)


def judge_agreement_command(
    file: Annotated[Path, typer.Argument(help="Released GPT-4o judgments (JSONL).")],
    judge: JudgeOption = "offline",
    limit: Annotated[int | None, typer.Option(min=1, help="Only the first N records.")] = None,
) -> None:
    """Agreement of a judge with released GPT-4o RadRScore judgments.

    Prints per sub-score the per-sample Spearman correlation and how the two judges order
    systems: of the pairs of models on the same task, those GPT-4o separates beyond its
    bootstrap 95% CI (paired over shared items), and how many of those this judge orders
    the same way (the other pairs are coin flips); and whether it ranks the models (all
    tasks pooled) as GPT-4o does.
    """
    from rich.table import Table

    from radrbench.errors import DataError
    from radrbench.metrics.agreement import judge_agreement
    from radrbench.metrics.judges import get_judge

    if not file.is_file():
        raise DataError(
            "judgments file not found",
            where=str(file),
            hint="see ../shared/data/README.md for the released GPT-4o judgments",
        )
    built = get_judge(judge)

    async def run() -> Any:
        try:
            return await judge_agreement(file, built, limit)
        finally:
            await built.aclose()

    report = asyncio.run(run())
    table = Table(
        title=f"agreement with GPT-4o — judge {judge}",
        title_justify="left",
        caption="system pairs: two models on the same task; separated by GPT-4o: its bootstrap "
        "95% CI of the difference excludes 0; ordered alike: of those, the pairs this judge "
        "orders the same way; models ordered alike: both judges rank the models' means over "
        "all their tasks alike (raw, no CI)",
        caption_justify="left",
    )
    table.add_column("records", no_wrap=True)
    table.add_column("sub-score", no_wrap=True)
    for column in (
        "Spearman",
        "n",
        "judge failed",
        "system pairs",
        "separated by GPT-4o",
        "ordered alike",
        "models ordered alike",
    ):
        table.add_column(column, justify="right")
    for part_name in ("all", "development", "held_out"):
        part = getattr(report, part_name)
        for name, agreement in part.sub_scores.items():
            spearman, models = agreement.spearman, agreement.models_ordered_alike
            table.add_row(
                f"{part_name} ({part.n})",
                name,
                "-" if spearman is None else f"{spearman:.3f}",
                str(agreement.n),
                str(agreement.judge_failures),
                str(len(agreement.pairs)),
                str(agreement.separated_pairs),
                str(agreement.separated_ordered_alike),
                "-" if models is None else ("yes" if models else "no"),
            )
    console.print(table)
