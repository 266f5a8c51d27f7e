"""``radrbench leaderboard add|build|push|pull``: collect runs, publish tables, plots and a
site, and share them through the Hugging Face Hub."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from radrbench.cli._common import console

app = typer.Typer(
    help="Collect finished runs and publish leaderboard tables (CSV, Markdown, LaTeX), plots "
    "and a static site, ranking only what is comparable and sharing ranks within the 95% CI; "
    "push and pull them through the Hugging Face Hub.",
    no_args_is_help=True,
)

ResultsOption = Annotated[
    Path,
    typer.Option(
        "--results",
        help="The leaderboard's results folder (one sub-folder per run).",
    ),
]
DEFAULT_RESULTS = Path("leaderboard/results")


@app.command("add")
def add_command(
    run_dirs: Annotated[
        list[Path], typer.Argument(help="Run directories written by radrbench eval (and score).")
    ],
    results: ResultsOption = DEFAULT_RESULTS,
) -> None:
    """Check runs and copy what the leaderboard needs into RESULTS/<run>/.

    Each run's summary.json is validated (schema, benchmark, tasks, finished), its per-sample
    records and judgments are checked against it, and the summary, configuration, per-sample
    outcomes and every judge's per-sample sub-scores are copied. Nothing is written unless
    every run can be placed. Adding a run again (e.g. after re-scoring) replaces it.
    """
    from radrbench.leaderboard import add_runs

    for added in add_runs(run_dirs, results):
        verb = "updated" if added.updated else "added"
        console.print(f"{verb} {added.model} -> {added.path}", markup=False, highlight=False)


@app.command("build")
def build_command(
    results: ResultsOption = DEFAULT_RESULTS,
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Folder to write the site and tables to.")
    ] = Path("leaderboard/site"),
    reported: Annotated[
        Path | None,
        typer.Option(
            "--reported",
            help="Paper-reported rows (YAML); default: leaderboard/reported.yaml.",
        ),
    ] = None,
    plots: Annotated[bool, typer.Option("--plots/--no-plots", help="Draw the plots.")] = True,
) -> None:
    """Build the tables, plots and static site from the results folder.

    Runs are ranked together only on the same benchmark version, task set, samples per task
    and judge; every other combination gets its own table with the reason. A rank is 1 + the
    number of runs higher beyond the 95% CI of the difference (paired bootstrap over shared
    samples), so runs that cannot be told apart share it. Paper-reported rows are shown
    apart, never ranked; runs scored by several judges get a judge-stability table.
    """
    from radrbench.leaderboard import build_leaderboard

    report = build_leaderboard(results, out, reported_path=reported, plots=plots)
    console.print(
        f"built the leaderboard of {report.runs} run{'s' if report.runs != 1 else ''} "
        f"({report.tables} table{'s' if report.tables != 1 else ''}, {report.tasks} tasks) "
        f"in {report.seconds:.1f} s",
        markup=False,
        highlight=False,
    )
    console.print(f"tables: {report.out / 'tables'}", markup=False, highlight=False)
    console.print(f"open: {report.index.as_uri()}", markup=False, highlight=False)


@app.command("push")
def push_command(
    repo: Annotated[str, typer.Option(help="Hub dataset to publish the runs to (ORG/NAME).")],
    results: ResultsOption = DEFAULT_RESULTS,
    private: Annotated[bool, typer.Option("--private", help="Create the repos private.")] = False,
    site: Annotated[
        Path | None,
        typer.Option(help="Built site to publish too (radrbench leaderboard build --out)."),
    ] = None,
    space: Annotated[
        str | None, typer.Option(help="Publish --site as this static Space (ORG/NAME).")
    ] = None,
    site_to: Annotated[
        Path | None, typer.Option(help="Copy --site into this folder (any web server).")
    ] = None,
) -> None:
    """Publish the runs as a Hub dataset: one folder per run, a dataset card, provenance.

    Uploads each run's summary, configuration, per-sample outcomes and judge sub-scores
    (sample ids and numbers: no images, questions, reports or model outputs) and refuses
    files holding a secret. Needs HF_TOKEN with write access (HF_ENDPOINT picks the Hub).
    """
    from radrbench.errors import ConfigError
    from radrbench.hub.push import copy_site, push_results, push_site

    if (space or site_to) and site is None:
        raise ConfigError("--space and --site-to publish a built site", hint="add --site DIR")
    if site is not None and not (space or site_to):
        raise ConfigError(
            "--site needs a place to go", hint="add --space ORG/NAME or --site-to DIR"
        )
    pushed = push_results(results, repo, private=private)
    console.print(
        f"pushed {len(pushed.paths)} files to dataset {repo} (commit {pushed.commit})",
        markup=False,
        highlight=False,
    )
    if site is not None and space:
        done = push_site(site, space, private=private)
        console.print(f"pushed the site to Space {space} ({done.url})", markup=False)
    if site is not None and site_to is not None:
        copied = copy_site(site, site_to)
        console.print(f"copied {len(copied)} site files to {site_to}", markup=False)


@app.command("pull")
def pull_command(
    repo: Annotated[str, typer.Option(help="Hub dataset pushed by radrbench leaderboard push.")],
    results: ResultsOption = DEFAULT_RESULTS,
    revision: Annotated[str, typer.Option(help="Branch, tag or commit hash.")] = "main",
) -> None:
    """Download a pushed leaderboard's runs into the results folder (then: leaderboard build)."""
    from radrbench.hub.push import pull_results

    commit, runs = pull_results(repo, results, revision)
    console.print(
        f"pulled {len(runs)} runs of {repo} at {commit} into {results}",
        markup=False,
        highlight=False,
    )
