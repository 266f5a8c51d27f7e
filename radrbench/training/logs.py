"""Training metrics in the run directory: ``metrics.csv`` (long format) and PNG plots.

``metrics.csv`` has one row per logged value: ``step,name,value`` (loss, learning rate,
each reward component's mean, guard shares, checkpoint evaluations ``eval/...``). A resumed
run first drops the rows logged after the checkpoint it resumes from, so the file reads as
one uninterrupted run. :func:`plot_run` draws what the file holds into ``RUN/plots/``.
"""

from __future__ import annotations

import csv
import math
from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from transformers import TrainerCallback, TrainerControl, TrainerState, TrainingArguments

METRICS_FILE = "metrics.csv"
FIELDS = ("step", "name", "value")


def append_metrics(run_dir: Path, step: int, values: Mapping[str, Any]) -> None:
    """Append the numeric ``values`` logged at ``step``."""
    path = run_dir / METRICS_FILE
    rows = [
        (step, name, float(value))
        for name, value in values.items()
        if isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(float(value))
    ]
    if not rows:
        return
    new = not path.is_file()
    with path.open("a", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        if new:
            writer.writerow(FIELDS)
        writer.writerows(rows)


def read_metrics(run_dir: Path) -> dict[str, list[tuple[int, float]]]:
    """Series by name: (step, value) pairs in step order."""
    path = run_dir / METRICS_FILE
    series: dict[str, list[tuple[int, float]]] = defaultdict(list)
    if not path.is_file():
        return {}
    with path.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            series[row["name"]].append((int(row["step"]), float(row["value"])))
    return {name: sorted(points) for name, points in series.items()}


def truncate_metrics(run_dir: Path, last_step: int) -> None:
    """Drop rows logged after ``last_step`` (a resumed run redoes those steps)."""
    path = run_dir / METRICS_FILE
    if not path.is_file():
        return
    with path.open(newline="", encoding="utf-8") as handle:
        rows = [row for row in csv.reader(handle)][1:]
    kept = [row for row in rows if int(row[0]) <= last_step]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(FIELDS)
        writer.writerows(kept)


class MetricsCallback(TrainerCallback):
    """Writes every log of the main process to ``metrics.csv``."""

    def __init__(self, run_dir: Path, resumed_from: int | None = None):
        self.run_dir = run_dir
        self.resumed_from = resumed_from

    def on_train_begin(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        **kwargs: Any,
    ) -> None:
        if state.is_world_process_zero:
            truncate_metrics(self.run_dir, self.resumed_from or 0)

    def on_log(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        logs: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        if state.is_world_process_zero and logs:
            append_metrics(self.run_dir, state.global_step, logs)


PANELS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("loss", "training loss", ("loss", "train_loss")),
    ("rewards", "reward means (GRPO)", ("reward", "rewards/")),
    ("guards", "share of rollouts tripping a process-reward guard", ("process/guard",)),
    (
        "eval",
        "checkpoint evaluation (95% CI; vision: held-out balanced accuracy)",
        ("eval/accuracy", "eval/radrscore", "eval/format", "eval_balanced_accuracy"),
    ),
)


def plot_run(run_dir: Path) -> list[Path]:
    """Draw the run's curves into ``RUN/plots/<panel>.png``; return the files written."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series = read_metrics(run_dir)
    out_dir = run_dir / "plots"
    written: list[Path] = []
    for panel, title, prefixes in PANELS:
        names = [
            name
            for name in series
            if name.startswith(prefixes)
            and not name.endswith(("/std", "_low", "_high"))
            and name != "train_loss"
        ]
        if not names:
            continue
        figure, axes = plt.subplots(figsize=(7, 4))
        for name in sorted(names):
            steps, values = zip(*series[name], strict=True)
            marker = "o" if len(steps) < 30 else None
            (line,) = axes.plot(steps, values, marker=marker, label=name)
            low, high = series.get(f"{name}_low"), series.get(f"{name}_high")
            if low and high and len(low) == len(high) == len(steps):
                axes.fill_between(
                    steps,
                    [v for _, v in low],
                    [v for _, v in high],
                    alpha=0.2,
                    color=line.get_color(),
                )
        axes.set_title(f"{run_dir.name}: {title}")
        axes.set_xlabel("step")
        axes.grid(alpha=0.3)
        axes.legend(fontsize=7, loc="best")
        figure.tight_layout()
        out_dir.mkdir(parents=True, exist_ok=True)
        path = out_dir / f"{panel}.png"
        figure.savefig(path, dpi=110)
        plt.close(figure)
        written.append(path)
    return written
