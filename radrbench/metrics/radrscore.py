"""RadRScore: factuality, completeness and effectiveness of a model's reasoning (DESIGN §5).

Per sample, on the ``<think>`` part of the output (without one: the output minus its
``<answer>`` block) against the ground-truth chain and report:

- completeness = chain findings recalled by the model's findings / chain findings;
- factuality = model findings consistent with the report / model findings;
- effectiveness = model steps supported by the chain / model steps.

Text the model echoed from its prompt (the question, the option list, the reasoning-format
instruction) is not reasoning and is dropped first. A step that repeats an earlier step of
the same output counts once: judges label each point once, and steps with the same words
are kept once whatever the judge returns.

An empty list scores 0 and still counts (as the released evaluation does); a judge failure
gives ``None``, is excluded from the averages and counted. Averages are macro (over
samples). RadRScore is the mean of the three (our convention: the paper's rule is not
public), per sample and for a summary the mean of the three averages.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, computed_field, model_validator

from radrbench.data.schema import Sample
from radrbench.metrics.judges.base import (
    Finding,
    FindingComparison,
    Judge,
    JudgeInfo,
    ReferenceFindings,
    StepJudgment,
    StepLabel,
    check_comparison,
)

SUB_SCORES = ("factuality", "completeness", "effectiveness")

_THINK = re.compile(r"<think>(.*?)(?:</think>|$)", re.DOTALL | re.IGNORECASE)
_ANSWER = re.compile(r"<answer>.*?(?:</answer>|$)", re.DOTALL | re.IGNORECASE)
_TAGS = re.compile(r"</?(?:think|answer)>", re.IGNORECASE)
_TRANSCRIPT = re.compile(r"(?:^|\n)assistant\s*\n", re.IGNORECASE)
_PIECE = re.compile(r"[^.!?\n]+[.!?]*")
_OPTION_LINE = re.compile(r"^\s*\(?([A-Fa-f])\s*[).:]\s*(\S.{0,80})$")
_INSTRUCTIONS = (
    "Let's think step by step.",
    "Enclose the reasoning within <think></think> and the answer within <answer></answer>.",
    "Answer with the option's letter (or the list of findings) only.",
    "Options:",
)


def reasoning_text(output: str | Sequence[str], prompt: str | None = None) -> str:
    """The reasoning part of a model output.

    The last ``<think>`` block; without one, the output minus its ``<answer>`` block. A chat
    transcript echoed before the reply (``…assistant\\n``) is dropped first; a list of
    strings (some servers return one per choice) is joined. Then what the model echoed from
    its prompt goes (:func:`strip_echo`).
    """
    text = output if isinstance(output, str) else "\n".join(str(part) for part in output)
    turns = _TRANSCRIPT.split(text)
    text = turns[-1]
    blocks = [str(block) for block in _THINK.findall(text) if block.strip()]
    if blocks:
        return strip_echo(blocks[-1], prompt)
    return strip_echo(_TAGS.sub("", _ANSWER.sub("", text)), prompt)


def _words(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9]+", text.lower()))


def strip_echo(text: str, prompt: str | None = None) -> str:
    """``text`` without what it copies from the prompt.

    Dropped: sentences that repeat a sentence of ``prompt`` (the question with its options)
    or of the reasoning-format instructions word for word, option lines ("B) No") naming one
    of the prompt's options, and runs of three or more option lines in letter order
    ("A) ... B) ... C) ...") even without the prompt. An option's text alone ("pleural
    effusion.") is kept: it may be the model's own conclusion.
    """
    echoes = {
        _words(piece)
        for source in [prompt or "", *_INSTRUCTIONS]
        for line in source.splitlines()
        if not _OPTION_LINE.match(line)
        for piece in _PIECE.findall(line)
    } - {""}
    options = {
        (match[1].upper(), _words(match[2]))
        for line in (prompt or "").splitlines()
        if (match := _OPTION_LINE.match(line))
    }
    lines = text.splitlines()
    echoed = _option_runs(lines)
    kept: list[str] = []
    for number, line in enumerate(lines):
        option = _OPTION_LINE.match(line)
        if number in echoed or (option and (option[1].upper(), _words(option[2])) in options):
            continue
        pieces = _PIECE.findall(line)
        own = [piece for piece in pieces if _words(piece) not in echoes]
        kept.append(line if len(own) == len(pieces) else "".join(own).strip())
    return "\n".join(kept).strip()


def _option_runs(lines: Sequence[str]) -> set[int]:
    """Indices of lines in runs of three or more option lines lettered A, B, C, ..."""
    letters = [match[1].upper() if (match := _OPTION_LINE.match(line)) else "" for line in lines]
    found: set[int] = set()
    start = 0
    while start < len(lines):
        end = start
        while end < len(lines) and letters[end] == "ABCDEF"[end - start : end - start + 1]:
            end += 1
        if end - start >= 3:
            found.update(range(start, end))
        start = max(end, start + 1)
    return found


def distinct_steps(steps: Sequence[StepJudgment]) -> list[StepJudgment]:
    """Steps without those that repeat an earlier step word for word (a point counts once)."""
    seen: set[str] = set()
    kept: list[StepJudgment] = []
    for step in steps:
        key = _words(step.text)
        if key and key in seen:
            continue
        seen.add(key)
        kept.append(step)
    return kept


def ratio(flags: Sequence[bool]) -> float:
    """Share of true flags; an empty list scores 0 (it still counts)."""
    return sum(flags) / len(flags) if flags else 0.0


def completeness(comparison: FindingComparison) -> float:
    return ratio(comparison.recalled)


def factuality(comparison: FindingComparison) -> float:
    return ratio(comparison.consistent)


def effectiveness(labels: Sequence[StepLabel]) -> float:
    return ratio([label == "supported" for label in labels])


class SampleScore(BaseModel):
    """RadRScore of one sample, with what a person needs to audit it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    sample_id: str
    judge: JudgeInfo
    factuality: float | None
    completeness: float | None
    effectiveness: float | None
    reasoning: str
    model_findings: tuple[Finding, ...] | None = None
    chain_findings: tuple[Finding, ...] | None = None
    report_findings: tuple[Finding, ...] | None = None
    recalled: tuple[bool, ...] | None = None
    """Per chain finding: recalled by the model's findings."""
    consistent: tuple[bool, ...] | None = None
    """Per model finding: consistent with the report."""
    steps: tuple[StepJudgment, ...] | None = None
    failures: tuple[str, ...] = ()
    """Judge stages that failed: reference, extract, compare, steps."""

    @model_validator(mode="before")
    @classmethod
    def _drop_computed(cls, data: Any) -> Any:
        """Accept written records back: ``radrscore`` is recomputed, not read."""
        if isinstance(data, dict):
            return {key: value for key, value in data.items() if key != "radrscore"}
        return data

    @computed_field  # type: ignore[prop-decorator]
    @property
    def radrscore(self) -> float | None:
        """Mean of the three sub-scores (``None`` if one failed)."""
        parts = (self.factuality, self.completeness, self.effectiveness)
        if any(part is None for part in parts):
            return None
        return sum(part for part in parts if part is not None) / 3


class ReferenceCache:
    """Reference-side extractions, computed once per (judge, chain, report) and shared.

    Concurrent requests for one sample wait for a single extraction; a failure (``None``)
    is not kept, so a later request tries again.
    """

    def __init__(self) -> None:
        self._done: dict[str, ReferenceFindings] = {}
        self._pending: dict[str, asyncio.Future[ReferenceFindings | None]] = {}

    async def get(
        self, judge: Judge, chain: Sequence[str], report: str
    ) -> ReferenceFindings | None:
        key = _reference_key(judge, chain, report)
        if key in self._done:
            return self._done[key]
        pending = self._pending.get(key)
        if pending is None:
            pending = asyncio.ensure_future(judge.extract_reference(list(chain), report))
            self._pending[key] = pending
        try:
            result = await pending
        finally:
            self._pending.pop(key, None)
        if result is not None:
            self._done[key] = result
        return result

    def __len__(self) -> int:
        return len(self._done)


def _reference_key(judge: Judge, chain: Sequence[str], report: str) -> str:
    payload = json.dumps([judge.spec, judge.version, list(chain), report])
    return hashlib.sha256(payload.encode()).hexdigest()


async def score_reasoning(
    judge: Judge,
    *,
    sample_id: str,
    output: str | Sequence[str],
    chain: Sequence[str],
    report: str,
    references: ReferenceCache | None = None,
    prompt: str | None = None,
) -> SampleScore:
    """Score one model output against a ground-truth chain and report.

    ``prompt`` (the question with its options) lets the echoed question be recognised.
    """
    reasoning = reasoning_text(output, prompt)
    cache = references if references is not None else ReferenceCache()
    reference = await cache.get(judge, chain, report)
    if reference is None:
        return SampleScore(
            sample_id=sample_id,
            judge=judge.info,
            factuality=None,
            completeness=None,
            effectiveness=None,
            reasoning=reasoning,
            failures=("reference",),
        )
    if not reasoning:
        empty = FindingComparison(recalled=(False,) * len(reference.chain_findings), consistent=())
        return _score(sample_id, judge, reasoning, reference, [], empty, [], ())
    findings, steps = await asyncio.gather(
        judge.extract_findings(reasoning), judge.label_steps(reasoning, reference)
    )
    failures: list[str] = []
    comparison: FindingComparison | None = None
    if findings is None:
        failures.append("extract")
    else:
        raw = await judge.compare_findings(findings, reference)
        comparison = None if raw is None else check_comparison(raw, findings, reference)
        if comparison is None:
            failures.append("compare")
    if steps is None:
        failures.append("steps")
    else:
        steps = distinct_steps(steps)
    return _score(sample_id, judge, reasoning, reference, findings, comparison, steps, failures)


def _score(
    sample_id: str,
    judge: Judge,
    reasoning: str,
    reference: ReferenceFindings,
    findings: Sequence[Finding] | None,
    comparison: FindingComparison | None,
    steps: Sequence[StepJudgment] | None,
    failures: Sequence[str],
) -> SampleScore:
    return SampleScore(
        sample_id=sample_id,
        judge=judge.info,
        factuality=None if comparison is None else factuality(comparison),
        completeness=None if comparison is None else completeness(comparison),
        effectiveness=None if steps is None else effectiveness([s.label for s in steps]),
        reasoning=reasoning,
        model_findings=None if findings is None else tuple(findings),
        chain_findings=reference.chain_findings,
        report_findings=reference.report_findings,
        recalled=None if comparison is None else comparison.recalled,
        consistent=None if comparison is None else comparison.consistent,
        steps=None if steps is None else tuple(steps),
        failures=tuple(failures),
    )


async def score_sample(
    judge: Judge, sample: Sample, output: str | Sequence[str], references: ReferenceCache
) -> SampleScore | None:
    """RadRScore of a sample's output; ``None`` for samples without chain or report."""
    if not sample.has_reasoning_reference or sample.reasoning is None or sample.report is None:
        return None
    return await score_reasoning(
        judge,
        sample_id=sample.id,
        output=output,
        chain=sample.reasoning,
        report=sample.report,
        references=references,
        prompt=sample.question,
    )


@dataclass(frozen=True)
class ScoringItem:
    """One output to score: sample id, output, chain, report and (optional) prompt."""

    sample_id: str
    output: str | Sequence[str]
    chain: Sequence[str]
    report: str
    prompt: str | None = None


async def score_many(
    judge: Judge,
    items: Iterable[ScoringItem],
    *,
    references: ReferenceCache | None = None,
    concurrency: int = 16,
) -> list[SampleScore]:
    """Score many outputs concurrently (at most ``concurrency`` at a time), in input order."""
    cache = references if references is not None else ReferenceCache()
    limit = asyncio.Semaphore(concurrency)

    async def one(item: ScoringItem) -> SampleScore:
        async with limit:
            return await score_reasoning(
                judge,
                sample_id=item.sample_id,
                output=item.output,
                chain=item.chain,
                report=item.report,
                references=cache,
                prompt=item.prompt,
            )

    return list(await asyncio.gather(*(one(item) for item in items)))


class SubScore(BaseModel):
    """A macro average with its sample count and judge failures."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    mean: float | None
    n: int
    failed: int


class RadRScoreSummary(BaseModel):
    """Macro averages over samples; RadRScore is the mean of the three averages."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    judge: JudgeInfo | None
    n: int
    factuality: SubScore
    completeness: SubScore
    effectiveness: SubScore
    radrscore: float | None


def summarize(scores: Sequence[SampleScore]) -> RadRScoreSummary:
    """Aggregate per-sample scores (failures excluded from the means, counted)."""
    parts: dict[str, SubScore] = {}
    for name in SUB_SCORES:
        values = [getattr(score, name) for score in scores]
        valid = [float(v) for v in values if v is not None]
        parts[name] = SubScore(
            mean=sum(valid) / len(valid) if valid else None,
            n=len(valid),
            failed=len(values) - len(valid),
        )
    means = [parts[name].mean for name in SUB_SCORES]
    overall = None if any(m is None for m in means) else sum(m or 0.0 for m in means) / 3
    return RadRScoreSummary(
        judge=scores[0].judge if scores else None,
        n=len(scores),
        factuality=parts["factuality"],
        completeness=parts["completeness"],
        effectiveness=parts["effectiveness"],
        radrscore=overall,
    )
