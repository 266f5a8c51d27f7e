"""``radrbench leaderboard build``: tables, plots and the static site from the results folder.

The leaderboard is a function of the results folder (and ``reported.yaml``): the output is
built in a fresh folder next to ``--out`` and swapped in at the end, so a failed build leaves
the previous site as it was, and pages of runs that were removed do not linger.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from radrbench import __version__
from radrbench.errors import ConfigError
from radrbench.leaderboard.board import (
    LABELS,
    RANK_RULE,
    Group,
    est_cell,
    form_groups,
    judge_stability,
    overall_section,
    rank_cell,
    rank_groups,
    reported_section,
    stability_sections,
    task_href,
    task_section,
)
from radrbench.leaderboard.plots import PlotJob, plot_group
from radrbench.leaderboard.ranking import single_threaded_blas
from radrbench.leaderboard.reported import REPORTED_FILE, load_reported
from radrbench.leaderboard.results import Entry, load_results, task_slug
from radrbench.leaderboard.summary import RADRSCORE_PARTS
from radrbench.leaderboard.tables import (
    Cell,
    Column,
    Est,
    Link,
    Section,
    md_text,
    to_csv,
    to_latex,
    to_markdown,
)

MARKER = ".radrbench-leaderboard"


def default_templates() -> Path:
    from radrbench.resources import resource_dir

    return resource_dir("leaderboard") / "templates"


def default_reported() -> Path:
    from radrbench.resources import resource_dir

    return resource_dir("leaderboard") / REPORTED_FILE


@dataclass
class BuildReport:
    out: Path
    runs: int
    tables: int
    tasks: int
    seconds: float
    groups: list[str] = field(default_factory=list)

    @property
    def index(self) -> Path:
        return self.out / "index.html"


_FORMATS = {"csv": "CSV", "md": "Markdown", "tex": "LaTeX"}


def _render_tables(
    sections: Sequence[Section], heading: str, formats: Sequence[str]
) -> dict[str, str]:
    render = {
        "csv": lambda: to_csv(sections),
        "md": lambda: f"# {md_text(heading)}\n\n" + to_markdown(sections),
        "tex": lambda: to_latex(sections),
    }
    return {suffix: render[suffix]() for suffix in formats}


def _write_tables(
    out: Path,
    stem: str,
    sections: Sequence[Section] | None,
    heading: str,
    formats: Sequence[str] = tuple(_FORMATS),
    texts: dict[str, str] | None = None,
) -> list[tuple[str, str]]:
    """Write ``stem.csv|md|tex`` (from ``sections``, or the given ``texts``); return links."""
    (out / stem).parent.mkdir(parents=True, exist_ok=True)
    texts = texts if texts is not None else _render_tables(sections or [], heading, formats)
    for suffix, text in texts.items():
        (out / f"{stem}.{suffix}").write_text(text, "utf-8")
    return [(_FORMATS[suffix], f"{stem}.{suffix}") for suffix in texts]


def model_section(entry: Entry, group: Group) -> Section:
    """The run's results per task, with its ranks in its table."""
    columns = [
        Column("task", "task"),
        Column("rank_outcome", "rank (outcome)", RANK_RULE),
        Column("metric", "metric"),
        Column("outcome", "outcome", "value [95% CI] and n"),
        Column("parse_failed", "parse failures"),
        Column("rank_radrscore", "rank (RadRScore)", RANK_RULE),
        *[Column(name, LABELS[name], "value [95% CI] and n") for name in RADRSCORE_PARTS],
        Column("judge_failures", "judge failures"),
    ]
    s = entry.summary
    metric = group.outcome_metric
    overall = s.radrscore.overall if s.radrscore else None
    rows: list[dict[str, Cell]] = [
        {
            "task": "overall",
            "rank_outcome": rank_cell(group.ranks.get(("overall", metric), {}), entry.slug),
            "metric": LABELS[metric],
            "outcome": est_cell(s.outcome.overall.metrics.get(metric)),
            "parse_failed": s.failures.parse_failures,
            "rank_radrscore": rank_cell(group.ranks.get(("overall", "radrscore"), {}), entry.slug),
            **{
                name: est_cell(getattr(overall, name)) if overall else Est(None)
                for name in RADRSCORE_PARTS
            },
            "judge_failures": overall.judge_failures if overall else None,
        }
    ]
    for task, result in s.tasks.items():
        radr = s.radrscore.by_task.get(task) if s.radrscore else None
        rows.append(
            {
                "task": Link(task, task_href(task)),
                "rank_outcome": rank_cell(group.ranks.get((task, result.primary), {}), entry.slug),
                "metric": LABELS.get(result.primary, result.primary),
                "outcome": est_cell(result.metrics.get(result.primary)),
                "parse_failed": result.parse_failed,
                "rank_radrscore": rank_cell(group.ranks.get((task, "radrscore"), {}), entry.slug),
                **{
                    name: est_cell(getattr(radr, name)) if radr else Est(None)
                    for name in RADRSCORE_PARTS
                },
                "judge_failures": radr.judge_failures if radr else None,
            }
        )
    return Section(
        f"run-{entry.slug}",
        f"{s.model.name} ({s.run_id}): results per task",
        columns,
        rows,
        notes=[RANK_RULE + f" Ranks are within {group.title}."],
        fields=group.describe(),
    )


def _facts(entry: Entry) -> list[tuple[str, list[tuple[str, str]]]]:
    s = entry.summary

    def text(value: Any) -> str:
        return "-" if value is None or value == "" else str(value)

    judge = s.judge
    failures, usage = s.failures, s.usage
    return [
        (
            "Model",
            [
                ("name", s.model.name),
                ("kind", text(s.model.kind)),
                ("baseline", text(s.model.baseline)),
                ("revision", text(s.model.revision)),
                ("engine", text(s.model.engine)),
                ("prompt profile", text(s.model.prompt_profile)),
            ],
        ),
        (
            "Benchmark",
            [
                ("name", s.benchmark.name),
                ("version", s.benchmark.version),
                ("samples generated", str(s.benchmark.n_samples)),
                (
                    "samples per task",
                    "all" if s.benchmark.limit is None else f"at most {s.benchmark.limit}",
                ),
                ("tasks", str(len(s.tasks))),
            ],
        ),
        (
            "Judge",
            [
                ("spec", judge.spec if judge else "not judged"),
                ("version", judge.version if judge else "-"),
                (
                    "other judges",
                    ", ".join(
                        sorted({k[0] for k in entry.judgments} - {judge.spec if judge else ""})
                    )
                    or "-",
                ),
            ],
        ),
        (
            "Failures and usage",
            [
                ("request failures", str(failures.request_failures)),
                ("parse failures", str(failures.parse_failures)),
                ("judge failures", str(failures.judge_failures)),
                ("requests", str(usage.requests)),
                ("prompt tokens", str(usage.prompt_tokens)),
                ("completion tokens", str(usage.completion_tokens)),
                ("cost (USD)", "-" if usage.cost_usd is None else f"{usage.cost_usd:.4f}"),
            ],
        ),
        (
            "Versions",
            [
                ("radrbench", s.radrbench_version),
                ("lm-eval", s.lm_eval_version),
                ("summary schema", s.schema_version),
                ("finished", text(s.run.get("finished_at"))),
            ],
        ),
    ]


def _flat_config(config: dict[str, Any] | None, prefix: str = "") -> list[tuple[str, str]]:
    if not config:
        return []
    out: list[tuple[str, str]] = []
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out += _flat_config(value, f"{name}.")
        else:
            out.append(
                (
                    name,
                    json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else value,
                )
            )
    return out


def _prepare_out(out: Path) -> Path:
    """A fresh staging folder for ``out`` (refusing to replace a folder that is not a site)."""
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / MARKER).is_file())):
        raise ConfigError(
            "exists and is not a leaderboard site built by radrbench; not replacing it",
            where=str(out),
            hint="choose an empty or new folder for --out",
        )
    staging = out.parent / f".{out.name}.building"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    (staging / MARKER).write_text("built by radrbench leaderboard build\n", "utf-8")
    return staging


def _swap(staging: Path, out: Path) -> None:
    old = out.parent / f".{out.name}.old"
    shutil.rmtree(old, ignore_errors=True)
    if out.exists():
        out.replace(old)
    staging.replace(out)
    shutil.rmtree(old, ignore_errors=True)


@dataclass
class _GroupView:
    id: str
    title: str
    reasons: list[str]
    section: Section
    plots: list[Any]


def _write_provenance(site: Path, entries: list[Entry]) -> None:
    """Record in the site where its numbers came from (``provenance.json``)."""
    from radrbench.hub.provenance import PROVENANCE_FILE, leaderboard_provenance

    text = json.dumps(leaderboard_provenance(entries), indent=2, ensure_ascii=False) + "\n"
    (site / PROVENANCE_FILE).write_text(text, "utf-8")


def build_leaderboard(
    results_dir: Path,
    out: Path,
    *,
    reported_path: Path | None = None,
    templates: Path | None = None,
    plots: bool = True,
) -> BuildReport:
    """Build tables (CSV, Markdown, LaTeX), plots and the site from ``results_dir`` into ``out``."""
    from radrbench.leaderboard.site import SiteRenderer

    started = time.perf_counter()
    entries = load_results(results_dir)
    reported = load_reported(reported_path if reported_path is not None else default_reported())
    templates = templates or default_templates()
    out = out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = _prepare_out(out)
    plot_job: PlotJob | None = None
    try:
        groups = form_groups(entries)
        if plots and groups:
            plot_job = PlotJob([plot_group(group) for group in groups], staging)
        with single_threaded_blas():
            rank_groups(groups)
            stability = judge_stability(entries)
        group_of = {entry.slug: group for group in groups for entry in group.entries}
        tasks = sorted({task for entry in entries for task in entry.summary.tasks})
        task_files = [(task, task_slug(task)) for task in tasks]

        overall = [overall_section(group) for group in groups]
        by_task = {
            task: [task_section(g, task) for g in groups if task in g.key.tasks] for task in tasks
        }
        stability_secs = [section for item in stability for section in stability_sections(item)]
        reported_sec = reported_section(reported) if reported else None

        downloads = [
            ("overall", _write_tables(staging, "tables/overall", overall, "Leaderboard: overall"))
        ]
        task_texts = {
            task: _render_tables(by_task[task], f"Leaderboard: {task}", tuple(_FORMATS))
            for task in tasks
        }
        task_downloads = {
            task: _write_tables(staging, f"tables/tasks/{slug}", None, "", texts=task_texts[task])
            for task, slug in task_files
        }
        every_task = [section for task in tasks for section in by_task[task]]
        joined = {
            "csv": to_csv(every_task),
            "md": "# Leaderboard: per task\n\n"
            + "\n".join(texts["md"].split("\n\n", 1)[1] for texts in task_texts.values()),
            "tex": "\n".join(texts["tex"] for texts in task_texts.values()),
        }
        downloads.append(
            ("all tasks", _write_tables(staging, "tables/tasks", None, "", texts=joined))
        )
        if stability_secs:
            downloads.append(
                (
                    "judge stability",
                    _write_tables(
                        staging, "tables/judge-stability", stability_secs, "Judge stability"
                    ),
                )
            )
        if reported_sec is not None:
            downloads.append(
                (
                    "reported by papers",
                    _write_tables(staging, "tables/reported", [reported_sec], "Reported by papers"),
                )
            )

        plot_map = plot_job.result() if plot_job is not None else {}
        plot_job = None
        site = SiteRenderer(templates, staging)
        common = {
            "built": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "version": __version__,
            "rank_rule": RANK_RULE,
        }
        views = [
            _GroupView(g.id, g.title, g.reasons, section, plot_map.get(g.id, []))
            for g, section in zip(groups, overall, strict=True)
        ]
        site.render(
            "index.html.j2",
            "index.html",
            groups=views,
            entries=sorted(entries, key=lambda e: (e.summary.model.name.lower(), e.slug)),
            tasks=task_files,
            reported=reported_sec,
            stability=stability_secs,
            downloads=downloads,
            **common,
        )
        for task, slug in task_files:
            spec = next(e.summary.tasks[task] for e in entries if task in e.summary.tasks)
            task_plots = [
                p for g in groups if task in g.key.tasks for p in plot_map.get(g.id, [])[:1]
            ]
            site.render(
                "task.html.j2",
                f"tasks/{slug}.html",
                task=task,
                description=f"Source {spec.source}, family {spec.family}, primary metric "
                f"{LABELS.get(spec.primary, spec.primary)}.",
                sections=by_task[task],
                reported=reported_section(reported, task)
                if any(task in r.tasks for r in reported)
                else None,
                plots=task_plots,
                files=task_downloads[task],
                **common,
            )
        for entry in entries:
            group = group_of[entry.slug]
            section = model_section(entry, group)
            files = _write_tables(
                staging,
                f"tables/models/{entry.slug}",
                [section],
                entry.summary.model.name,
                formats=("csv", "md"),
            )
            run_dir = staging / "runs" / entry.slug
            run_dir.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(entry.path / "summary.json", run_dir / "summary.json")
            site.render(
                "model.html.j2",
                f"models/{entry.slug}.html",
                entry=entry,
                group=group,
                facts=_facts(entry),
                section=section,
                config=_flat_config(entry.config),
                tasks=[(task, task_slug(task)) for task in entry.summary.tasks],
                files=[*files, ("summary.json", f"runs/{entry.slug}/summary.json")],
                **common,
            )
        _write_provenance(staging, entries)
        _swap(staging, out)
    except BaseException:
        if plot_job is not None:
            plot_job.cancel()
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return BuildReport(
        out,
        len(entries),
        len(groups),
        len(tasks),
        time.perf_counter() - started,
        [g.title for g in groups],
    )
