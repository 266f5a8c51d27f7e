"""The deterministic half of mining on real reports: the IU X-ray (Open-i) XMLs.

The reports ship inside the installed ``torchxrayvision`` wheel (CC BY-NC-ND; read at run time,
never copied). Each report's sections are joined into free text ("COMPARISON: … FINDINGS: …
IMPRESSION: …") and sectioned again by :func:`section_report`, so the sectioner is checked
against the XML's own labels; findings are extracted from the sectioned report; the report's
own sentences, taken as a chain, must pass the support check, and the same chain with one
finding's polarity flipped must fail it.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from statistics import mean, median

from radrbench.metrics.iu_xray import report_sections
from radrbench.metrics.judges._extract import Mention, extract_mentions
from radrbench.metrics.judges._lexicon import Lexicon
from radrbench.metrics.judges.offline import findings_of
from radrbench.mining.checks import lexicon, unsupported
from radrbench.sources.reports import section_report

_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9])")


@dataclass(frozen=True)
class LabelledReport:
    """A report as free text, with the FINDINGS and IMPRESSION its XML labels."""

    report_id: str
    text: str
    findings: str
    impression: str


def labelled_reports(path: Path | None = None, limit: int | None = None) -> list[LabelledReport]:
    """Every report XML with any text, in archive order (at most ``limit``)."""
    reports: list[LabelledReport] = []
    for report_id, parts in report_sections(path):
        if limit is not None and len(reports) >= limit:
            break
        labelled = dict(parts)
        text = "\n".join(f"{label}: {body}" for label, body in parts)
        reports.append(
            LabelledReport(
                report_id, text, labelled.get("FINDINGS", ""), labelled.get("IMPRESSION", "")
            )
        )
    return reports


def flipped(mentions: Sequence[Mention], lex: Lexicon) -> str | None:
    """A statement contradicting the first CheXpert finding a text asserts or rules out."""
    for mention in mentions:
        spec = lex.findings.get(mention.code)
        if spec is not None and spec.chexpert and mention.status in ("present", "absent"):
            term = spec.terms[0]
            return f"There is no {term}." if mention.status == "present" else f"There is {term}."
    return None


@dataclass
class IUFigures:
    """What the deterministic mining steps did with the IU X-ray reports."""

    reports: int = 0
    """Report XMLs with any text."""
    sectioned: int = 0
    """Reports the sectioner found a FINDINGS or IMPRESSION section in."""
    sections_match: int = 0
    """Reports whose sections equal the XML's labelled FINDINGS and IMPRESSION."""
    findings: list[int] = field(default_factory=list)
    """Findings extracted per sectioned report."""
    own_chains_accepted: int = 0
    """Sectioned reports whose own sentences pass the support check."""
    flips: int = 0
    """Chains with one CheXpert finding's polarity flipped (reports stating one)."""
    flips_rejected: int = 0
    unsupported_kinds: Counter[str] = field(default_factory=Counter)
    """Findings of the reports' own sentences that the check did not accept."""

    def lines(self) -> list[str]:
        per = self.findings or [0]
        return [
            f"IU X-ray reports read: {self.reports}",
            f"sectioned into findings/impression: {self.sectioned} "
            f"({self.sections_match} equal to the XML's labelled sections)",
            f"findings extracted per report: mean {mean(per):.2f}, median {median(per):g}, "
            f"max {max(per)}, total {sum(per)}",
            f"own sentences accepted as a chain: {self.own_chains_accepted}/{self.sectioned}",
            f"chains with one finding flipped rejected: {self.flips_rejected}/{self.flips}",
        ]


def run(reports: list[LabelledReport]) -> IUFigures:
    """Sectioning, finding extraction and chain validation over ``reports``."""
    lex = lexicon()
    figures = IUFigures(reports=len(reports))
    for report in reports:
        sections = section_report(report.text)
        if not sections:
            continue
        figures.sectioned += 1
        figures.sections_match += (sections.findings, sections.impression) == (
            report.findings,
            report.impression,
        )
        text = sections.text
        mentions = extract_mentions(text, lex)
        figures.findings.append(len(findings_of(mentions, lex)))
        steps = [
            s
            for s in _SENTENCE.split(" ".join([sections.findings, sections.impression]))
            if s.strip()
        ]
        reasons = unsupported(steps, text)
        figures.own_chains_accepted += not reasons
        figures.unsupported_kinds.update(r.split("'")[1] for r in reasons if "'" in r)
        if (flip := flipped(mentions, lex)) is not None:
            figures.flips += 1
            figures.flips_rejected += bool(unsupported([*steps, flip], text))
    return figures
