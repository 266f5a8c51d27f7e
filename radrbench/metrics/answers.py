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

Given the question (or the asked finding), ``parse_choice`` also reads a yes/no answer
stated in words, in a region without letters or option text, against the asked finding:
the CheXpert label the question names, with its synonyms (else the question's own phrase).

- Yes when the finding (or, for Lung Opacity and Enlarged Cardiomediastinum, a finding
  under it in the CheXpert hierarchy) is stated: "there is cardiomegaly", "shows an enlarged
  heart". A committed lean counts as stated ("likely", "suspected", "suggestive of").
- No when it is negated ("no pneumothorax visible", "pneumothorax is not seen") or a phrase
  states it is absent ("normal heart size"), or when the whole answer is "negative",
  "none", "absent" or "normal", or calls the study normal. A normal-study statement
  qualified as acute ("no acute cardiopulmonary process") rules out only acute findings
  (effusion, pneumothorax, edema, consolidation, pneumonia), since chronic ones are often
  reported next to it; no normal-study statement rules out support devices.
- No answer (a parse failure) when the text both states and denies the finding; when it
  only says the finding is possible ("possible", "may", "cannot be excluded",
  "borderline", "atelectasis or pneumonia"), as a hedge between two letters gives none;
  when it says it cannot tell; when it names the finding only as the cause of another
  ("effusion due to heart failure"); and when it names another finding but not the asked
  one. Questions the answer echoes are not statements; a text naming no finding passes on.

For a normal/abnormal question, a text that states a finding (not a device) reads as
abnormal, and one that only calls a finding possible, or cannot tell, gives no answer.
Without the question, words other than option text are never guessed.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache

from radrbench.metrics.label_synonyms import (
    Mention,
    PhraseMatcher,
    normalize,
    order_labels,
    synonyms,
)


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


def parse_choice(
    output: str,
    options: dict[str, str],
    *,
    question: str | None = None,
    findings: Sequence[str] | None = None,
) -> ParsedAnswer:
    """The option letter a model chose, or None with the reason it could not be read.

    ``question`` (the question text the model saw, options included or not) and
    ``findings`` (names of the finding a yes/no question asks about, used when the question
    names none) let an answer given in words be read against what was asked; without them
    only letters and option text count.
    """
    text = _clean(output, options)
    asked = _asked(question, findings, options)
    parsed = _first(_regions(text, whole=True), lambda region: _choice_in(region, options, asked))
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


def _choice_in(span: str, options: dict[str, str], asked: _Asked | None) -> ParsedAnswer | None:
    whole = _SINGLE_LETTER.match(span)
    if whole:
        return _chosen([whole[1].upper()], options, "the answer is the letter itself")
    mentions = _mentions(span, options)
    if mentions:
        return _decide(mentions, options)
    return _content_choice(span, options, asked)


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
    rest = normalize(match[2] or "")
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


def _content_choice(
    span: str, options: dict[str, str], asked: _Asked | None
) -> ParsedAnswer | None:
    """The option whose text the span states: exactly, as a leading word, or as the
    exact set of findings the span asserts; else, for a yes/no or normal/abnormal
    question, what the span says about the asked finding (or about any finding)."""
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
    if universe:
        raw = PhraseMatcher({p: p for p in universe})
        table = synonyms()
        stated = table.labels.asserted(region) | table.terms.asserted(region)
        stated = (stated | raw.asserted(region)) & universe
        if stated:
            matching = [k for k, v in keys.items() if v == stated]
            if len(matching) == 1:
                return ParsedAnswer(matching[0], None, f"option content ({matching[0]})")
            named = ", ".join(sorted(stated))
            return _fail(f"the text names {named}, which is not exactly one option")
    return asked.read(region) if asked else None


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


# --- answers in words to yes/no and normal/abnormal questions -------------------------

_ASKED, _ABSENT = "<asked>", "<absent>"  # matcher keys: the asked phrase, "normal heart size"
# CheXpert's label hierarchy: a present child finding makes its parent present.
_CHILDREN: dict[str, frozenset[str]] = {
    "Lung Opacity": frozenset(
        {"Atelectasis", "Consolidation", "Edema", "Lung Lesion", "Pneumonia"}
    ),
    "Enlarged Cardiomediastinum": frozenset({"Cardiomegaly"}),
}
# What "no acute cardiopulmonary process" rules out; chronic findings (a large heart, a
# granuloma, an old fracture, devices) are often reported next to it.
_ACUTE = frozenset({"Pleural Effusion", "Pneumothorax", "Edema", "Consolidation", "Pneumonia"})
_NOT_ABNORMAL = frozenset({"No Finding", "Support Devices"})
_WHOLE_YES = frozenset({"present", "positive", "seen", "identified"})
_WHOLE_NO = frozenset({"absent", "not present", "not seen", "not identified"})

_QUESTION_STEM = re.compile(r"^(.*?)(?:\?|\bOptions\s*:|$)", re.I | re.S)
_ASKED_PHRASE = re.compile(
    r"\b(?:show|shows|showing|signs? of|evidence of|presence of|is there|are there)\s+"
    r"(?:an?\s+|any\s+)?(.+?)\s*(?:\b(?:in|on) th(?:is|e)\b.*)?$",
    re.I | re.S,
)
_STRONG_BREAK = re.compile(
    r"[.;!?\n]|\b(?:but|however|although|though|whereas|while|yet|except)\b", re.I
)
_HEDGE_BEFORE = re.compile(
    r"\b(?:possible|possibly|may|might|could|perhaps|maybe|questionable|question of|"
    r"equivocal|indeterminate|uncertain|borderline|potential(?:ly)?|"
    r"either|versus|vs|differential|"
    r"(?:can ?not|can['\u2019]t|could not|couldn['\u2019]t|not) (?:be )?"
    r"(?:exclude[sd]?|rule[sd]? out))\b",
    re.I,
)
_HEDGE_AFTER = re.compile(
    r"^[\s,:]*(?:(?:is|are|was|were|be|been|appears?|seems?)\s+)*(?:"
    r"possible|possibly|questionable|uncertain|equivocal|indeterminate|borderline"
    r"|(?:not|can ?not|can['\u2019]t|could not|couldn['\u2019]t)\s+(?:be\s+)?"
    r"(?:excluded|ruled out|determined|assessed)"
    r"|(?:may|might|could)\s+(?:not\s+)?(?:be\s+)?(?:present|seen|there|visible|noted|exist)"
    r"|\?)",
    re.I,
)
_NEGATED_AFTER = re.compile(
    r"^[\s,]*(?:(?:is|are|was|were|has|have|been|be|can|could|does|do|did|will|would)\s+)+"
    r"(?:not|never)\b"
    r"|^[\s,]*(?:can ?not|can['\u2019]t|couldn['\u2019]t)\s+be\s+"
    r"(?:seen|identified|visuali[sz]ed|appreciated|detected|demonstrated)\b",
    re.I,
)
_ALTERNATIVE = re.compile(r"\b(?:or|versus|vs)\.?\s+$|^\s*(?:,\s*)?(?:or|versus|vs)\b", re.I)
_HYPOTHETICAL_BEFORE = re.compile(
    r"\b(?:whether|if (?:there|any)|look(?:ing)? for|check(?:ing)? for|assess(?:ing)? for|"
    r"evaluat(?:e|ing) for|examin(?:e|ing) for|search(?:ing)? for|such as|"
    r"to (?:rule out|exclude|determine|detect|identify|see))\b",
    re.I,
)
_CAUSE_BEFORE = re.compile(
    r"\b(?:due to|secondary to|caused by|because of|as a result of|resulting from|result of|"
    r"related to|attributable to|attributed to|owing to|sequelae? of|complication of)"
    r"\s+(?:\w+\s+){0,3}$",
    re.I,
)
_UNDECIDED = re.compile(
    r"\b(?:can ?not|can['\u2019]t|unable to|impossible to|not possible to|difficult to|hard to|"
    r"not able to)\s+(?:be\s+)?(?:determined?|tell|say|decide|assess(?:ed)?|evaluated?|"
    r"confirm(?:ed)?|conclude|exclude[d]?|rule out)\b"
    r"|\b(?:indeterminate|inconclusive|undetermined|uncertain|unclear|equivocal|not sure)\b",
    re.I,
)
_SEEING = re.compile(
    r"\b(?:can ?not|can['\u2019]t|could not|couldn['\u2019]t)\s+(?:clearly\s+)?"
    r"(?:see|identify|appreciate|detect|visuali[sz]e|find|observe)\b",
    re.I,
)
_LOCALISED = re.compile(r"^\s+(?:of|in|involving|within)\s+the\s+(?!chest\b)\w+", re.I)
_HEDGE_WORDS = 6


@dataclass(frozen=True)
class _Asked:
    """What a yes/no question asks about (CheXpert labels or, failing that, its own
    phrase), or that a question asks whether the study is normal."""

    letters: tuple[str, str]  # the Yes and No letters; the Normal and Abnormal ones
    labels: frozenset[str] = frozenset()
    phrases: tuple[str, ...] = ()
    anomaly: bool = False

    @property
    def name(self) -> str:
        return ", ".join(sorted(self.labels) or self.phrases)

    def read(self, region: str) -> ParsedAnswer | None:
        statements = " ".join(s for s in _SENTENCE.split(region) if not s.strip().endswith("?"))
        if not statements.strip():
            return None
        if _REFUSAL.search(_SEEING.sub(" ", statements)):
            return _fail("refusal: no answer given")
        if self.anomaly:
            return _read_anomaly(statements, self.letters)
        return _read_finding(statements, self)


def _asked(
    question: str | None, findings: Sequence[str] | None, options: dict[str, str]
) -> _Asked | None:
    """What an answer in words must be read against, or None where that does not apply."""
    if question is None and not findings:
        return None
    words = {normalize(text): letter for letter, text in options.items()}
    if len(options) == 2 and set(words) == _POLAR:
        letters = (words["yes"], words["no"])
        labels, phrases = _asked_finding(question or "")
        if not labels and not phrases:
            labels, phrases = _named(findings or ())
        if len(labels) > 1 or not (labels or phrases):
            return None  # several findings asked at once, or none recognised
        return _Asked(letters, labels, phrases)
    keys = {_option_keys(text): letter for letter, text in options.items()}
    normal, abnormal = frozenset({"normal"}), frozenset({"abnormal"})
    if question is not None and len(options) == 2 and set(keys) == {normal, abnormal}:
        return _Asked((keys[normal], keys[abnormal]), anomaly=True)
    return None


def _asked_finding(question: str) -> tuple[frozenset[str], tuple[str, ...]]:
    """The CheXpert labels a yes/no question names, else the phrase it asks about."""
    stem = _QUESTION_STEM.match(question.strip())
    text = stem[1] if stem else ""
    labels = {m.key for m in synonyms().labels.mentions(text)} - {"No Finding"}
    if labels:
        return frozenset(labels), ()
    phrase = _ASKED_PHRASE.search(text)
    words = normalize(phrase[1]) if phrase else ""
    return frozenset(), (words,) if words else ()


def _named(findings: Sequence[str]) -> tuple[frozenset[str], tuple[str, ...]]:
    table = synonyms()
    labels, phrases = set(), []
    for finding in findings:
        label = table.labels.key_of(finding)
        if label:
            labels.add(label)
        elif normalize(finding):
            phrases.append(normalize(finding))
    return frozenset(labels - {"No Finding"}), tuple(dict.fromkeys(phrases))


@lru_cache(maxsize=256)
def _finding_matcher(labels: frozenset[str], phrases: tuple[str, ...]) -> PhraseMatcher:
    """Every CheXpert label phrase, the asked phrase, and the phrases that state the asked
    finding is absent ("normal heart size"), in one matcher so that the longest wins."""
    table = synonyms()
    absent = {p: _ABSENT for label in sorted(labels) for p in table.absent.get(label, ())}
    return PhraseMatcher(absent | table.label_phrases | {p: _ASKED for p in phrases})


def _status(text: str, mention: Mention) -> str:
    """How a text states one mention: yes, no, hedge, cause (only as a cause of something
    else) or hypothetical."""
    start = _STRONG_BREAK.split(text[: mention.start])[-1]
    before = " ".join(start.split()[-_HEDGE_WORDS:]) + " "
    after = _STRONG_BREAK.split(text[mention.end :])[0]
    if mention.hypothetical or _HYPOTHETICAL_BEFORE.search(before):
        return "hypothetical"
    if _CAUSE_BEFORE.search(before):
        return "cause"
    if _HEDGE_BEFORE.search(before) or _HEDGE_AFTER.match(after):
        return "hedge"
    if mention.negated or _NEGATED_AFTER.match(after):
        return "no"
    if _ALTERNATIVE.search(before) or _ALTERNATIVE.match(after):
        return "hedge"  # "atelectasis or pneumonia"
    return "yes"


def _read_finding(text: str, asked: _Asked) -> ParsedAnswer | None:
    """Yes or No from what the text says about the asked finding (see the module
    docstring for the rule)."""
    yes, no = asked.letters
    whole = normalize(text)
    if whole in _WHOLE_YES:
        return ParsedAnswer(yes, None, f"the answer says the finding is {whole} ({yes})")
    if whole in _WHOLE_NO or synonyms().whole_answer.key_of(whole) == "No Finding":
        return ParsedAnswer(no, None, f"the answer says {whole} ({no})")
    children = frozenset().union(*(_CHILDREN.get(label, frozenset()) for label in asked.labels))
    statuses: list[str] = []
    others: set[str] = set()
    normal: list[bool] = []  # one per normal-study statement: does it rule the finding out?
    for mention in _finding_matcher(asked.labels, asked.phrases).mentions(text):
        status = _status(text, mention)
        if mention.key in asked.labels or mention.key == _ASKED:
            statuses.append(status)
        elif mention.key == _ABSENT:
            statuses.append({"yes": "no", "hedge": "hedge"}.get(status, "hypothetical"))
        elif mention.key in children and status in ("yes", "hedge"):
            statuses.append(status)
        elif mention.key == "No Finding" and mention.asserted:
            normal.append(_rules_out(text, mention, asked))
        elif mention.key != "No Finding" and mention.asserted:
            others.add(mention.key)
    definite = set(statuses) & {"yes", "no"}
    if definite == {"yes"}:
        return ParsedAnswer(yes, None, f"the answer states {asked.name} ({yes})")
    if definite == {"no"}:
        return ParsedAnswer(no, None, f"the answer denies {asked.name} ({no})")
    if definite:
        return _fail(f"the answer both states and denies {asked.name}")
    if "hedge" in statuses:
        return _fail(f"the answer only says {asked.name} is possible")
    if _UNDECIDED.search(text):
        return _fail(f"the answer says it cannot tell whether there is {asked.name}")
    if "cause" in statuses:
        return _fail(f"the answer names {asked.name} only as the cause of another finding")
    if any(normal):
        return ParsedAnswer(no, None, f"the answer calls the study normal ({no})")
    if normal:
        return _fail(f"the answer's normal-study statement does not rule out {asked.name}")
    if others:
        return _fail(f"the answer names {', '.join(sorted(others))}, not {asked.name}")
    return None


def _rules_out(text: str, mention: Mention, asked: _Asked) -> bool:
    """Whether a normal-study statement rules out the asked finding: not one limited to
    acute findings (unless the finding is acute) or to one organ, and never devices."""
    if "Support Devices" in asked.labels or _LOCALISED.match(text[mention.end :]):
        return False
    acute = "acute" in text[mention.start : mention.end].lower()
    return not acute or (bool(asked.labels) and asked.labels <= _ACUTE)


def _read_anomaly(text: str, letters: tuple[str, str]) -> ParsedAnswer | None:
    """Abnormal when the text states a finding; a possible finding or "cannot tell" gives
    no answer."""
    statuses: dict[str, set[str]] = {}
    for mention in synonyms().labels.mentions(text):
        if mention.key not in _NOT_ABNORMAL:
            statuses.setdefault(_status(text, mention), set()).add(mention.key)
    stated = statuses.get("yes", set()) | statuses.get("cause", set())
    if stated:
        named = ", ".join(order_labels(stated))
        return ParsedAnswer(letters[1], None, f"the answer states {named} ({letters[1]})")
    if "hedge" in statuses:
        named = ", ".join(order_labels(statuses["hedge"]))
        return _fail(f"the answer only says {named} is possible")
    if _UNDECIDED.search(text):
        return _fail("the answer says it cannot tell")
    return None


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
