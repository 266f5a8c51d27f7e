"""Answer parsing that survives real model output.

Both parsers first clean the output (drop an echoed chat transcript and prompt, empty
``<answer></answer>`` tags, echoed option lists, markdown), then read the answer from the
most specific region that yields one: the last ``<answer>`` block (also nested in
``<think>``, missing its opening tag, or cut off), the text after ``</think>``, then the
whole output. A region that names a choice decides; only a region that names nothing
passes on to the next one.

``parse_choice`` prefers letters: a final-answer statement beats other answer statements,
which beat bare mentions; within the winning statement several different letters, or a
letter or number outside the options, give no answer. Without any letter it matches the
option text (a leading "Yes"/"No", or the one option whose findings are exactly those the
text asserts). ``parse_labels`` maps free text to CheXpert labels with synonyms and
negation (see ``label_synonyms``).
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache

from radrbench.metrics.label_synonyms import PhraseMatcher, normalize, order_labels, synonyms


@dataclass(frozen=True)
class ParsedAnswer:
    """A parsed answer: a letter (choice tasks) or labels (multi_open), and how it was read."""

    letter: str | None
    labels: tuple[str, ...] | None
    reason: str

    @property
    def failed(self) -> bool:
        return self.letter is None and self.labels is None


def _fail(reason: str) -> ParsedAnswer:
    return ParsedAnswer(None, None, reason)


# --- cleaning -------------------------------------------------------------------------

_ROLE_MARKER = re.compile(
    r"<\|im_start\|>\s*assistant|<\|start_header_id\|>\s*assistant\s*<\|end_header_id\|>"
    r"|<\|assistant\|>|\[/INST\]|<start_of_turn>\s*model"
    r"|^[ \t#]*(?:assistant|Assistant|ASSISTANT)[ \t]*:?[ \t]*$|^[ \t#]*(?:ASSISTANT|Assistant):",
    re.M,
)
_INSTRUCTION = re.compile(
    r"Enclose\s+the\s+reasoning\s+within\s*<think>\s*</think>\s*and\s+the\s+answer\s+"
    r"within\s*<answer>\s*</answer>\s*\.?",
    re.I,
)
_NOISE = re.compile(
    r"<\|[^|>]{1,40}\|>|</?s>|<eos>|<(?:start|end)_of_turn>|\*|__|`|\$|^#+[ \t]*", re.M
)
_BOXED = re.compile(r"\\boxed\{\s*([^{}]*?)\s*\}")
_EMPTY_TAGS = re.compile(r"<(answer|think)>\s*</\1>", re.I)
_COLON_BREAK = re.compile(r":[ \t]*\n\s*")
_TAG = re.compile(r"</?(?:answer|think)>", re.I)


def _clean(output: str, options: dict[str, str] | None) -> str:
    markers = list(_ROLE_MARKER.finditer(output))
    text = output[markers[-1].end() :] if markers else output
    instructions = list(_INSTRUCTION.finditer(text))
    text = text[instructions[-1].end() :] if instructions else text
    text = _NOISE.sub("", _BOXED.sub(r"\1", text))
    text = _COLON_BREAK.sub(": ", _EMPTY_TAGS.sub(" ", text))
    if options:
        text = _option_list(options).sub(" ", text)
    return text.strip()


def _option_list(options: dict[str, str]) -> re.Pattern[str]:
    """An echoed option list: every option, in order, with its own text."""
    return _option_list_pattern(tuple(options.items()))


@lru_cache(maxsize=4096)
def _option_list_pattern(options: tuple[tuple[str, str], ...]) -> re.Pattern[str]:
    items = [
        rf"\(?{letter}\s*[).:]\s*" + r"\s+".join(map(re.escape, text.split()))
        for letter, text in options
    ]
    return re.compile(r"(?:options?\s*:\s*)?" + r"[\s,;]*".join(items) + r"\.?", re.I)


def _regions(text: str, *, whole: bool) -> Iterator[tuple[str, str]]:
    """Where to look, most specific first: answer block, after </think>, whole text."""
    lower = text.lower()
    close = lower.rfind("</answer>")
    if close >= 0:
        tags = list(_TAG.finditer(text, 0, close))
        yield "answer block", text[tags[-1].end() if tags else 0 : close].strip()
    elif (opened := lower.rfind("<answer>")) >= 0:
        yield "unclosed answer block", text[opened + len("<answer>") :].strip()
    think_end = lower.rfind("</think>")
    if think_end >= 0:
        yield "text after </think>", _TAG.sub(" ", text[think_end + len("</think>") :]).strip()
    if whole:
        yield "output", _TAG.sub(" ", text).strip()


def _first(
    regions: Iterator[tuple[str, str]], read: Callable[[str], ParsedAnswer | None]
) -> ParsedAnswer | None:
    for where, region in regions:
        if region and (parsed := read(region)) is not None:
            return ParsedAnswer(parsed.letter, parsed.labels, f"{where}: {parsed.reason}")
    return None


_REFUSAL = re.compile(
    r"\b(?:i(?:'m| am)? (?:sorry|unable|not able)|i (?:can ?not|can't|won't)|as an ai"
    r"|unable to (?:provide|determine|interpret|assess|diagnose|view)"
    r"|(?:consult|see) a (?:radiologist|doctor|physician|healthcare professional))",
    re.I,
)


def _nothing_found(text: str, what: str) -> ParsedAnswer:
    if not text:
        return _fail("empty output (after removing any echoed prompt)")
    if _REFUSAL.search(text):
        return _fail(f"refusal: no {what} given")
    return _fail(f"no {what} found")


# --- choice tasks ---------------------------------------------------------------------


def parse_choice(output: str, options: dict[str, str]) -> ParsedAnswer:
    """The option letter a model chose, or None with the reason it could not be read."""
    text = _clean(output, options)
    parsed = _first(_regions(text, whole=True), lambda region: _choice_in(region, options))
    return parsed or _nothing_found(text, "option letter or option text")


_SINGLE_LETTER = re.compile(r"^[(\[]?([A-Za-z])[)\]]?\.?$")
_STRICT = re.compile(
    r"\(([A-Z])\)"
    r"|(?<![\w(\[])([A-Z])\)"
    r"|\b(?i:option|choice|answer)\b(?:\s*(?:is|would be|will be|should be|[:#=\-]))*\s*"
    r"\(?([A-Za-z]|\d{1,2})\b(?![\w'\u2019\-\u2013])"
    r"|^[ \t]*([A-Z])[.:](?=\s|$)",
    re.M,
)
_CUE_GROUP = 3
_LOOSE = re.compile(r"(?<![\w'\u2019\-\u2013/.])([A-Z])(?![\w'\u2019\-\u2013/])")
_CONNECTORS = frozenset(
    {"or", "and", "is", "as", "are", "was", "because", "since", "which", "seems", "appears"}
    | {"would", "best", "fits", "matches", "corresponds", "aligns", "indicates", "shows"}
    | {"reflects", "but", "nor", "then", "also", "both", "fit", "look", "looks"}
    | {"seem", "appear", "were", "has", "have", "can", "will", "should", "must"}
)
_FOLLOWER = re.compile(r"^\s*(?:$|[.,;:!?()\]\"'/\-\u2013\u2014]|(\w+))")
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+|;")
_FINAL_CUE = re.compile(
    r"\bfinal\s+(?:answer|choice|option|selection|decision)\b|\bfinal\s*:", re.I
)
_ANSWER_CUE = re.compile(
    r"\b(?:"
    + "|".join(
        (
            r"answer|therefore|thus|hence|so|conclusion|overall|correct|best|most closely",
            r"choose|select|pick|go with|match(?:es)?|corresponds?|consistent with|aligns?",
            r"points? towards?|indicates|suggests?|supports|considering|given these|based on",
            r"from (?:our|the|this) (?:evaluation|analysis|assessment)",
            r"most (?:\w+ly )?(?:likely|consistent|appropriate|fitting|applicable|probable"
            r"|accurate|apparent|prominent|evident|notable|suitable|relevant|plausible|aligned)",
        )
    )
    + r")\b|\b(?:option|answer|finding|choice|diagnosis)s?\b[^.]*\b(?:is|are)\s*:?\s*\(?$",
    re.I,
)
_ANSWER_CUE_AFTER = re.compile(
    r"\b(?:is|are|appears? to be|seems? to be|would be|remains)\s+(?:the\s+)?(?:most|best|"
    r"correct|right|final)\b|\b(?:fits|matches) best\b|\bbest (?:fits|matches)\b|\bmost closely\b"
    r"|\b(?:seems?|appears?) to (?:best )?(?:fit|match|relate|correspond|align)\b",
    re.I,
)
_HEDGE = re.compile(r"\b(?:could|might|may|possibly|perhaps|either)\b", re.I)
_REJECTED_BEFORE = re.compile(
    r"\b(?:not|rather than|instead of|rules? out|ruled out|eliminat\w*|exclud\w*|than)"
    r"\s*(?:option|choice)?\s*\(?$",
    re.I,
)
_REJECTED_AFTER = re.compile(
    r"^[\s)\]:\-\u2013\u2014]*(?:(?:is|are|seems?|appears?|would be|can be)\s+)?"
    r"(?:incorrect|wrong|unlikely|not\b|less likely|ruled out|excluded|eliminated)",
    re.I,
)
_CLOSING_LINE = re.compile(r"[ \t\-]*\(?([A-Z])\)?(?:[.):\u2013]\s*(.*?))?\s*$")
_FINAL, _STATED, _MENTIONED = 3, 2, 1


@dataclass(frozen=True)
class _Mention:
    letter: str  # an upper-case letter, or a number the model used as an option label
    sentence: int
    level: int  # _FINAL, _STATED or _MENTIONED


def _choice_in(span: str, options: dict[str, str]) -> ParsedAnswer | None:
    whole = _SINGLE_LETTER.match(span)
    if whole:
        return _chosen([whole[1].upper()], options, "the answer is the letter itself")
    mentions = _mentions(span, options)
    if mentions:
        return _decide(mentions, options)
    return _content_choice(span, options)


def _mentions(text: str, options: dict[str, str]) -> list[_Mention]:
    """Letters (and numbers) used as option labels, in order, without rejected ones."""
    spans: dict[int, tuple[int, str]] = {}  # start -> (end, letter)
    for pattern in (_STRICT, _LOOSE):
        for match in pattern.finditer(text):
            group = next(g for g in range(1, (match.lastindex or 0) + 1) if match[g])
            letter, start = match[group], match.start(group)
            if start in spans or (pattern is _LOOSE and letter not in options):
                continue
            bare = pattern is _LOOSE or group == _CUE_GROUP
            if bare and (pattern is _LOOSE or letter in "AI" or letter.islower()):
                follower = _FOLLOWER.match(text[match.end() :])
                if not follower or (follower[1] and follower[1].lower() not in _CONNECTORS):
                    continue  # the article "A", the pronoun "I", "Kerley B lines"
            if not _rejected(text, start, match.end(), options.get(letter.upper(), "")):
                spans[start] = (match.end(), letter.upper())
    if not spans:
        return []
    bounds = [0, *(m.end() for m in _SENTENCE.finditer(text)), len(text)]
    closing = _closing_choice(text, options)
    starts = sorted(spans)
    mentions = []
    for start, following in zip(starts, [*starts[1:], len(text)], strict=True):
        end, letter = spans[start]
        sentence = bisect_right(bounds, start) - 1
        before = text[bounds[sentence] : start]
        after = text[end : min(following, bounds[sentence + 1])]
        level = _STATED if start == closing else _level(before, after)
        mentions.append(_Mention(letter, sentence, level))
    return mentions


def _closing_choice(text: str, options: dict[str, str]) -> int | None:
    """Where the letter is when the last line restates one option ("C) pleural effusion")."""
    line_start = text.rfind("\n") + 1
    match = _CLOSING_LINE.match(text, line_start)
    if not match or match[1] not in options:
        return None
    rest = normalize(match[2])
    return match.start(1) if rest in ("", normalize(options[match[1]])) else None


def _level(before: str, after: str) -> int:
    """How decisive a mention is, from the words around it up to the next mention."""
    if _HEDGE.search(before.rsplit(",", 1)[-1]):
        return _MENTIONED
    if _FINAL_CUE.search(before):
        return _FINAL
    if _ANSWER_CUE.search(before) or _ANSWER_CUE_AFTER.search(after):
        return _STATED
    return _MENTIONED


def _rejected(text: str, start: int, end: int, option_text: str) -> bool:
    """'not A', 'rather than C', 'option B is incorrect' name a choice only to reject it."""
    after = text[end:].lstrip(" )")
    if option_text and after.lower().startswith(option_text.lower()):
        after = after[len(option_text) :]
    before = text[max(0, start - 30) : start]
    return bool(_REJECTED_BEFORE.search(before) or _REJECTED_AFTER.match(after))


def _decide(mentions: list[_Mention], options: dict[str, str]) -> ParsedAnswer:
    """The last sentence at the highest level decides; bare mentions decide together."""
    top = max(m.level for m in mentions)
    if top == _MENTIONED:
        return _chosen([m.letter for m in mentions], options, "the only choice mentioned")
    last = max(m.sentence for m in mentions if m.level == top)
    letters = [m.letter for m in mentions if m.level == top and m.sentence == last]
    how = "final answer statement" if top == _FINAL else "answer statement"
    return _chosen(letters, options, how)


def _chosen(letters: list[str], options: dict[str, str], how: str) -> ParsedAnswer:
    distinct = list(dict.fromkeys(letters))
    listed = f"{next(iter(options))}-{list(options)[-1]}"
    if len(distinct) > 1:
        return _fail(f"several different choices ({', '.join(distinct)}) and no final one")
    letter = distinct[0]
    if letter.isdigit():
        return _fail(f"numbered option '{letter}' invented (the options are {listed})")
    if letter not in options:
        return _fail(f"letter '{letter}' is not among the options {listed}")
    return ParsedAnswer(letter, None, f"{how} ({letter})")


_ANSWER_CLAUSE = re.compile(r"\b(?:final\s+)?answer\s*(?:is|would be|:)\s*", re.I)
_CONCLUSION = re.compile(
    r"\b(?:therefore|thus|hence|in conclusion|conclusion|overall|answer|consistent with|"
    r"the findings? (?:is|are)|final)\b",
    re.I,
)
_POLAR = frozenset({"yes", "no"})


def _content_region(text: str) -> str:
    """The clause that states the answer in words."""
    clauses = list(_ANSWER_CLAUSE.finditer(text))
    if clauses:
        return _SENTENCE.split(text[clauses[-1].end() :], maxsplit=1)[0]
    if len(text) <= 300:
        return text
    sentences = [s for s in _SENTENCE.split(text) if s.strip()]
    concluding = [s for s in sentences if _CONCLUSION.search(s)]
    return (concluding or sentences or [""])[-1]


def _content_choice(span: str, options: dict[str, str]) -> ParsedAnswer | None:
    """The option whose text the span states: exactly, as a leading word, or as the
    exact set of findings the span asserts."""
    region = _content_region(span)
    said = re.sub(r"^(?:the|it is|it's)\s+", "", normalize(region))
    exact = [k for k, v in options.items() if normalize(v) == said]
    if exact:
        return ParsedAnswer(exact[0], None, f"option text ({exact[0]})")
    leading = [
        k
        for k, v in options.items()
        if len(normalize(v).split()) == 1
        and re.match(rf"^\W*{re.escape(normalize(v))}\s*(?:[,.;:!]|$)", region, re.I)
    ]
    if len(leading) == 1:
        return ParsedAnswer(leading[0], None, f"option word leads the answer ({leading[0]})")
    keys = {k: _option_keys(v) for k, v in options.items()}
    universe = set().union(*keys.values())
    if not universe:
        return None
    raw = PhraseMatcher({p: p for p in universe})
    table = synonyms()
    stated = table.labels.asserted(region) | table.terms.asserted(region) | raw.asserted(region)
    stated &= universe
    if not stated:
        return None
    matching = [k for k, v in keys.items() if v == stated]
    if len(matching) == 1:
        return ParsedAnswer(matching[0], None, f"option content ({matching[0]})")
    named = ", ".join(sorted(stated))
    return _fail(f"the text names {named}, which is not exactly one option")


def _option_keys(text: str) -> frozenset[str]:
    """What an option asserts: answer terms, CheXpert labels or plain phrases (empty for
    Yes/No, which only count as the leading word)."""
    table = synonyms()
    keys = set()
    for item in re.split(r",|;|/|\+|\band\b", text):
        words = normalize(item)
        if not words:
            continue
        if words in _POLAR:
            return frozenset()
        keys.add(
            table.terms.key_of(words)
            or table.labels.key_of(words)
            or table.whole_answer.key_of(words)
            or words
        )
    return frozenset(keys)


# --- multi_open -----------------------------------------------------------------------

_LABEL_CUES = (
    ("after the answer statement", _ANSWER_CLAUSE),
    (
        "conclusion",
        re.compile(
            r"\b(?:in conclusion|conclusion|impression|in summary|summary|therefore|overall)\b",
            re.I,
        ),
    ),
)


def parse_labels(output: str) -> ParsedAnswer:
    """The CheXpert labels a model stated for ``multi_open``, or None with the reason."""
    text = _clean(output, None)
    parsed = _first(_label_regions(text), _labels_in)
    return parsed or _nothing_found(text, "CheXpert label")


def _label_regions(text: str) -> Iterator[tuple[str, str]]:
    """Answer block, after </think>, after an answer or conclusion cue, last paragraph."""
    yield from _regions(text, whole=False)
    plain = _TAG.sub(" ", text)
    for where, cue in _LABEL_CUES:
        matches = list(cue.finditer(plain))
        if matches:
            yield where, plain[matches[-1].end() :].lstrip(" :,").split("\n\n")[0]
    yield "last paragraph", plain.strip().split("\n\n")[-1]


def _labels_in(region: str) -> ParsedAnswer | None:
    """Labels a region asserts; a region naming only negated findings reads as No Finding
    (the CheXpert labeller's rule); a region naming no label passes (None)."""
    table = synonyms()
    whole = table.whole_answer.key_of(region)
    if whole:
        return ParsedAnswer(None, (whole,), f"whole answer names {whole}")
    mentions = table.labels.mentions(region)
    positive = {m.key for m in mentions if m.asserted}
    if positive - {"No Finding", "Support Devices"}:
        positive.discard("No Finding")
    if not positive:
        if any(m.negated for m in mentions):
            return ParsedAnswer(None, ("No Finding",), "only negated findings: No Finding")
        return None
    labels = order_labels(positive)
    unknown = _unrecognised(region) if "," in region else []
    note = f"; unrecognised: {', '.join(repr(u) for u in unknown)}" if unknown else ""
    return ParsedAnswer(None, labels, f"{len(labels)} label(s){note}")


def _unrecognised(region: str) -> list[str]:
    """Items of a label list that name no CheXpert label (none for prose)."""
    table = synonyms()
    items = [item.strip(" .") for item in re.split(r",|;|\band\b", region)]
    if any(len(item.split()) > 5 for item in items):
        return []
    return [
        item
        for item in items
        if item and not table.labels.mentions(item) and not table.whole_answer.key_of(item)
    ]
