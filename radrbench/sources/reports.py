"""Split a free-text radiology report into its FINDINGS and IMPRESSION sections."""

from __future__ import annotations

import re
from dataclasses import dataclass

# A section heading: capitalised words then a colon, at the start of the text or a line, or
# after a sentence end (reports flattened onto one line keep their headings inline).
_HEADING = re.compile(r"(?:^|(?<=\n)|(?<=[.:]\s))[ \t]*([A-Z][A-Z /&()-]{2,40}?)\s*:", re.M)
_FINDINGS = frozenset({"FINDINGS", "FINDING", "REPORT", "FINDINGS AND IMPRESSION"})
_IMPRESSION = frozenset({"IMPRESSION", "IMPRESSIONS", "CONCLUSION", "CONCLUSIONS", "SUMMARY"})
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class Sections:
    """The two sections a benchmark keeps (either may be empty)."""

    findings: str
    impression: str

    @property
    def text(self) -> str:
        """``FINDINGS: … IMPRESSION: …`` (the ``report`` field of a sample)."""
        parts = [("FINDINGS", self.findings), ("IMPRESSION", self.impression)]
        return " ".join(f"{name}: {body}" for name, body in parts if body)

    def __bool__(self) -> bool:
        return bool(self.findings or self.impression)


def _clean(text: str) -> str:
    return _SPACE.sub(" ", text).strip()


def section_report(text: str) -> Sections:
    """The FINDINGS and IMPRESSION of a report.

    A report without either heading (a short note) is all findings once the other
    sections (indication, comparison, technique, …) are removed.
    """
    headings = list(_HEADING.finditer(text))
    if not headings:
        return Sections(_clean(text), "")
    bodies: dict[str, list[str]] = {"findings": [], "impression": []}
    for heading, after in zip(headings, [*headings[1:], None], strict=True):
        name = " ".join(heading[1].split())
        body = _clean(text[heading.end() : after.start() if after else len(text)])
        if name in _FINDINGS:
            bodies["findings"].append(body)
        elif name in _IMPRESSION:
            bodies["impression"].append(body)
    if not bodies["findings"] and not bodies["impression"]:
        lead = _clean(text[: headings[0].start()])
        return Sections(lead, "")
    return Sections(
        " ".join(filter(None, bodies["findings"])), " ".join(filter(None, bodies["impression"]))
    )
