"""Read the IU X-ray (Open-i) reports shipped inside the ``torchxrayvision`` wheel.

The reports are CC BY-NC-ND: they are read from the installed package at run time and
never copied into this project.
"""

from __future__ import annotations

import re
import tarfile
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path

from radrbench.errors import DataError

_ARCHIVE = Path("data") / "NLMCXR_reports.tgz"
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class IUReport:
    """The FINDINGS and IMPRESSION sections of one report."""

    report_id: str
    findings: str
    impression: str

    @property
    def text(self) -> str:
        return f"Findings: {self.findings} Impression: {self.impression}".strip()


def archive_path() -> Path:
    """Where the installed torchxrayvision keeps the report archive."""
    spec = find_spec("torchxrayvision")
    if spec is None or spec.origin is None:
        raise DataError(
            "torchxrayvision is not installed",
            hint="pip install torchxrayvision (it ships the IU X-ray reports)",
        )
    path = Path(spec.origin).parent / _ARCHIVE
    if not path.is_file():
        raise DataError("the IU X-ray report archive is missing", where=str(path))
    return path


def report_sections(path: Path | None = None) -> Iterator[tuple[str, list[tuple[str, str]]]]:
    """Every report XML with any text, in archive order: its id and its labelled sections
    (``("FINDINGS", text)``, …; whitespace collapsed, empty sections left out)."""
    path = path or archive_path()
    try:
        with tarfile.open(path, "r:gz") as archive:
            for member in archive:
                if not member.isfile() or not member.name.endswith(".xml"):
                    continue
                handle = archive.extractfile(member)
                sections = _sections(handle.read()) if handle is not None else []
                if sections:
                    yield Path(member.name).stem, sections
    except (OSError, tarfile.TarError) as error:
        raise DataError(f"cannot read the IU X-ray reports: {error}", where=str(path)) from error


def load_reports(path: Path | None = None) -> list[IUReport]:
    """All reports with a non-empty FINDINGS section, ordered by report id."""
    reports = []
    for report_id, sections in report_sections(path):
        labelled = dict(sections)
        if labelled.get("FINDINGS"):
            reports.append(
                IUReport(report_id, labelled["FINDINGS"], labelled.get("IMPRESSION", ""))
            )
    return sorted(reports, key=lambda r: (len(r.report_id), r.report_id))


def _sections(raw: bytes) -> list[tuple[str, str]]:
    try:
        root = ET.fromstring(raw)
    except ET.ParseError:
        return []
    parts = [
        ((node.get("Label") or "").upper(), _SPACE.sub(" ", node.text or "").strip())
        for node in root.iter("AbstractText")
    ]
    return [(label, body) for label, body in parts if body]
