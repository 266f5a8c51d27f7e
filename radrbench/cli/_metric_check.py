"""``radrbench metric-check``: does a judge's RadRScore move as it should, and resist gaming?"""

from __future__ import annotations

import asyncio
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import typer

from radrbench.cli._common import console
from radrbench.cli._score import JudgeOption

if TYPE_CHECKING:
    from radrbench.metrics.adversarial import AdversarialReport
    from radrbench.metrics.validity import ValidityReport

ORDERING_TARGET = 0.95
STABILITY_TARGET = 0.9


class Suite(StrEnum):
    validity = "validity"
    adversarial = "adversarial"
    all = "all"


def metric_check_command(
    judge: JudgeOption = "offline",
    suite: Annotated[
        Suite,
        typer.Option(
            help="validity: controlled edits must move the right sub-score; adversarial: "
            "degenerate reasoning must not score; all: both."
        ),
    ] = Suite.validity,
    reports: Annotated[
        int, typer.Option(min=1, help="Validity: IU-Xray reports to build cases from.")
    ] = 200,
    sources: Annotated[
        str,
        typer.Option(
            help="Validity: comma-separated sources (iu-xray, phantom-archive, phantom-openi)."
        ),
    ] = "iu-xray,phantom-archive",
    phantom_reports: Annotated[
        int | None,
        typer.Option(
            min=1, help="Validity: phantom studies per phantom source (default: --reports)."
        ),
    ] = None,
    cases: Annotated[
        int, typer.Option(min=1, help="Adversarial: references per source (IU-Xray, phantom).")
    ] = 60,
    seed: Annotated[int, typer.Option(help="Seed for the variants.")] = 0,
) -> None:
    """Check a RadRScore judge on real IU-Xray reports and phantom reports of two styles.

    validity: dropped findings must lower completeness, flipped findings factuality,
    unsupported steps effectiveness, and a paraphrase must change little (targets on IU-Xray:
    ordering >= 0.95, stability >= 0.9); for phantom reports, the judge's extraction is also
    checked against their truth. adversarial: word salad, loops, echoes, boilerplate,
    repetition and claims about every finding, scored against the true chain, with bounds.
    Exits 1 when a target or bound is missed.
    """
    from radrbench.metrics.judges import get_judge

    built = get_judge(judge)
    wanted = [name.strip() for name in sources.split(",") if name.strip()]

    async def run() -> tuple[ValidityReport | None, AdversarialReport | None]:
        from radrbench.metrics.adversarial import run_adversarial_suite
        from radrbench.metrics.validity import run_validity_suite

        try:
            validity = adversarial = None
            if suite in (Suite.validity, Suite.all):
                validity = await run_validity_suite(
                    built,
                    n_reports=reports,
                    seed=seed,
                    sources=wanted,
                    phantom_reports=phantom_reports,
                )
            if suite in (Suite.adversarial, Suite.all):
                adversarial = await run_adversarial_suite(built, n=cases, seed=seed)
            return validity, adversarial
        finally:
            await built.aclose()

    validity, adversarial = asyncio.run(run())
    missed = 0
    if validity is not None:
        missed += _print_validity(judge, validity)
    if adversarial is not None:
        missed += _print_adversarial(judge, adversarial)
    if missed:
        console.print(f"[red]{missed} target(s) or bound(s) missed[/red]")
        raise typer.Exit(1)
    console.print("every target and bound met")


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _print_validity(judge: str, report: ValidityReport) -> int:
    """The validity tables; returns how many IU-Xray targets were missed."""
    from rich.table import Table

    table = Table(title=f"metric validity — judge {judge}", title_justify="left")
    for column in ("source", "reports", "sub-score", "pairs", "ordered correctly", "judge failed"):
        table.add_column(column, justify="left" if column in ("source", "sub-score") else "right")
    table.add_column("paraphrase stability", justify="right")
    missed = 0
    for source, part in report.by_source.items():
        for name, ordering in part.ordering.items():
            stability = part.paraphrase_stability.get(name)
            target = source == "iu-xray"
            low = target and (ordering.accuracy or 0.0) < ORDERING_TARGET
            unstable = target and (stability or 0.0) < STABILITY_TARGET
            missed += low + unstable
            table.add_row(
                source,
                str(part.n_reports),
                name,
                str(ordering.pairs),
                _flag(_number(ordering.accuracy), low),
                str(ordering.failed),
                _flag(_number(stability), unstable),
            )
    console.print(table)
    console.print(
        f"targets on iu-xray: ordering >= {ORDERING_TARGET}, paraphrase stability >= "
        f"{STABILITY_TARGET}"
    )
    if report.truth:
        truth = Table(
            title="extraction from phantom reports against their truth", title_justify="left"
        )
        for column in (
            "source",
            "reports",
            "findings",
            "found",
            "right status",
            "present / absent / uncertain",
            "right side",
            "spurious",
            "contradicting",
        ):
            truth.add_column(column, justify="left" if column == "source" else "right")
        for source, check in report.truth.items():
            statuses = " / ".join(
                f"{count.correct}/{count.findings}" for count in check.by_status.values()
            )
            truth.add_row(
                source,
                str(check.n_reports),
                str(check.truth_findings),
                _number(check.recall),
                _number(check.correct_rate),
                statuses,
                _number(check.located_rate),
                _number(check.spurious_rate),
                _number(check.contradicting_rate),
            )
        console.print(truth)
    return missed


def _print_adversarial(judge: str, report: AdversarialReport) -> int:
    """The adversarial tables; returns how many bounds were missed."""
    from rich.table import Table

    from radrbench.metrics.radrscore import SUB_SCORES

    failed = {(b.source, b.variant) for b in report.bounds if not b.met}
    for source, rows in report.scores.items():
        table = Table(
            title=f"adversarial — judge {judge}, {source}, {report.cases[source]} references",
            title_justify="left",
        )
        for column in ("variant", "factuality", "completeness", "effectiveness", "bound"):
            table.add_column(column, justify="left" if column in ("variant", "bound") else "right")
        rules = {b.variant: b for b in report.bounds if b.source == source}
        for row in rows:
            bad = (source, row.variant) in failed
            rule = rules.get(row.variant)
            note = "" if rule is None else ("missed: " if bad else "met: ") + rule.rule
            if row.variant == "every finding absent":
                note = "high factuality by the protocol's rule (reported, no bound)"
            values: list[Any] = [_number(getattr(row, name)) for name in SUB_SCORES]
            table.add_row(row.variant, *values, _flag(note, bad) if note else "")
        console.print(table)
    return len(failed)


def _flag(text: str, bad: bool) -> str:
    return f"[red]{text}[/red]" if bad else text
