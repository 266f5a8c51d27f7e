"""Leaderboard plots with matplotlib (Agg, no display): per-task bars with 95% CIs, and
outcome against RadRScore per model.

Bars are one polygon collection and the CIs one line collection, so a table of 50 runs and
21 tasks draws in a fraction of a second. Model names are drawn as plain text (no mathtext:
a ``$`` in a name is a dollar sign, not a formula).
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np
from matplotlib.collections import LineCollection, PolyCollection
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from radrbench.leaderboard.board import LABELS, Group
from radrbench.leaderboard.summary import Estimate


def _style() -> AbstractContextManager[None]:
    """Plain-text labels (no mathtext) in a small font."""
    return matplotlib.rc_context({"text.parse_math": False, "font.size": 8})


_DPI = 100


@dataclass(frozen=True)
class Plot:
    path: str  # relative to the site root
    title: str
    alt: str


def _colors(n: int) -> list[tuple[float, float, float, float]]:
    cmap = matplotlib.colormaps["tab10" if n <= 10 else "tab20"]
    return [cmap(i % cmap.N) for i in range(n)]


def _short(name: str, limit: int = 40) -> str:
    return name if len(name) <= limit else name[: limit - 1] + "…"


def task_bars(group: Group, out: Path) -> Plot:
    """The primary outcome metric of every task, one bar per run, with 95% CIs."""
    tasks = list(group.key.tasks)
    entries = group.entries
    m, t = len(entries), len(tasks)
    width = 0.8 / max(m, 1)
    values = np.full((m, t), np.nan)
    lows = np.full((m, t), np.nan)
    highs = np.full((m, t), np.nan)
    for i, entry in enumerate(entries):
        for j, task in enumerate(tasks):
            result = entry.summary.tasks[task]
            est: Estimate | None = result.metrics.get(result.primary)
            if est is not None and est.value is not None:
                values[i, j] = est.value
                lows[i, j] = est.value if est.ci_low is None else est.ci_low
                highs[i, j] = est.value if est.ci_high is None else est.ci_high
    x = np.arange(t)[None, :] + (np.arange(m)[:, None] - (m - 1) / 2) * width
    keep = ~np.isnan(values)
    left, height = x[keep] - width / 2, values[keep]
    colors = np.repeat(np.asarray(_colors(m)), t, axis=0).reshape(m, t, 4)[keep]
    verts = np.stack(
        [
            np.stack([left, np.zeros_like(left)], 1),
            np.stack([left, height], 1),
            np.stack([left + width, height], 1),
            np.stack([left + width, np.zeros_like(left)], 1),
        ],
        1,
    )
    with _style():
        fig = Figure(figsize=(max(6.0, 0.5 * t + 3), 4.2))
        ax = fig.add_subplot()
        ax.add_collection(PolyCollection(list(verts), facecolors=colors, linewidths=0))
        segments = np.stack(
            [np.stack([x[keep], lows[keep]], 1), np.stack([x[keep], highs[keep]], 1)], 1
        )
        ax.add_collection(LineCollection(list(segments), colors="black", linewidths=0.6))
        ax.set_xlim(-0.5, t - 0.5)
        ax.set_ylim(0, 1.02)
        ax.set_xticks(np.arange(t), [task.removeprefix("radrbench_") for task in tasks])
        ax.tick_params(axis="x", labelrotation=45, labelsize=7)
        for label in ax.get_xticklabels():
            label.set_horizontalalignment("right")
        ax.set_ylabel("accuracy (label F1 for multi_open), 95% CI")
        ax.set_title(f"{group.title}: per-task outcome with 95% CIs", loc="left")
        handles = [
            Patch(color=color, label=_short(entry.summary.model.name))
            for entry, color in zip(entries, _colors(m), strict=True)
        ]
        ax.legend(
            handles=handles,
            fontsize=6,
            loc="upper left",
            bbox_to_anchor=(1.01, 1.0),
            ncol=1 if m <= 25 else 2,
            frameon=False,
        )
        ax.grid(axis="y", linewidth=0.3)
        fig.tight_layout()
        name = f"plots/{group.id}-tasks.png"
        fig.savefig(out / name, dpi=_DPI)
    return Plot(
        name,
        f"{group.title}: per-task outcome",
        f"Bar chart: per task, each run's primary outcome metric with its 95% CI ({group.title})",
    )


def scatter(group: Group, out: Path) -> Plot | None:
    """Overall outcome (x) against RadRScore (y), each with its 95% CI, one point per run."""
    metric = group.outcome_metric
    rows = []
    for entry in group.entries:
        outcome = entry.summary.outcome.overall.metrics.get(metric)
        radr = entry.summary.radrscore.overall if entry.summary.radrscore else None
        if outcome is None or outcome.value is None or radr is None or radr.radrscore.value is None:
            continue
        rows.append((entry.summary.model.name, outcome, radr.radrscore))
    if not rows:
        return None

    def err(est: Estimate) -> tuple[float, float]:
        assert est.value is not None
        low = est.value if est.ci_low is None else est.ci_low
        high = est.value if est.ci_high is None else est.ci_high
        return (est.value - low, high - est.value)

    xs = np.asarray([r[1].value for r in rows], dtype=float)
    ys = np.asarray([r[2].value for r in rows], dtype=float)
    xerr = np.asarray([err(r[1]) for r in rows]).T
    yerr = np.asarray([err(r[2]) for r in rows]).T
    with _style():
        fig = Figure(figsize=(6.0, 4.5))
        ax = fig.add_subplot()
        ax.errorbar(xs, ys, xerr=xerr, yerr=yerr, fmt="o", ms=3, lw=0.6, capsize=0)
        for (name, _, _), x, y in zip(rows, xs, ys, strict=True):
            ax.annotate(
                _short(name, 28), (x, y), xytext=(3, 3), textcoords="offset points", fontsize=6
            )
        ax.set_xlim(-0.02, 1.02)
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel(f"{LABELS[metric]} (all tasks), 95% CI")
        ax.set_ylabel("RadRScore (all tasks), 95% CI")
        ax.set_title(f"{group.title}: {LABELS[metric]} against RadRScore", loc="left")
        ax.grid(linewidth=0.3)
        fig.tight_layout()
        name = f"plots/{group.id}-outcome-vs-radrscore.png"
        fig.savefig(out / name, dpi=_DPI)
    return Plot(
        name,
        f"{group.title}: {LABELS[metric]} against RadRScore",
        f"Scatter plot: each run's {LABELS[metric]} against its RadRScore with 95% CIs "
        f"({group.title})",
    )


def group_plots(group: Group, out: Path) -> list[Plot]:
    (out / "plots").mkdir(parents=True, exist_ok=True)
    plots = [task_bars(group, out)]
    point = scatter(group, out)
    if point is not None:
        plots.append(point)
    return plots
