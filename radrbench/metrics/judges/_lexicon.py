"""The clinical lexicon (``metrics/lexicon.yaml``) compiled into phrase indexes."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Generic, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from radrbench.errors import JudgeError
from radrbench.metrics.judges._text import Token, normalize_phrase
from radrbench.resources import resource_dir

T = TypeVar("T")

# Words a multi-word term may not skip over (they start another statement).
_NO_SKIP = frozenset(
    {"and", "or", "no", "not", "without", "but", "with", "nor", "is", "are", "was", "were"}
)


class FindingSpec(BaseModel):
    """One finding of the lexicon."""

    model_config = ConfigDict(extra="forbid")

    family: str
    terms: list[str] = Field(min_length=1)
    chexpert: str | None = None


class AnatomySpec(BaseModel):
    """A structure whose qualifier asserts or rules out findings."""

    model_config = ConfigDict(extra="forbid")

    terms: list[str] = Field(min_length=1)
    states: dict[str, list[str]] = Field(default_factory=dict)
    normal: list[str] = Field(default_factory=list)
    normal_words: list[str] = Field(default_factory=list)


class CueSpec(BaseModel):
    """Forward and backward cue phrases of one category."""

    model_config = ConfigDict(extra="forbid")

    forward: list[str] = Field(default_factory=list)
    backward: list[str] = Field(default_factory=list)


class CuesSpec(BaseModel):
    """All context cues."""

    model_config = ConfigDict(extra="forbid")

    negated: CueSpec
    uncertain: CueSpec
    hypothetical: CueSpec
    terminators: list[str]
    assertion: list[str]
    anaphora: list[str]
    pseudo: list[str]


class LexiconSpec(BaseModel):
    """The YAML file's schema."""

    model_config = ConfigDict(extra="forbid")

    version: int
    findings: dict[str, FindingSpec]
    anatomy: dict[str, AnatomySpec]
    normal_words: list[str]
    cues: CuesSpec
    locations: dict[str, dict[str, list[str]]]


@dataclass(frozen=True, slots=True)
class Match(Generic[T]):
    """A phrase found in a token sequence: its payload and token span [start, end)."""

    value: T
    start: int
    end: int
    length: int


@dataclass
class PhraseIndex(Generic[T]):
    """Longest-match phrase lookup over normalised tokens, optionally skipping words."""

    max_skip: int = 0
    _by_first: dict[str, list[tuple[tuple[str, ...], T]]] = field(default_factory=dict)

    def add(self, phrase: str, value: T) -> None:
        words = normalize_phrase(phrase)
        if words:
            self._by_first.setdefault(words[0], []).append((words, value))

    def finalize(self) -> PhraseIndex[T]:
        for entries in self._by_first.values():
            entries.sort(key=lambda entry: -len(entry[0]))
        return self

    def find(self, tokens: Sequence[Token]) -> list[Match[T]]:
        """Non-overlapping matches, preferring more matched words, then fewer skips."""
        norms = [token.norm for token in tokens]
        candidates: list[Match[T]] = []
        for i, word in enumerate(norms):
            for words, value in self._by_first.get(word, ()):
                end = self._match_from(norms, i, words)
                if end is not None:
                    candidates.append(Match(value, i, end, len(words)))
        candidates.sort(key=lambda m: (-m.length, m.end - m.start, m.start))
        taken = [False] * len(norms)
        chosen: list[Match[T]] = []
        for match in candidates:
            if any(taken[match.start : match.end]):
                continue
            for k in range(match.start, match.end):
                taken[k] = True
            chosen.append(match)
        chosen.sort(key=lambda m: m.start)
        return chosen

    def _match_from(self, norms: Sequence[str], i: int, words: Sequence[str]) -> int | None:
        pos = i + 1
        for word in words[1:]:
            skipped = 0
            while pos < len(norms) and norms[pos] != word:
                if skipped >= self.max_skip or norms[pos] in _NO_SKIP:
                    return None
                skipped += 1
                pos += 1
            if pos >= len(norms):
                return None
            pos += 1
        return pos


@dataclass(frozen=True)
class Anatomy:
    """A compiled anatomy entry."""

    name: str
    states: PhraseIndex[str]
    normal_words: PhraseIndex[str]
    normal: tuple[str, ...]


@dataclass(frozen=True)
class Lexicon:
    """The compiled lexicon."""

    version: str
    findings: Mapping[str, FindingSpec]
    finding_index: PhraseIndex[str]
    anatomy_index: PhraseIndex[str]
    anatomy: Mapping[str, Anatomy]
    cue_index: PhraseIndex[str]
    location_index: PhraseIndex[tuple[str, str]]

    def family(self, finding: str) -> str:
        return self.findings[finding].family


def _index(pairs: Iterable[tuple[str, T]], max_skip: int = 0) -> PhraseIndex[T]:
    index: PhraseIndex[T] = PhraseIndex(max_skip=max_skip)
    for phrase, value in pairs:
        index.add(phrase, value)
    return index.finalize()


def compile_lexicon(spec: LexiconSpec, digest: str) -> Lexicon:
    """Build the phrase indexes of a validated lexicon."""
    unknown = {
        name
        for entry in spec.anatomy.values()
        for name in [*entry.states, *entry.normal]
        if name not in spec.findings
    }
    if unknown:
        raise JudgeError(f"anatomy entries name unknown findings: {sorted(unknown)}")
    cues = spec.cues
    cue_pairs: list[tuple[str, str]] = [
        *((p, "pseudo") for p in cues.pseudo),
        *((p, "terminator") for p in cues.terminators),
        *((p, "assertion") for p in cues.assertion),
        *((p, "anaphora") for p in cues.anaphora),
    ]
    for category in ("negated", "uncertain", "hypothetical"):
        cue: CueSpec = getattr(cues, category)
        cue_pairs += [(p, f"{category}:forward") for p in cue.forward]
        cue_pairs += [(p, f"{category}:backward") for p in cue.backward]
    anatomy = {
        name: Anatomy(
            name,
            _index((w, f) for f, words in entry.states.items() for w in words),
            _index((w, "normal") for w in [*spec.normal_words, *entry.normal_words]),
            tuple(entry.normal),
        )
        for name, entry in spec.anatomy.items()
    }
    return Lexicon(
        version=f"lexicon-v{spec.version}-{digest[:8]}",
        findings=spec.findings,
        finding_index=_index(((t, n) for n, f in spec.findings.items() for t in f.terms), 2),
        anatomy_index=_index((t, n) for n, a in spec.anatomy.items() for t in a.terms),
        anatomy=anatomy,
        cue_index=_index(_last_wins(cue_pairs)),
        location_index=_index(
            (phrase, (kind, value))
            for kind, values in spec.locations.items()
            for value, phrases in values.items()
            for phrase in phrases
        ),
    )


def _last_wins(pairs: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    """One category per phrase: negation/uncertainty/hypothesis override structural cues."""
    table: dict[tuple[str, ...], tuple[str, str]] = {}
    for phrase, category in pairs:
        table[normalize_phrase(phrase)] = (phrase, category)
    return list(table.values())


@cache
def load_lexicon(path: Path | None = None) -> Lexicon:
    """Load and compile ``metrics/lexicon.yaml`` (or another file of the same schema)."""
    path = path or resource_dir("metrics") / "lexicon.yaml"
    try:
        raw = path.read_bytes()
        spec = LexiconSpec.model_validate(yaml.safe_load(raw))
    except (OSError, yaml.YAMLError, ValidationError) as error:
        raise JudgeError(
            f"cannot load the offline judge's lexicon: {error}",
            where=str(path),
            hint="restore metrics/lexicon.yaml from the radrbench distribution",
        ) from error
    return compile_lexicon(spec, hashlib.sha256(raw).hexdigest())
