"""Can degenerate reasoning earn the process reward? The reward's adversarial suite.

On phantom samples of both report styles (``radrbench.data.phantom.cases``), every
degenerate variant of :mod:`radrbench.metrics.adversarial` is built from the sample's true
chain, plus **reasoning toward the other answer** (the chain of another study asked the same
question, whose answer differs) and **wrong reasoning, right answer** (the chain of another
study with the same answer). Every completion carries the *correct* answer, so the outcome
reward cannot tell them apart: only the process reward can.

Required (issue 12, checked by :attr:`RewardSuiteReport.met` and the tests): each variant in
:data:`REQUIRED` scores at least :data:`MIN_GAP` below the true chain **on the same sample**,
and the true chain ranks above wrong reasoning on every sample.
"""

from __future__ import annotations

import asyncio
import random
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict

from radrbench.data.phantom.cases import PhantomCase, phantom_cases
from radrbench.data.schema import Sample
from radrbench.metrics import adversarial
from radrbench.training.rewards import GUARDS, ProcessResult, ProcessReward

MIN_GAP = 0.5
TRUE_CHAIN = "true chain"
OTHER_ANSWER = "reasoning toward the other answer"
WRONG_REASONING = "wrong reasoning, right answer"
REQUIRED = (
    "word salad",
    "word salad (raw tokens)",
    "question echoed",
    "boilerplate",
    f"sentence x{adversarial.REPEATS}",
    f"sentence + paraphrase x{adversarial.REPEATS // 2}",
    "every finding absent",
    "every finding present",
    "every finding hedged",
    OTHER_ANSWER,
)
"""Variants that must score at least ``MIN_GAP`` below the true chain on the same sample."""
STYLES = ("openi", "archive")


@dataclass(frozen=True)
class RewardCase:
    """One sample and the reasoning texts to score for it, by variant name."""

    style: str
    sample: Sample
    texts: dict[str, str]


def reward_cases(style: str, n: int, seed: int = 0) -> list[RewardCase]:
    """``n`` phantom choice samples of ``style`` with every variant's reasoning.

    Donor chains (other answer, wrong reasoning) come from a pool of studies four times as
    large; a variant without a donor is left out for that sample.
    """
    pool = [c for c in phantom_cases(style, n=4 * n, seed=seed) if c.chain]  # type: ignore[arg-type]
    by_question: dict[tuple[str, tuple[tuple[str, str], ...]], list[PhantomCase]] = defaultdict(
        list
    )
    for case in pool:
        by_question[_key(case.sample)].append(case)
    out: list[RewardCase] = []
    for case in pool:
        sample = case.sample
        if not sample.options or len(out) >= n:
            continue
        reference = adversarial.Reference(
            style, sample.id, case.chain, case.report, sample.question, dict(sample.options)
        )
        rng = random.Random(f"{seed}/{sample.id}")
        sentence = _finding_sentence(case.chain_claims, case.chain)
        texts = {
            variant.name: variant.build(reference, rng, sentence)
            for variant in adversarial.VARIANTS
        }
        peers = [c for c in by_question[_key(sample)] if c.id != case.id]
        other = [c for c in peers if c.answer != case.answer]
        # Same answer, another study's findings: the reasoning is about another image.
        alike = [
            c for c in peers if c.answer == case.answer and c.study.labels != case.study.labels
        ]
        if other:
            texts[OTHER_ANSWER] = "\n".join(other[0].chain)
        if alike:
            texts[WRONG_REASONING] = "\n".join(alike[0].chain)
        out.append(RewardCase(style, sample, texts))
    return out


def _key(sample: Sample) -> tuple[str, tuple[tuple[str, str], ...]]:
    return sample.question, tuple((sample.options or {}).items())


def _finding_sentence(claims: Sequence[Sequence[object]], chain: Sequence[str]) -> str:
    """The chain's first step that states a finding (by the generator's own truth)."""
    for step, stated in zip(chain, claims, strict=True):
        if stated:
            return step
    return chain[0]


def completion(text: str, answer: str) -> str:
    """A rollout with ``text`` as reasoning and the given answer."""
    return f"<think>{text}</think><answer>{answer}</answer>"


class VariantSummary(BaseModel):
    """One variant's process reward over a style's samples, next to the true chain's."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    variant: str
    n: int
    failed: int
    mean_reward: float | None
    mean_base: float | None
    """The weighted sub-scores before the guards."""
    mean_radrscore: float | None
    """Plain RadRScore (mean of the three sub-scores), for comparison."""
    mean_gap: float | None
    """Mean of (true chain - variant) over samples, on the guarded reward."""
    min_gap: float | None
    tripped: float
    """Share of rollouts that trip any guard."""
    guards: dict[str, float]
    """Share of rollouts tripping each guard."""
    required: bool


class RewardSuiteReport(BaseModel):
    """Per style, per variant: rewards, gaps to the true chain and guard shares."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    judge: str
    seed: int
    cases: dict[str, int]
    variants: dict[str, list[VariantSummary]]
    wrong_below_true: dict[str, tuple[int, int]]
    """Samples where wrong reasoning (right answer) scores below the true chain / samples."""

    @property
    def failures(self) -> list[str]:
        """Each requirement missed, in words (empty when the reward meets them all)."""
        missed: list[str] = []
        for style, rows in self.variants.items():
            for row in rows:
                if row.required and (row.min_gap is None or row.min_gap < MIN_GAP):
                    missed.append(f"{style}: {row.variant} min gap {row.min_gap} < {MIN_GAP}")
            below, total = self.wrong_below_true.get(style, (0, 0))
            if below < total:
                missed.append(f"{style}: wrong reasoning not below the true chain {total - below}x")
        return missed

    @property
    def met(self) -> bool:
        return not self.failures


async def run_reward_suite(
    reward: ProcessReward, n: int = 40, seed: int = 0, styles: Sequence[str] = STYLES
) -> RewardSuiteReport:
    """Score every variant of ``n`` samples per style with ``reward``."""
    variants: dict[str, list[VariantSummary]] = {}
    cases: dict[str, int] = {}
    wrong: dict[str, tuple[int, int]] = {}
    for style in styles:
        built = reward_cases(style, n, seed)
        cases[style] = len(built)
        pairs = [
            (case.sample, completion(text, case.sample.answer))
            for case in built
            for text in case.texts.values()
        ]
        results = iter(await reward.score_many(pairs))
        table = [{name: next(results) for name in case.texts} for case in built]
        variants[style] = _summaries(table)
        both = [row for row in table if WRONG_REASONING in row]
        below = sum(_below(row[WRONG_REASONING], row[TRUE_CHAIN]) for row in both)
        wrong[style] = (below, len(both))
    return RewardSuiteReport(
        judge=reward.judge.spec,
        seed=seed,
        cases=cases,
        variants=variants,
        wrong_below_true=wrong,
    )


def _below(result: ProcessResult, true: ProcessResult) -> bool:
    return result.reward is not None and true.reward is not None and result.reward < true.reward


def _summaries(table: Sequence[dict[str, ProcessResult]]) -> list[VariantSummary]:
    names = list(dict.fromkeys(name for row in table for name in row))
    out = []
    for name in names:
        rows = [row for row in table if name in row]
        results = [row[name] for row in rows]
        valid = [r for r in results if r.reward is not None]
        gaps = [
            (row[TRUE_CHAIN].reward or 0.0) - (row[name].reward or 0.0)
            for row in rows
            if row[name].reward is not None and row[TRUE_CHAIN].reward is not None
        ]
        sub = [
            (r.factuality or 0.0) + (r.completeness or 0.0) + (r.effectiveness or 0.0)
            for r in valid
        ]
        out.append(
            VariantSummary(
                variant=name,
                n=len(results),
                failed=len(results) - len(valid),
                mean_reward=_mean([r.reward or 0.0 for r in valid]),
                mean_base=_mean([r.base or 0.0 for r in valid]),
                mean_radrscore=_mean([s / 3 for s in sub]),
                mean_gap=None if name == TRUE_CHAIN else _mean(gaps),
                min_gap=None if name == TRUE_CHAIN or not gaps else min(gaps),
                tripped=_mean([float(r.guard_tripped) for r in valid]) or 0.0,
                guards={
                    guard: share
                    for guard in GUARDS
                    if (share := _mean([float(guard in r.factors) for r in valid]) or 0.0)
                },
                required=name in REQUIRED,
            )
        )
    return out


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def run_reward_suite_sync(
    reward: ProcessReward | None = None, n: int = 40, seed: int = 0
) -> RewardSuiteReport:
    return asyncio.run(run_reward_suite(reward or ProcessReward(), n, seed))
