"""Leaderboard tables as data, and their CSV, Markdown and LaTeX forms.

A :class:`Section` is one table (a title, notes such as why it is not ranked with another,
columns and rows of typed cells). The site renders the same sections as HTML. Every text
that comes from a user (model names, run ids, judge specs, notes) goes through the
format's escaping: CSV quoting (and a leading ``'`` before ``= + - @`` so spreadsheets do not
run formulas), Markdown backslash escapes (pipes, HTML, emphasis), LaTeX escapes.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

TIE_MARK = "="


@dataclass(frozen=True)
class Est:
    """A value with its 95% CI and n; ``value`` None: not measured."""

    value: float | None
    low: float | None = None
    high: float | None = None
    n: int | None = None


@dataclass(frozen=True)
class RankCell:
    rank: int | None
    tied: bool = False
    method: str = ""

    @property
    def text(self) -> str:
        if self.rank is None:
            return "-"
        return f"{self.rank}{TIE_MARK}" if self.tied else str(self.rank)


@dataclass(frozen=True)
class Link:
    """Text linking to a page of the site (``href`` relative to the site root)."""

    text: str
    href: str


Cell = str | int | float | Est | RankCell | Link | None


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    help: str = ""


@dataclass
class Section:
    """One table: ``rows`` map column keys to cells."""

    id: str
    title: str
    columns: list[Column]
    rows: list[dict[str, Cell]]
    notes: list[str] = field(default_factory=list)
    fields: dict[str, str] = field(default_factory=dict)  # constant per table (judge, benchmark…)


def fmt(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def est_text(est: Est) -> str:
    """``0.532 [0.440, 0.623] n=12``; ``-`` when not measured."""
    if est.value is None:
        return "-" if est.n is None else f"- n={est.n}"
    text = fmt(est.value)
    if est.low is not None and est.high is not None:
        text += f" [{fmt(est.low)}, {fmt(est.high)}]"
    if est.n is not None:
        text += f" n={est.n}"
    return text


def cell_text(cell: Cell) -> str:
    if cell is None:
        return "-"
    if isinstance(cell, Est):
        return est_text(cell)
    if isinstance(cell, RankCell):
        return cell.text
    if isinstance(cell, Link):
        return cell.text
    if isinstance(cell, float):
        return fmt(cell)
    return str(cell)


# --- escaping ---------------------------------------------------------------------------

_FORMULA = ("=", "+", "-", "@", "\t", "\r")
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>|&#~!$])")
_LATEX = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
    "|": r"\textbar{}",
    '"': "''",
    "[": "{[}",  # a row starting with [ would be read as the optional argument of \\\\
    "]": "{]}",
}


def one_line(text: str) -> str:
    return " ".join(text.split())


def csv_text(text: str) -> str:
    """A text cell spreadsheets show as text (no formula), on one line."""
    text = one_line(text)
    return "'" + text if text.startswith(_FORMULA) else text


@lru_cache(maxsize=8192)
def md_text(text: str) -> str:
    """Markdown-safe text for a table cell: one line, pipes, HTML and emphasis escaped."""
    return _MD_SPECIAL.sub(r"\\\1", one_line(text))


_LATEX_TABLE = str.maketrans(_LATEX)


@lru_cache(maxsize=8192)
def latex_text(text: str) -> str:
    """LaTeX-safe text: specials escaped; non-ASCII folded to ASCII (``?`` if impossible),
    so the table compiles with any engine and no packages."""
    text = one_line(text)
    if not text.isascii():
        folded = unicodedata.normalize("NFKD", text)
        text = "".join(
            ch if ch.isascii() else ("" if unicodedata.combining(ch) else "?") for ch in folded
        )
    return text.translate(_LATEX_TABLE)


# --- writers ----------------------------------------------------------------------------


def _flat_columns(section: Section) -> list[str]:
    names = []
    for column in section.columns:
        kinds = {type(row.get(column.key)) for row in section.rows} - {type(None)}
        if Est in kinds:
            names += [
                column.key,
                f"{column.key}_ci_low",
                f"{column.key}_ci_high",
                f"{column.key}_n",
            ]
        elif RankCell in kinds:
            names += [column.key, f"{column.key}_tied"]
        else:
            names.append(column.key)
    return names


def _flat_cells(section: Section, row: dict[str, Cell]) -> dict[str, object]:
    out: dict[str, object] = {}
    for column in section.columns:
        cell = row.get(column.key)
        key = column.key
        if isinstance(cell, Est):
            out.update(
                {
                    key: cell.value,
                    f"{key}_ci_low": cell.low,
                    f"{key}_ci_high": cell.high,
                    f"{key}_n": cell.n,
                }
            )
        elif isinstance(cell, RankCell):
            out.update({key: cell.rank, f"{key}_tied": cell.tied if cell.rank else None})
        elif isinstance(cell, Link):
            out[key] = csv_text(cell.text)
        elif isinstance(cell, str):
            out[key] = csv_text(cell)
        else:
            out[key] = cell
    return out


def to_csv(sections: Sequence[Section]) -> str:
    """One CSV of the sections: a ``table`` column, the table's constant fields, and each
    estimate as value, ci_low, ci_high, n."""
    extra: list[str] = []
    columns: list[str] = []
    for section in sections:
        for name in section.fields:
            if name not in extra:
                extra.append(name)
        for name in _flat_columns(section):
            if name not in columns:
                columns.append(name)
    header = ["table", *extra, *columns]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for section in sections:
        fixed = [
            csv_text(section.title),
            *(csv_text(section.fields.get(name, "")) for name in extra),
        ]
        for row in section.rows:
            values = _flat_cells(section, row)
            writer.writerow(
                [*fixed, *("" if (v := values.get(name)) is None else v for name in columns)]
            )
    return buffer.getvalue()


def _md_cell(cell: Cell) -> str:
    """Numbers as they are (they hold nothing Markdown reads); any text escaped."""
    if isinstance(cell, str | Link):
        return md_text(cell_text(cell))
    return cell_text(cell)


def _md_table(section: Section) -> list[str]:
    lines = [
        "| " + " | ".join(md_text(c.label) for c in section.columns) + " |",
        "|" + "|".join("---" for _ in section.columns) + "|",
    ]
    for row in section.rows:
        cells = [_md_cell(row.get(c.key)) for c in section.columns]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def to_markdown(sections: Sequence[Section], heading: str = "##") -> str:
    out: list[str] = []
    for section in sections:
        out.append(f"{heading} {md_text(section.title)}")
        out.append("")
        for name, value in section.fields.items():
            out.append(f"- {md_text(name)}: {md_text(value)}")
        out += [f"> {md_text(note)}" for note in section.notes]
        if section.fields or section.notes:
            out.append("")
        out += _md_table(section) if section.rows else ["(no rows)"]
        out.append("")
    return "\n".join(out)


def latex_table(section: Section) -> str:
    """A ``table`` with a plain ``tabular`` (no packages needed)."""
    columns = section.columns
    lines = [
        "\\begin{table}[ht]",
        "\\centering",
        "\\scriptsize",
        f"\\caption{{{latex_text(section.title)}}}",
        "\\begin{tabular}{" + "l" * len(columns) + "}",
        "\\hline",
        " & ".join(latex_text(c.label) for c in columns) + " \\\\",
        "\\hline",
    ]
    for row in section.rows:
        cells = []
        for column in columns:
            cell = row.get(column.key)
            if isinstance(cell, Est) and cell.value is not None:
                text = fmt(cell.value)  # digits only: nothing to escape
                if cell.low is not None and cell.high is not None:
                    text += f" {{[}}{fmt(cell.low)}, {fmt(cell.high)}{{]}}"
                if cell.n is not None:
                    text += f" ({cell.n})"
                cells.append(text)
            else:
                cells.append(latex_text(cell_text(cell)))
        lines.append(" & ".join(cells) + " \\\\")
    lines.append("\\hline")
    lines.append("\\end{tabular}")
    notes = [f"{name}: {value}" for name, value in section.fields.items()] + section.notes
    if notes:
        lines.append("")
        lines.append("\\smallskip")
        lines.append("\\begin{minipage}{0.95\\linewidth}\\raggedright")
        lines.append(" \\\\\n".join(latex_text(note) for note in notes))
        lines.append("\\end{minipage}")
    lines.append("\\end{table}")
    return "\n".join(lines) + "\n"


def to_latex(sections: Iterable[Section]) -> str:
    """Tables for ``\\input{}`` into a document; estimates read ``value [low, high] (n)``."""
    header = (
        "% radrbench leaderboard tables: value [95% CI low, high] (n); rank = 1 + runs higher "
        "beyond the 95% CI of the difference, '=' marks a shared rank.\n"
    )
    return header + "\n".join(latex_table(section) for section in sections)
