"""Rules that compare findings: recall, consistency with the report, step support."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from radrbench.metrics.judges._extract import Mention
from radrbench.metrics.judges._lexicon import Lexicon
from radrbench.metrics.judges._location import Location, parse_location
from radrbench.metrics.judges._text import tokenize
from radrbench.metrics.judges.base import Finding, FindingStatus, StepLabel

_GENERIC = frozenset({"opacity", "abnormality", "density"})
# Families whose findings show as an opacity: a generic opacity agrees with any of them.
_OPAQUE = frozenset({"lung_opacity", "atelectasis"})
# Words too common in findings to tell two of them apart.
_FILLER = frozenset(
    {"the", "of", "in", "on", "a", "an", "at", "and", "or", "to", "is", "are", "with", "no"}
    | {"not", "lung", "both"}
)


@dataclass(frozen=True, slots=True)
class Item:
    """A finding reduced to what the rules compare."""

    code: str
    family: str
    positive: bool
    location: Location
    words: frozenset[str] = frozenset()
    """The concept and the words naming the finding and its place (filler words left out)."""


def item_of(
    code: str, status: FindingStatus, location: Location, lexicon: Lexicon, name: str = ""
) -> Item:
    spec = lexicon.findings[code]
    return Item(code, spec.family, status != "absent", location, _words(code, name, location.text))


@lru_cache(maxsize=65536)
def _words(code: str, name: str, place: str) -> frozenset[str]:
    return frozenset(t.norm for t in tokenize(f"{name} {place}")) - _FILLER | {code}


def items_of_findings(findings: Sequence[Finding], lexicon: Lexicon) -> list[Item | None]:
    """Items of findings; ``None`` for findings whose code the lexicon does not know."""
    return [
        item_of(f.code, f.status, parse_location(f.location or "", lexicon), lexicon, f.observation)
        if f.code is not None and f.code in lexicon.findings
        else None
        for f in findings
    ]


def items_of_mentions(mentions: Sequence[Mention], lexicon: Lexicon) -> list[Item]:
    return [
        item_of(m.code, m.status, m.location, lexicon, m.surface)
        for m in mentions
        if m.status is not None
    ]


def _related(a: Item, b: Item) -> bool:
    return (a.code == b.code or a.family == b.family) and a.location.compatible(b.location)


def _named_alike(a: Item, b: Item) -> bool:
    """Related findings that share their concept or a word naming them or their place
    ("left basilar atelectasis" and "collapse at the left base"; not "opacity" for
    "consolidation")."""
    return _related(a, b) and bool(a.words & b.words)


def recalled(reference: Item, model: Sequence[Item]) -> bool:
    """A reference finding is recalled by a model finding named alike.

    As in the released protocol, recall is about the observation; whether its status is
    right is factuality's business.
    """
    return any(_named_alike(reference, m) for m in model)


def consistent(finding: Item, report: Sequence[Item]) -> bool:
    """Whether a model finding agrees with the report's findings.

    Unmentioned findings are correct when called absent and incorrect when called present.
    A generic opacity is consistent with airspace disease or atelectasis the report states at
    a compatible place.
    """
    same = [r for r in report if r.code == finding.code and r.location.compatible(finding.location)]
    if same:
        return any(r.positive == finding.positive for r in same)
    if finding.code == "abnormality":
        abnormal = any(r.positive and r.family not in {"device", "technique"} for r in report)
        return abnormal == finding.positive
    family = [r for r in report if _related(finding, r)]
    if finding.positive and finding.code in _GENERIC:
        return any(
            r.positive and r.family in _OPAQUE and r.location.compatible(finding.location)
            for r in report
        )
    if finding.positive:
        return any(r.positive for r in family)
    if finding.code in _GENERIC:
        return not any(r.positive for r in family)
    return True


def step_label(
    asserted: Sequence[Item], topics: Sequence[str], chain: Sequence[Item], chain_codes: set[str]
) -> StepLabel:
    """Label one reasoning step against the chain's findings.

    An assertion is supported when the chain states the finding, named alike, with the same
    polarity and contradicted when it states the opposite. A step without either is
    supported when it discusses what the chain discusses (relevant procedure), else
    unsupported; a checklist of findings most of which the chain never discusses is not
    relevant procedure.
    """
    support = conflict = 0
    for item in asserted:
        related = [c for c in chain if _named_alike(item, c)]
        if any(c.positive == item.positive for c in related):
            support += 1
        elif related:
            conflict += 1
    if conflict and conflict >= support:
        return "contradicted"
    if support:
        return "supported"
    listed = set(topics)
    relevant = listed & chain_codes
    if relevant and 2 * len(relevant) >= len(listed):
        return "supported"
    return "unsupported"
