"""Validation of mined chains: supported by the report, reaching the answer, not degenerate.

Support uses the offline judge's extraction and matcher: every finding a step asserts must
be consistent with the report's findings (a finding the report does not mention passes only
when called absent). Degenerate chains repeat steps, echo the question or its options, state
nothing (word salad, loops; the judge's noise detector) or assert no finding at all.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cache, lru_cache

from radrbench.data.schema import Sample
from radrbench.metrics.answers import parse_choice, parse_labels
from radrbench.metrics.judges._degenerate import noise
from radrbench.metrics.judges._extract import extract_mentions
from radrbench.metrics.judges._lexicon import Lexicon, load_lexicon
from radrbench.metrics.judges._match import Item, consistent, item_of, items_of_mentions
from radrbench.metrics.judges._text import sentences

REPEAT_SHARE = 0.9
"""Share of words two steps must share to be one step said twice."""
_WORD = re.compile(r"[a-z0-9]+")
_OPTION_LINE = re.compile(r"(?:^|\s)[A-D]\)\s")
_PRIOR = frozenset({"prior", "previous", "earlier"})
_CONCLUSION = re.compile(r"\banswer is\b", re.I)  # "so the answer is B) No" is no noise


@cache
def lexicon() -> Lexicon:
    return load_lexicon()


def _words(text: str) -> frozenset[str]:
    return frozenset(_WORD.findall(text.lower()))


@lru_cache(maxsize=4096)
def _report_items(report: str) -> tuple[Item, ...]:
    """The findings of a report (cached: a study's report serves several questions)."""
    lex = lexicon()
    return tuple(items_of_mentions(extract_mentions(report, lex), lex))


def unsupported(steps: Sequence[str], report: str) -> list[str]:
    """Reasons for the step findings the report does not support (none: all supported)."""
    lex = lexicon()
    report_items = _report_items(report)
    reasons = []
    for number, step in enumerate(steps, 1):
        for mention in extract_mentions(step, lex):
            if mention.status is None:
                continue
            item = item_of(mention.code, mention.status, mention.location, lex, mention.surface)
            if not consistent(item, report_items):
                reasons.append(
                    f"step {number}: {mention.surface!r} ({mention.status}) is not supported "
                    "by the report"
                )
    return reasons


def degenerate(steps: Sequence[str], question: str) -> list[str]:
    """Reasons a chain is degenerate: noise, repeats, echoes, or no finding at all."""
    lex = lexicon()
    stem = _words(question.partition("Options:")[0])
    reasons: list[str] = []
    seen: list[frozenset[str]] = []
    for number, step in enumerate(steps, 1):
        words = _words(step)
        listed = sentences(step)
        stated = [s.text for s in listed if not _CONCLUSION.search(s.text)]
        if stated and all(noise(text, lex) for text in stated):
            reasons.append(f"step {number} states nothing (word salad or a repetition loop)")
        earlier = next(
            (
                i
                for i, w in enumerate(seen, 1)
                if len(words & w) >= REPEAT_SHARE * len(words | w)
                and bool(words & _PRIOR) == bool(w & _PRIOR)  # the prior image, then the current
            ),
            None,
        )
        if earlier is not None:
            reasons.append(f"step {number} repeats step {earlier}")
        if (stem and stem <= words and len(words) <= len(stem) + 3) or len(
            _OPTION_LINE.findall(step)
        ) >= 2:
            reasons.append(f"step {number} echoes the question or its options")
        seen.append(words)
    if not any(m.status is not None for step in steps for m in extract_mentions(step, lex)):
        reasons.append("the chain states no finding (boilerplate)")
    return reasons


def answer_problem(sample: Sample, steps: Sequence[str]) -> str | None:
    """Why the chain's last step does not reach the labelled answer (``None``: it does)."""
    last = steps[-1]
    if sample.options is None:
        parsed = parse_labels(last)
        if parsed.labels is None:
            return "the chain does not reach an answer"
        wanted = {label.lower() for label in sample.answer_labels}
        if {label.lower() for label in parsed.labels} != wanted:
            return f"the chain concludes {', '.join(parsed.labels)}, not {sample.answer}"
        return None
    parsed = parse_choice(last, sample.options, question=sample.question, findings=sample.findings)
    if parsed.letter is None:
        return "the chain does not reach an answer"
    if parsed.letter != sample.answer:
        return f"the chain concludes {parsed.letter}, the labelled answer is {sample.answer}"
    return None


REASON_KINDS = {
    "is empty": "empty chain",
    "states nothing": "noise",
    "repeats step": "repeated step",
    "echoes the question": "question echoed",
    "states no finding": "no finding stated",
    "not supported by the report": "finding not in the report",
    "does not reach an answer": "no answer",
    "labelled answer is": "wrong answer",
}


def reason_kind(reason: str) -> str:
    """The kind of a rejection reason (for counts), e.g. ``finding not in the report``."""
    return next((kind for phrase, kind in REASON_KINDS.items() if phrase in reason), reason)


def reference_text(sample: Sample) -> str:
    """What a chain may state: the report, and for temporal questions the prior report."""
    return "\n".join(filter(None, [sample.report, sample.prior_report]))


def check_chain(sample: Sample, steps: Sequence[str]) -> list[str]:
    """Every reason to reject ``steps`` as the chain of ``sample`` (empty: accepted)."""
    if not steps or not any(step.strip() for step in steps):
        return ["the chain is empty"]
    reasons = degenerate(steps, sample.question)
    reasons += unsupported(steps, reference_text(sample))
    if (problem := answer_problem(sample, steps)) is not None:
        reasons.append(problem)
    return reasons
