"""Where findings are: location words (side, lung zone, body region) and their finding."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from radrbench.metrics.judges._lexicon import Lexicon, Match
from radrbench.metrics.judges._text import Token, tokenize

_PREPOSITIONS = frozenset(
    [
        "in",
        "at",
        "of",
        "on",
        "within",
        "involving",
        "over",
        "near",
        "along",
        "behind",
        "throughout",
        "from",
        "to",
        "into",
        "overlying",
        "projecting",
        "affecting",
        "across",
    ]
)


@dataclass(frozen=True, slots=True)
class Location:
    """Where a finding is: sides, lung zones and body regions, with the words used."""

    sides: frozenset[str] = frozenset()
    zones: frozenset[str] = frozenset()
    regions: frozenset[str] = frozenset()
    text: str = ""

    def compatible(self, other: Location) -> bool:
        """Whether two locations can describe the same place (a missing part fits all)."""
        return (
            _overlap(_sides(self.sides), _sides(other.sides))
            and _overlap(self.zones, other.zones)
            and _overlap(self.regions, other.regions)
        )


def _sides(sides: frozenset[str]) -> frozenset[str]:
    return frozenset({"left", "right"}) if "bilateral" in sides else sides


def _overlap(a: frozenset[str], b: frozenset[str]) -> bool:
    return not a or not b or bool(a & b)


def parse_location(text: str, lexicon: Lexicon) -> Location:
    """A location from its words (as a Finding stores it)."""
    kinds: dict[str, set[str]] = {"side": set(), "zone": set(), "region": set()}
    for match in lexicon.location_index.find(tokenize(text)):
        kinds.setdefault(match.value[0], set()).add(match.value[1])
    return Location(
        frozenset(kinds["side"]), frozenset(kinds["zone"]), frozenset(kinds["region"]), text
    )


def locations(
    tokens: Sequence[Token],
    lexicon: Lexicon,
    spans: Sequence[tuple[int, int]],
    boundaries: Sequence[int],
) -> list[Location]:
    """The location of each finding span: location words attached to their finding."""
    groups = _location_groups(lexicon.location_index.find(tokens))
    parts: list[list[Match[tuple[str, str]]]] = [[] for _ in spans]
    for group in groups:
        target = _attach(group[0].start, group[-1].end, tokens, spans, boundaries)
        if target is not None:
            parts[target].extend(group)
    out: list[Location] = []
    for matches in parts:
        kinds: dict[str, set[str]] = {"side": set(), "zone": set(), "region": set()}
        for match in matches:
            kinds.setdefault(match.value[0], set()).add(match.value[1])
        words = " ".join(" ".join(t.norm for t in tokens[m.start : m.end]) for m in matches)
        out.append(
            Location(
                frozenset(kinds["side"]),
                frozenset(kinds["zone"]),
                frozenset(kinds["region"]),
                words,
            )
        )
    return out


def _location_groups(
    matches: Sequence[Match[tuple[str, str]]],
) -> list[list[Match[tuple[str, str]]]]:
    """Runs of location words ("left lung base")."""
    groups: list[list[Match[tuple[str, str]]]] = []
    for match in matches:
        if groups and match.start - groups[-1][-1].end <= 2:
            groups[-1].append(match)
        else:
            groups.append([match])
    return groups


def _attach(
    start: int,
    end: int,
    tokens: Sequence[Token],
    spans: Sequence[tuple[int, int]],
    boundaries: Sequence[int],
) -> int | None:
    """The finding a location group belongs to: after a preposition, the one before it."""

    def same_clause(a: int, b: int) -> bool:
        lo, hi = min(a, b), max(a, b)
        return not any(lo < x <= hi for x in boundaries)

    for i, (s, e) in enumerate(spans):
        if s < end and start < e:
            return i
    before = [i for i, (s, e) in enumerate(spans) if e <= start and same_clause(e, start)]
    after = [i for i, (s, e) in enumerate(spans) if s >= end and same_clause(end, s)]
    lead = {t.norm for t in tokens[max(0, start - 3) : start]}
    if before and (lead & _PREPOSITIONS or not after):
        return before[-1] if start - spans[before[-1]][1] <= 8 else None
    if after:
        return after[0] if spans[after[0]][0] - end <= 4 else None
    return None
