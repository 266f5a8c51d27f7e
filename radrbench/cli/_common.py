"""Shared CLI helpers: consoles, progress bars, tables."""

from __future__ import annotations

import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

# Piped output (CI logs, files) gets room for the result tables instead of rich's 80 columns.
console = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 120)
err_console = Console(stderr=True, soft_wrap=True)


class Bar:
    """Handle on a progress bar: call it with the number completed; ``total`` sets the size."""

    def __init__(self, progress: Progress, task: TaskID):
        self._progress, self._task = progress, task

    def __call__(self, completed: int) -> None:
        self._progress.update(self._task, completed=completed)

    def total(self, total: int) -> None:
        self._progress.update(self._task, total=total)


@contextmanager
def progress_bar(description: str, total: int | None) -> Iterator[Bar]:
    """A rich progress bar on stderr (``total`` None: unknown until :meth:`Bar.total`)."""
    with Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err_console,
        transient=True,
    ) as progress:
        yield Bar(progress, progress.add_task(description, total=total))


def counts_table(title: str, counts: Mapping[str, int], key: str = "value") -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column(key)
    table.add_column("n", justify="right")
    for name, n in counts.items():
        table.add_row(name, str(n))
    return table
