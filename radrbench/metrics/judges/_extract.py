"""Rule-based finding extraction: lexicon mentions, ConText-style status cues, locations.

Each sentence is scanned for findings (lexicon terms, or a structure with a qualifier such
as "heart size is normal") and for cues. A mention inside the scope of a hypothetical cue
("look for", "would", "option A suggests") is procedure, not a finding; it becomes a topic
that a later verdict ("no such signs are seen", "ruling out this option") can settle.
Other mentions are absent (negation cue), uncertain (uncertainty cue) or present.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from radrbench.metrics.judges._lexicon import Lexicon
from radrbench.metrics.judges._location import Location, locations
from radrbench.metrics.judges._text import Sentence, Token, sentences, tokenize
from radrbench.metrics.judges.base import FindingStatus

_REQUEST = re.compile(
    r"^\W*(?:indications?|history|clinical (?:history|information|indication)|reason for "
    r"(?:exam|examination|study|request))\s*:",
    re.IGNORECASE,
)
_ON_PRIOR = re.compile(
    r"^\W*(?:on|in) the (?:prior|previous|earlier|old|first|reference) "
    r"(?:image|study|radiograph|film|exam|examination|x ?-?ray)\b",
    re.IGNORECASE,
)
_FORWARD_SCOPE = {"negated": 12, "uncertain": 6, "hypothetical": 30}
_BACKWARD_SCOPE = 10


@dataclass(frozen=True, slots=True)
class Mention:
    """A finding mentioned in a text; ``status`` is ``None`` for a hypothetical mention."""

    code: str
    status: FindingStatus | None
    surface: str
    location: Location
    sentence: int
    step: int
    evidence: str


@dataclass(frozen=True, slots=True)
class _Cue:
    category: str
    direction: str
    start: int
    end: int


def extract_mentions(
    text: str, lexicon: Lexicon, skip: frozenset[int] = frozenset()
) -> list[Mention]:
    """All finding mentions of a text, asserted and hypothetical, in reading order.

    Sentences whose index is in ``skip`` (noise) are passed over: they mention nothing and
    settle no earlier topic.
    """
    mentions: list[Mention] = []
    previous_topics: list[Mention] = []
    step_topics: list[Mention] = []
    current_step = request_step = -1
    for index, sentence in enumerate(sentences(text)):
        if sentence.step != current_step:
            current_step, step_topics = sentence.step, []
        if index in skip:
            previous_topics = []
            continue
        if _REQUEST.match(sentence.text):
            request_step = sentence.step
        found, topics = _sentence_mentions(
            sentence,
            index,
            lexicon,
            [*previous_topics, *step_topics],
            request=sentence.step == request_step or bool(_ON_PRIOR.match(sentence.text)),
        )
        mentions.extend(found)
        step_topics = [m for m in step_topics if not _settled(m, found)] + topics
        previous_topics = topics
    return mentions


def _settled(topic: Mention, found: Sequence[Mention]) -> bool:
    return any(m.code == topic.code and m.status is not None for m in found)


@dataclass(frozen=True, slots=True)
class _Span:
    """A finding in a sentence: ``start``/``end`` anchor its cues, ``lo``/``hi`` its words."""

    code: str
    start: int
    end: int
    lo: int
    hi: int
    derived: bool = False
    normal: bool = False


def _sentence_mentions(
    sentence: Sentence,
    index: int,
    lexicon: Lexicon,
    open_topics: Sequence[Mention],
    *,
    request: bool = False,
) -> tuple[list[Mention], list[Mention]]:
    """The mentions of one sentence and the hypothetical ones (its topics).

    In a question, in the request for the study (an INDICATION or HISTORY section, "?
    pneumonia") or in a sentence about the prior study ("On the prior image there is no
    pneumothorax"), findings are topics, not statements about this image.
    """
    tokens = tokenize(sentence.text)
    if not tokens:
        return [], []
    spans = _finding_spans(tokens, lexicon)
    terms = [(s.start, s.end) for s in spans if not s.derived]
    cues = [
        c
        for c in _cues(tokens, lexicon)
        if not any(s <= c.start < e or s < c.end <= e for s, e in terms)
    ]
    colons = {i for i, t in enumerate(tokens) if ":" in sentence.text[: t.start][-2:]}
    boundaries = sorted({c.start for c in cues if c.category == "terminator"} | colons)
    assertions = sorted({c.start for c in cues if c.category == "assertion"})
    question = sentence.text.rstrip().endswith("?") or sentence.text.lstrip().startswith("?")
    question = question or request
    heading = _heading_end(sentence.text)
    places = locations(tokens, lexicon, [(s.lo, s.hi) for s in spans], boundaries)
    found: list[Mention] = []
    for span, location in zip(spans, places, strict=True):
        topic = question or tokens[span.hi - 1].end <= heading
        status = None if topic else _status(span, cues, boundaries, assertions, spans)
        surface = sentence.text[tokens[span.lo].start : tokens[span.hi - 1].end]
        found.append(
            Mention(span.code, status, surface, location, index, sentence.step, sentence.text)
        )
    found = _interpretations_located(found)
    topics = [m for m in found if m.status is None]
    verdict = _verdict(cues, found, question)
    if verdict is not None:
        targets = topics or [m for m in open_topics if m.sentence != index]
        found.extend(replace(t, status=verdict, sentence=index) for t in targets)
        topics = []
    return found, topics


def _interpretations_located(found: list[Mention]) -> list[Mention]:
    """A hedged interpretation without a place takes the place of the finding it follows
    ("Opacity at the left base, likely atelectasis": the atelectasis is at the left base)."""
    out: list[Mention] = []
    for mention in found:
        located = [m for m in out if m.status is not None and m.location.sides]
        if mention.status == "uncertain" and not mention.location.text and located:
            mention = replace(mention, location=located[-1].location)
        out.append(mention)
    return out


def _heading_end(text: str) -> int:
    """End of a leading label ("Option A) mild cardiomegaly: ..."), whose findings are topics."""
    colon = text.find(":")
    if colon < 0 or len(text[:colon].split()) > 12:
        return -1
    return colon


def _finding_spans(tokens: Sequence[Token], lexicon: Lexicon) -> list[_Span]:
    """Lexicon terms, then structures with a qualifier ("heart ... enlarged", "lungs clear")."""
    spans = [
        _Span(m.value, m.start, m.end, m.start, m.end) for m in lexicon.finding_index.find(tokens)
    ]
    taken = {k for span in spans for k in range(span.lo, span.hi)}
    for match in lexicon.anatomy_index.find(tokens):
        if taken & set(range(match.start, match.end)):
            continue
        anatomy = lexicon.anatomy[match.value]
        lo, hi = max(0, match.start - 6), min(len(tokens), match.end + 7)
        window = tokens[lo:hi]
        for state in anatomy.states.find(window):
            s, e = state.start + lo, state.end + lo
            if not taken & set(range(s, e)):
                spans.append(_Span(state.value, s, e, min(s, match.start), max(e, match.end), True))
                taken |= set(range(s, e))
        for word in anatomy.normal_words.find(window):
            s, e = word.start + lo, word.end + lo
            if anatomy.normal and not taken & set(range(s, e)):
                spans.append(
                    _Span(
                        anatomy.normal[0], s, e, min(s, match.start), max(e, match.end), True, True
                    )
                )
                taken |= set(range(s, e))
                break
    spans.sort(key=lambda span: (span.lo, span.hi))
    return spans


def _cues(tokens: Sequence[Token], lexicon: Lexicon) -> list[_Cue]:
    out: list[_Cue] = []
    for match in lexicon.cue_index.find(tokens):
        category, _, direction = match.value.partition(":")
        out.append(_Cue(category, direction, match.start, match.end))
    return out


def _status(
    span: _Span,
    cues: Sequence[_Cue],
    boundaries: Sequence[int],
    assertions: Sequence[int],
    spans: Sequence[_Span],
) -> FindingStatus | None:
    """The status of a mention from the cues whose scope reaches it.

    Hypothetical cues reach both ways within a clause; a negation's scope stops at an
    assertion that follows another finding ("no effusion, there is a nodule").
    """
    start, end = span.start, span.end
    applicable: list[tuple[int, str]] = []
    for cue in cues:
        if cue.category not in _FORWARD_SCOPE:
            continue
        if cue.end <= start and (cue.direction == "forward" or cue.category == "hypothetical"):
            distance = start - cue.end
            blocked = any(cue.end <= b < start for b in boundaries)
            if cue.category == "negated":
                blocked = blocked or any(
                    cue.end <= a < start and any(cue.end <= o.start and o.end <= a for o in spans)
                    for a in assertions
                )
            elif cue.category == "hypothetical":
                blocked = blocked or any(cue.end <= a < start for a in assertions)
            if not blocked and distance <= _FORWARD_SCOPE[cue.category]:
                applicable.append((distance, cue.category))
        elif cue.start >= end and (cue.direction == "backward" or cue.category == "hypothetical"):
            distance = cue.start - end
            limit = _BACKWARD_SCOPE if cue.direction == "backward" else 3
            blocked = any(end <= b <= cue.start for b in boundaries)
            if cue.category == "hypothetical":
                blocked = blocked or any(end <= a < cue.start for a in assertions)
            if not blocked and distance <= limit:
                applicable.append((distance, cue.category))
    hypothetical = [d for d, category in applicable if category == "hypothetical"]
    negated = [d for d, category in applicable if category == "negated"]
    if hypothetical and not (negated and min(negated) < min(hypothetical)):
        return None
    if span.normal or negated:
        return "absent"
    if any(category == "uncertain" for _, category in applicable):
        return "uncertain"
    return "present"


def _verdict(
    cues: Sequence[_Cue], found: Sequence[Mention], question: bool
) -> FindingStatus | None:
    """The status a sentence gives to earlier topics ("no such signs", "ruling out this")."""
    if question:
        return None
    anaphora = [c for c in cues if c.category == "anaphora"]
    negations = [c for c in cues if c.category == "negated"]
    own = [m for m in found if m.status is not None]
    for cue in anaphora:
        if any(n.end <= cue.start and cue.start - n.end <= 6 for n in negations):
            return "absent"
        if any(n.start >= cue.end and n.start - cue.end <= 6 for n in negations):
            return "absent"
    if anaphora and not own:
        if any(c.category == "hypothetical" for c in cues):
            return None
        if any(c.category == "uncertain" for c in cues):
            return "uncertain"
        if any(c.category == "assertion" for c in cues):
            return "present"
    if negations and not found:
        return "absent"
    return None
