"""Leaderboard plots with matplotlib (Agg, no display): per-task bars with 95% CIs, and
outcome against RadRScore per model.

The build hands :class:`PlotGroup` records (plain data) to :func:`draw_all`, which it runs
in a second process while it ranks runs and renders tables and pages: importing matplotlib
and drawing take about as long as everything else. Bars are one polygon collection and
the CIs one line collection, so 50 runs x 21 tasks draw in a fraction of a second. Model
names are drawn as plain text (no mathtext: a ``$`` in a name is a dollar sign).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from radrbench.leaderboard.board import LABELS, Group
from radrbench.leaderboard.summary import Estimate

if TYPE_CHECKING:
    from matplotlib.figure import Figure

_DPI = 100
Interval = tuple[float, float, float]  # value, CI low, CI high


@dataclass(frozen=True)
class Plot:
    path: str  # relative to the site root
    title: str
    alt: str


@dataclass(frozen=True)
class PlotRun:
    name: str
    tasks: tuple[Interval | None, ...]  # primary outcome metric per task of the group
    outcome: Interval | None
    radrscore: Interval | None


@dataclass(frozen=True)
class PlotGroup:
    id: str
    title: str
    tasks: tuple[str, ...]
    outcome_metric: str
    runs: tuple[PlotRun, ...]


def _interval(est: Estimate | None) -> Interval | None:
    if est is None or est.value is None:
        return None
    low = est.value if est.ci_low is None else est.ci_low
    high = est.value if est.ci_high is None else est.ci_high
    return (est.value, low, high)


def plot_group(group: Group) -> PlotGroup:
    """What the plots of a group show, as plain data."""
    runs = []
    names = [entry.summary.model.name for entry in group.entries]
    for entry in group.entries:
        s = entry.summary
        name = s.model.name if names.count(s.model.name) == 1 else f"{s.model.name} ({s.run_id})"
        tasks = tuple(
            _interval(s.tasks[task].metrics.get(s.tasks[task].primary)) for task in group.key.tasks
        )
        overall = s.radrscore.overall if s.radrscore else None
        runs.append(
            PlotRun(
                name,
                tasks,
                _interval(s.outcome.overall.metrics.get(group.outcome_metric)),
                _interval(overall.radrscore) if overall else None,
            )
        )
    return PlotGroup(group.id, group.title, group.key.tasks, group.outcome_metric, tuple(runs))


def _short(name: str, limit: int = 40) -> str:
    return name if len(name) <= limit else name[: limit - 1] + "…"


def _colors(n: int) -> list[tuple[float, float, float, float]]:
    import matplotlib

    cmap = matplotlib.colormaps["tab10" if n <= 10 else "tab20"]
    return [cmap(i % cmap.N) for i in range(n)]


def _save(fig: Figure, out: Path, name: str) -> None:
    (out / name).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out / name, dpi=_DPI)


def task_bars(group: PlotGroup, out: Path) -> Plot:
    """The primary outcome metric of every task, one bar per run, with 95% CIs."""
    import numpy as np
    from matplotlib.collections import LineCollection, PolyCollection
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    m, t = len(group.runs), len(group.tasks)
    width = 0.8 / max(m, 1)
    cells = np.full((m, t, 3), np.nan)
    for i, run in enumerate(group.runs):
        for j, interval in enumerate(run.tasks):
            if interval is not None:
                cells[i, j] = interval
    x = np.arange(t)[None, :] + (np.arange(m)[:, None] - (m - 1) / 2) * width
    keep = ~np.isnan(cells[:, :, 0])
    left, height = x[keep] - width / 2, cells[:, :, 0][keep]
    colors = np.repeat(np.asarray(_colors(m)), t, axis=0).reshape(m, t, 4)[keep]
    zeros = np.zeros_like(left)
    verts = np.stack(
        [
            np.stack([left, zeros], 1),
            np.stack([left, height], 1),
            np.stack([left + width, height], 1),
            np.stack([left + width, zeros], 1),
        ],
        1,
    )
    segments = np.stack(
        [
            np.stack([x[keep], cells[:, :, 1][keep]], 1),
            np.stack([x[keep], cells[:, :, 2][keep]], 1),
        ],
        1,
    )
    columns = 1 if m <= 25 else 2
    legend_width = 1.9 * columns  # inches for the legend right of the axes
    fig_width = max(4.0, 0.45 * t + 1.2) + legend_width
    fig = Figure(figsize=(fig_width, 4.4))
    # Fixed margins instead of tight_layout, which draws the figure twice.
    fig.subplots_adjust(
        left=0.7 / fig_width, right=1 - legend_width / fig_width, bottom=0.3, top=0.92
    )
    ax = fig.add_subplot()
    ax.add_collection(PolyCollection(list(verts), facecolors=colors, linewidths=0))
    ax.add_collection(LineCollection(list(segments), colors="black", linewidths=0.6))
    ax.set_xlim(-0.5, t - 0.5)
    ax.set_ylim(0, 1.02)
    ax.set_xticks(np.arange(t), [task.removeprefix("radrbench_") for task in group.tasks])
    ax.tick_params(axis="x", labelrotation=45, labelsize=7)
    for label in ax.get_xticklabels():
        label.set_horizontalalignment("right")
    ax.set_ylabel("accuracy (label F1 for multi_open), 95% CI")
    ax.set_title(f"{group.title}: per-task outcome with 95% CIs", loc="left")
    handles = [
        Patch(color=color, label=_short(run.name))
        for run, color in zip(group.runs, _colors(m), strict=True)
    ]
    ax.legend(
        handles=handles,
        fontsize=6,
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        ncol=columns,
        frameon=False,
    )
    ax.grid(axis="y", linewidth=0.3)
    name = f"plots/{group.id}-tasks.png"
    _save(fig, out, name)
    return Plot(
        name,
        f"{group.title}: per-task outcome",
        f"Bar chart: per task, each run's primary outcome metric with its 95% CI ({group.title})",
    )


def scatter(group: PlotGroup, out: Path) -> Plot | None:
    """Overall outcome (x) against RadRScore (y), each with its 95% CI, one point per run."""
    import numpy as np
    from matplotlib.figure import Figure

    rows = [
        (run.name, run.outcome, run.radrscore)
        for run in group.runs
        if run.outcome is not None and run.radrscore is not None
    ]
    if not rows:
        return None
    xs = np.asarray([r[1][0] for r in rows if r[1] is not None])
    ys = np.asarray([r[2][0] for r in rows if r[2] is not None])
    xerr = np.asarray([(r[1][0] - r[1][1], r[1][2] - r[1][0]) for r in rows if r[1]]).T
    yerr = np.asarray([(r[2][0] - r[2][1], r[2][2] - r[2][0]) for r in rows if r[2]]).T
    metric = LABELS[group.outcome_metric]
    fig = Figure(figsize=(6.0, 4.5))
    fig.subplots_adjust(left=0.11, right=0.97, bottom=0.11, top=0.93)
    ax = fig.add_subplot()
    ax.errorbar(xs, ys, xerr=xerr, yerr=yerr, fmt="o", ms=3, lw=0.6, capsize=0)
    for (name, _, _), x, y in zip(rows, xs, ys, strict=True):
        ax.annotate(_short(name, 28), (x, y), xytext=(3, 3), textcoords="offset points", fontsize=6)
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel(f"{metric} (all tasks), 95% CI")
    ax.set_ylabel("RadRScore (all tasks), 95% CI")
    ax.set_title(f"{group.title}: {metric} against RadRScore", loc="left")
    ax.grid(linewidth=0.3)
    name = f"plots/{group.id}-outcome-vs-radrscore.png"
    _save(fig, out, name)
    return Plot(
        name,
        f"{group.title}: {metric} against RadRScore",
        f"Scatter plot: each run's {metric} against its RadRScore with 95% CIs ({group.title})",
    )


def draw_all(groups: Sequence[PlotGroup], out: Path) -> dict[str, list[Plot]]:
    """Every group's plots, written under ``out/plots/``; plot lists by group id."""
    import matplotlib

    matplotlib.use("Agg")
    drawn: dict[str, list[Plot]] = {}
    with matplotlib.rc_context({"text.parse_math": False, "font.size": 8}):
        for group in groups:
            plots = [task_bars(group, out)]
            point = scatter(group, out)
            if point is not None:
                plots.append(point)
            drawn[group.id] = plots
    return drawn


class PlotJob:
    """:func:`draw_all` in a second process (in this one if none can be started)."""

    def __init__(self, groups: Sequence[PlotGroup], out: Path):
        self._groups, self._out = list(groups), out
        self._future: Any = None
        self._pool: Any = None
        try:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            self._pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
            self._future = self._pool.submit(draw_all, self._groups, out)
        except (OSError, RuntimeError, ImportError):
            self._pool = self._future = None

    def result(self) -> dict[str, list[Plot]]:
        if self._future is None:
            return draw_all(self._groups, self._out)
        try:
            return dict(self._future.result())
        finally:
            self._pool.shutdown()

    def cancel(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
