"""CheXpert label synonyms and answer words, matched in free text with negation cues.

The table lives in ``metrics/label_synonyms.yaml``; this module reads it once and finds
asserted mentions: a mention is *negated* when a cue ("no", "without", "negative for",
"isn't", …) precedes it in its clause or follows it ("… is absent"), and *hypothetical* when
it is part of a procedure ("look for", "to rule out", "if there is"). Uncertain mentions
("possible pneumonia", "cannot exclude") count as asserted. The table also lists, per
label, phrases that state the label is absent without a negation cue ("normal heart size").
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache

import yaml

from radrbench.data.schema import CHEXPERT_LABELS
from radrbench.errors import ConfigError
from radrbench.resources import resource_dir

SYNONYMS_FILE = "label_synonyms.yaml"

_SCOPE_BREAK = re.compile(
    r"[.;!?\n]|\b(?:but|however|although|though|whereas|while|yet|except|apart from|"
    r"aside from|other than|there is|there are|there's|which|with)\b",
    re.I,
)
_PSEUDO_NEGATION = re.compile(
    r"\b(?:no (?:significant |interval )?(?:change|increase)|not only|"
    r"(?:can ?not|can['\u2019]t|could not|couldn['\u2019]t) (?:be )?"
    r"(?:excluded?|ruled out|rule out)|"
    r"not (?:be )?(?:excluded|ruled out))\b",
    re.I,
)
_NEGATION_BEFORE = re.compile(
    r"\b(?:no|not|cannot|never|without|absence of|absent|lack of|negative for|free of|"
    r"clear of|rules? out|ruled out|excluded?|resolved|resolution of|neither|nor)\b"
    r"|\w+n['\u2019]t\b",
    re.I,
)
_NEGATION_AFTER = re.compile(
    r"^[\s,]*(?:(?:is|are|was|were|has|have|been|appears?|seems?)\s+)*"
    r"(?:not\b|\w+n['\u2019]t\b|no longer|absent|excluded|ruled out|unlikely|negative|resolved"
    r"|gone)"
    r"|^\s*[:\-\u2013]\s*(?:no|none|absent|negative|not)\b",
    re.I,
)
_HYPOTHETICAL = re.compile(
    r"\b(?:look(?:ing)? for|check(?:ing)? for|assess(?:ing)? for|evaluat(?:e|ing) for|"
    r"examin(?:e|ing) for|to rule out|if there (?:is|are|were)|whether|such as)\b",
    re.I,
)


@dataclass(frozen=True)
class Mention:
    """One phrase found in a text: the key it names and whether it is asserted."""

    key: str
    start: int
    end: int
    negated: bool
    hypothetical: bool

    @property
    def asserted(self) -> bool:
        return not (self.negated or self.hypothetical)


def normalize(text: str) -> str:
    """Lower-case, hyphens and runs of non-word characters as single spaces."""
    return " ".join(re.sub(r"[^\w']+|_", " ", text.lower()).split())


class PhraseMatcher:
    """Finds the longest non-overlapping phrases of a ``phrase → key`` table in text."""

    def __init__(self, phrases: Mapping[str, str]):
        self._keys: dict[str, str] = {}
        for phrase, key in phrases.items():
            words = normalize(phrase)
            for form in (words, f"{words}s", f"{words}es"):
                self._keys.setdefault(form, key)
        ordered = sorted({normalize(p) for p in phrases}, key=len, reverse=True)
        body = "|".join(r"[\s\-]+".join(map(re.escape, p.split())) + "(?:e?s)?" for p in ordered)
        self._pattern = re.compile(rf"(?<![\w'])(?:{body})(?![\w'])", re.I)

    def key_of(self, phrase: str) -> str | None:
        """The key that a whole phrase names, or None."""
        return self._keys.get(normalize(phrase))

    def mentions(self, text: str) -> list[Mention]:
        """Every phrase in ``text`` with its negation and hypothetical status."""
        matches = [m for m in self._pattern.finditer(text) if normalize(m[0]) in self._keys]
        masked = text  # cues inside matched phrases ("no finding") negate nothing else
        for match in matches:
            masked = masked[: match.start()] + " " * len(match[0]) + masked[match.end() :]
        found = []
        for match in matches:
            key = self._keys[normalize(match[0])]
            before = _clause_before(masked, match.start())
            after = _clause_after(masked, match.end())
            negated = bool(
                _NEGATION_BEFORE.search(_PSEUDO_NEGATION.sub(" ", before))
                or _NEGATION_AFTER.search(after)
            )
            hypothetical = bool(_HYPOTHETICAL.search(before))
            found.append(Mention(key, match.start(), match.end(), negated, hypothetical))
        return found

    def asserted(self, text: str) -> set[str]:
        """Keys named by asserted (not negated, not hypothetical) mentions."""
        return {m.key for m in self.mentions(text) if m.asserted}


def _clause_before(text: str, start: int) -> str:
    breaks = list(_SCOPE_BREAK.finditer(text, 0, start))
    return text[breaks[-1].end() if breaks else 0 : start]


def _clause_after(text: str, end: int) -> str:
    stop = _SCOPE_BREAK.search(text, end)
    return text[end : stop.start() if stop else len(text)]


@dataclass(frozen=True)
class Synonyms:
    """The parsed synonym file."""

    labels: PhraseMatcher
    label_phrases: dict[str, str]  # phrase -> CheXpert label, what ``labels`` matches
    whole_answer: PhraseMatcher
    terms: PhraseMatcher
    absent: dict[str, tuple[str, ...]]  # label -> phrases that state it is absent


@cache
def synonyms() -> Synonyms:
    """Read ``metrics/label_synonyms.yaml`` once."""
    path = resource_dir("metrics") / SYNONYMS_FILE
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        message = f"cannot read the label synonym table: {error}"
        raise ConfigError(message, where=str(path)) from error
    unknown = (set(data.get("labels", {})) | set(data.get("absent", {}))) - set(CHEXPERT_LABELS)
    if unknown:
        raise ConfigError(f"unknown CheXpert labels {sorted(unknown)}", where=str(path))
    label_phrases = {label: label for label in CHEXPERT_LABELS} | _invert(data.get("labels", {}))
    return Synonyms(
        labels=PhraseMatcher(label_phrases),
        label_phrases=label_phrases,
        whole_answer=PhraseMatcher(_invert(data.get("whole_answer", {}))),
        terms=PhraseMatcher(_invert(data.get("answer_terms", {}))),
        absent={
            str(label): tuple(str(p) for p in phrases)
            for label, phrases in data.get("absent", {}).items()
        },
    )


def _invert(table: Mapping[str, Iterable[str]]) -> dict[str, str]:
    return {str(phrase): key for key, phrases in table.items() for phrase in phrases}


def canonical_label(text: str) -> str | None:
    """The CheXpert label a phrase names as a whole ("effusion" → "Pleural Effusion")."""
    table = synonyms()
    return table.labels.key_of(text) or table.whole_answer.key_of(text)


def order_labels(labels: Iterable[str]) -> tuple[str, ...]:
    """Labels in CheXpert order, without duplicates."""
    wanted = set(labels)
    return tuple(label for label in CHEXPERT_LABELS if label in wanted)
