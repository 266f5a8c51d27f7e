"""The static site: Jinja2 templates from ``leaderboard/templates/``, every value escaped.

Pages open from disk or any static host and request nothing from elsewhere: styles and the
small sorting script are inline, and a Content-Security-Policy (with the hashes of exactly
those two inline blocks) forbids every other script, style, font, frame and connection, so
even a value that slipped past escaping could not run.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from radrbench.leaderboard.tables import Cell, Est, Link, RankCell, Section, cell_text, fmt


@dataclass(frozen=True)
class HtmlCell:
    """A table cell ready for the template (the template escapes every string)."""

    value: str
    ci: str = ""
    n: str = ""
    href: str | None = None
    sort: str = ""
    title: str = ""
    numeric: bool = False


@dataclass(frozen=True)
class HtmlColumn:
    key: str
    label: str
    help: str


@dataclass(frozen=True)
class HtmlTable:
    id: str
    title: str
    notes: list[str]
    fields: list[tuple[str, str]]
    columns: list[HtmlColumn]
    rows: list[list[HtmlCell]]


def _href(href: str, root: str) -> str:
    if href.startswith(("https://", "http://")):
        return href
    return root + href


def html_cell(cell: Cell, root: str) -> HtmlCell:
    if isinstance(cell, Est):
        if cell.value is None:
            return HtmlCell("-", n="" if cell.n is None else f"n={cell.n}", numeric=True)
        ci = ""
        if cell.low is not None and cell.high is not None:
            ci = f"[{fmt(cell.low)}, {fmt(cell.high)}]"
        return HtmlCell(
            fmt(cell.value),
            ci=ci,
            n="" if cell.n is None else f"n={cell.n}",
            sort=repr(cell.value),
            title="value [95% CI] n" if ci else "",
            numeric=True,
        )
    if isinstance(cell, RankCell):
        title = ""
        if cell.tied:
            title = "shares its rank: the difference is within the 95% CI"
        if cell.method:
            title = f"{title} (compared: {cell.method})".strip()
        return HtmlCell(
            cell.text, sort="" if cell.rank is None else str(cell.rank), title=title, numeric=True
        )
    if isinstance(cell, Link):
        return HtmlCell(cell.text, href=_href(cell.href, root), sort=cell.text)
    if isinstance(cell, int | float) and not isinstance(cell, bool):
        return HtmlCell(cell_text(cell), sort=repr(cell), numeric=True)
    text = cell_text(cell)
    return HtmlCell(text, sort=text)


def html_table(section: Section, root: str) -> HtmlTable:
    return HtmlTable(
        section.id,
        section.title,
        list(section.notes),
        list(section.fields.items()),
        [HtmlColumn(c.key, c.label, c.help) for c in section.columns],
        [[html_cell(row.get(c.key), root) for c in section.columns] for row in section.rows],
    )


def _sha256(text: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()


class SiteRenderer:
    """Renders pages from the templates folder into ``out``."""

    def __init__(self, templates: Path, out: Path):
        self.out = out
        self.env = Environment(
            loader=FileSystemLoader(str(templates)),
            autoescape=True,
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.css = (templates / "style.css").read_text("utf-8")
        self.js = (templates / "sort.js").read_text("utf-8")
        self.csp = (
            "default-src 'none'; img-src 'self' data:; "
            f"style-src '{_sha256(self.css)}'; script-src '{_sha256(self.js)}'; "
            "base-uri 'none'; form-action 'none'"
        )

    def render(self, template: str, path: str, **context: Any) -> Path:
        """Render ``template`` to ``out/path``; links inside are relative to the page."""
        depth = path.count("/")
        root = "../" * depth
        target = self.out / path
        target.parent.mkdir(parents=True, exist_ok=True)
        html = self.env.get_template(template).render(
            root=root,
            css=self.css,
            js=self.js,
            csp=self.csp,
            table=lambda section: html_table(section, root),
            **context,
        )
        target.write_text(html, "utf-8")
        return target
