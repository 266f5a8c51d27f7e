"""Reward functions for GRPO: format, outcome and the hardened process reward.

Each reward is a plain function of one completion (and its sample), tested on its own;
:func:`trl_reward_functions` wraps them as TRL reward callables (a batch in, one float per
completion out, ``None`` where a reward cannot be computed, which TRL leaves out).

- :func:`format_reward`: 1.0 when the completion is one non-empty ``<think>`` block followed
  by one non-empty ``<answer>`` block (whitespace around them allowed), else 0.0.
- :func:`outcome_reward`: the benchmark's own answer scoring (``score_outcome``, hence
  ``parse_choice``/``parse_labels``): 1.0 for a correct choice, label-set F1 for
  ``multi_open``. There is one definition of a correct answer.
- :func:`process_score` / :class:`ProcessReward`: the rollout's reasoning against the
  ground-truth chain and report with the RadRScore judge code (``score_reasoning``), then
  guards against reasoning RadRScore itself rewards::

      base   = (0.2 * factuality + 0.4 * completeness + 0.4 * effectiveness) / 1.0
      reward = base * (product of the factors of the guards that trip)

  Every factor is in [0, 1]; which guards tripped is kept with the result so GRPO can log
  their share. A judge failure gives ``None``; so do samples without a chain or report
  (RSNA/SIIM), which have nothing to check the reasoning against. Formula, weights and why
  each guard exists: ``docs/process_reward.md``.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import threading
import time
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

from radrbench.data.schema import Sample
from radrbench.metrics.answers import parse_choice, parse_labels
from radrbench.metrics.judges import get_judge
from radrbench.metrics.judges.base import Finding, Judge
from radrbench.metrics.label_synonyms import canonical_label
from radrbench.metrics.outcome import gold_labels, score_outcome
from radrbench.metrics.radrscore import ReferenceCache, SampleScore, score_reasoning

T = TypeVar("T")

GUARDS = (
    "no_finding",
    "unsupported",
    "repetition",
    "focus",
    "off_reference",
    "hedging",
    "no_conclusion",
    "wrong_conclusion",
    "inconsistent",
)
"""The process reward's guards (``docs/process_reward.md`` says why each exists)."""

# --- format ---------------------------------------------------------------------------

_WELL_FORMED = re.compile(
    r"\s*<think>(?P<think>.*?)</think>\s*<answer>(?P<answer>.*?)</answer>\s*", re.DOTALL
)
_ANY_TAG = re.compile(r"</?(?:think|answer)>", re.IGNORECASE)


def format_reward(completion: str) -> float:
    """1.0 for ``<think>…</think><answer>…</answer>`` and nothing else, else 0.0.

    Both blocks must hold text and no further ``think``/``answer`` tags; only whitespace may
    surround them. Tags are case-sensitive, as the prompt writes them.
    """
    match = _WELL_FORMED.fullmatch(completion)
    if match is None:
        return 0.0
    think, answer = match["think"], match["answer"]
    if not think.strip() or not answer.strip():
        return 0.0
    if _ANY_TAG.search(think) or _ANY_TAG.search(answer):
        return 0.0
    return 1.0


# --- outcome --------------------------------------------------------------------------


def outcome_reward(completion: str, sample: Sample) -> float:
    """1.0 when the benchmark scores the answer correct (``multi_open``: label-set F1)."""
    score = score_outcome(sample, completion)
    if score.f1 is not None:
        return score.f1
    return 1.0 if score.correct else 0.0


# --- process --------------------------------------------------------------------------


class ProcessWeights(BaseModel):
    """Weights of the three RadRScore sub-scores in the base of the process reward."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    factuality: float = Field(0.2, ge=0)
    completeness: float = Field(0.4, ge=0)
    effectiveness: float = Field(0.4, ge=0)

    @model_validator(mode="after")
    def _positive(self) -> ProcessWeights:
        if self.factuality + self.completeness + self.effectiveness <= 0:
            raise ValueError("at least one weight must be positive")
        return self


class ProcessRewardConfig(BaseModel):
    """How the process reward is computed (``docs/process_reward.md`` explains each knob)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    judge: str = "offline"
    """RadRScore judge spec: ``offline`` or ``openai:<model>[@<base_url>]``."""
    weights: ProcessWeights = ProcessWeights()
    guards: bool = True
    """False: the weighted sub-scores alone (for ablations; gameable)."""
    support_floor: float = Field(0.5, ge=0, le=1)
    """Below this share of supported steps the reward shrinks in proportion."""
    repeat_overlap: float = Field(0.8, gt=0, le=1)
    """Content-word overlap (Jaccard) at which a sentence repeats an earlier one."""
    focus_tolerance: int = Field(1, ge=0)
    """Claims about findings the chain does not discuss, allowed for free."""
    off_reference_tolerance: int = Field(1, ge=0)
    """Claims about findings neither the chain nor the report mention, allowed for free."""
    hedge_tolerance: float = Field(0.0, ge=0, le=1)
    """Hedged share of the findings allowed above the chain's own hedged share."""
    no_conclusion_factor: float = Field(0.5, ge=0, le=1)
    """Multiplier when the reasoning argues for no answer at all."""
    wrong_conclusion_factor: float = Field(0.25, ge=0, le=1)
    """Multiplier when the reasoning argues for another answer than the ground truth."""
    inconsistent_answer_factor: float = Field(0.5, ge=0, le=1)
    """Multiplier when the reasoning argues for another answer than the rollout gives."""
    multi_open_conclusion_f1: float = Field(0.5, ge=0, le=1)
    """``multi_open``: label-set F1 the reasoning's labels need to count as the right
    conclusion."""


class ProcessResult(BaseModel):
    """The process reward of one rollout, with its parts (for logging and auditing)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    reward: float | None
    base: float | None
    factuality: float | None = None
    completeness: float | None = None
    effectiveness: float | None = None
    factors: dict[str, float] = Field(default_factory=dict)
    """The multiplier of each guard that tripped (guards that did not trip are left out)."""
    conclusion: str | None = None
    """The answer the reasoning argues for (a letter, or labels joined by ', ')."""
    answer: str | None = None
    """The answer the rollout gives."""
    failures: tuple[str, ...] = ()
    """Why no reward was computed: judge stages that failed, or ``no_reference``."""

    @property
    def tripped(self) -> tuple[str, ...]:
        return tuple(name for name in GUARDS if name in self.factors)

    @property
    def guard_tripped(self) -> bool:
        return bool(self.factors)


async def process_score(
    judge: Judge,
    sample: Sample,
    completion: str,
    config: ProcessRewardConfig | None = None,
    *,
    references: ReferenceCache | None = None,
    report_findings: dict[str, list[Finding]] | None = None,
) -> ProcessResult:
    """The process reward of ``completion`` for ``sample`` (see the module docstring).

    ``references`` shares reference-side extractions across rollouts of a sample;
    ``report_findings`` caches report extractions for judges that do not return them.
    """
    config = config or ProcessRewardConfig()
    if not sample.has_reasoning_reference or sample.reasoning is None or sample.report is None:
        return ProcessResult(reward=None, base=None, failures=("no_reference",))
    score = await score_reasoning(
        judge,
        sample_id=sample.id,
        output=completion,
        chain=sample.reasoning,
        report=sample.report,
        references=references,
        prompt=sample.question,
    )
    if score.failures or score.radrscore is None:
        return _unscored(score, score.failures or ("judge",))
    weights = config.weights
    base = (
        weights.factuality * (score.factuality or 0.0)
        + weights.completeness * (score.completeness or 0.0)
        + weights.effectiveness * (score.effectiveness or 0.0)
    ) / (weights.factuality + weights.completeness + weights.effectiveness)
    conclusion = _conclusion(score.reasoning, sample, config)
    answer = _answer(completion, sample)
    factors: dict[str, float] = {}
    if config.guards:
        reported: Sequence[Finding] | None = score.report_findings
        if reported is None:
            reported = await _report_findings(judge, sample.report, report_findings)
            if reported is None:
                return _unscored(score, ("report",))
        evidence = _Evidence(score, sample.reasoning, tuple(reported), conclusion, answer)
        factors = _guards(evidence, _family_of(judge), config)
    return ProcessResult(
        reward=base * math.prod(factors.values()),
        base=base,
        factuality=score.factuality,
        completeness=score.completeness,
        effectiveness=score.effectiveness,
        factors=factors,
        conclusion=conclusion[0] if conclusion else None,
        answer=answer,
    )


def _unscored(score: SampleScore, failures: Sequence[str]) -> ProcessResult:
    return ProcessResult(
        reward=None,
        base=None,
        factuality=score.factuality,
        completeness=score.completeness,
        effectiveness=score.effectiveness,
        failures=tuple(failures),
    )


async def _report_findings(
    judge: Judge, report: str, cache: dict[str, list[Finding]] | None
) -> list[Finding] | None:
    if cache is not None and report in cache:
        return cache[report]
    found = await judge.extract_findings(report)
    if cache is not None and found is not None:
        cache[report] = found
    return found


@dataclass(frozen=True)
class _Evidence:
    """What the guards look at for one rollout."""

    score: SampleScore
    chain: Sequence[str]
    report_findings: tuple[Finding, ...]
    conclusion: tuple[str, bool] | None
    """The answer the reasoning argues for, and whether it is the ground truth."""
    answer: str | None


def _guards(
    evidence: _Evidence, family: Callable[[str], str | None], config: ProcessRewardConfig
) -> dict[str, float]:
    """The multiplier of each guard that trips, in :data:`GUARDS` order."""
    score = evidence.score
    findings = score.model_findings or ()
    if not findings:
        # States no finding (word salad, echoes, boilerplate, empty): nothing to credit,
        # even if a judge lets a generic step through as supported.
        return {"no_finding": 0.0}
    factors: dict[str, float] = {}
    effectiveness = score.effectiveness or 0.0
    if effectiveness < config.support_floor:
        factors["unsupported"] = effectiveness / config.support_floor
    # Relative to the chain's own repeats (a temporal chain may restate a finding).
    distinct = distinct_share(score.reasoning, config.repeat_overlap)
    chain_distinct = distinct_share("\n".join(evidence.chain), config.repeat_overlap)
    if distinct < chain_distinct:
        factors["repetition"] = distinct / chain_distinct
    chain_findings = score.chain_findings or ()
    chain = {key for f in chain_findings for key in concepts(f, family)}
    report = {key for f in evidence.report_findings for key in concepts(f, family)}
    keys = [concepts(f, family) for f in findings]
    on_chain = sum(1 for k in keys if k & chain)
    if on_chain + config.focus_tolerance < len(findings):
        factors["focus"] = (on_chain + config.focus_tolerance) / len(findings)
    unmentioned = sum(1 for k in keys if not k & (chain | report))
    excess = unmentioned - config.off_reference_tolerance
    if excess > 0:
        factors["off_reference"] = max(0.0, 1.0 - excess / len(findings))
    extra_hedging = _hedged(findings) - _hedged(chain_findings) - config.hedge_tolerance
    if extra_hedging > 1e-9:
        factors["hedging"] = max(0.0, 1.0 - extra_hedging)
    conclusion, answer = evidence.conclusion, evidence.answer
    if conclusion is None:
        factors["no_conclusion"] = config.no_conclusion_factor
    elif not conclusion[1]:
        factors["wrong_conclusion"] = config.wrong_conclusion_factor
    if conclusion is not None and answer is not None and conclusion[0] != answer:
        factors["inconsistent"] = config.inconsistent_answer_factor
    return factors


def _hedged(findings: Sequence[Finding]) -> float:
    """Share of findings stated as uncertain."""
    return sum(f.status == "uncertain" for f in findings) / len(findings) if findings else 0.0


class _Families(Protocol):
    def family(self, finding: str) -> str: ...


def _family_of(judge: Judge) -> Callable[[str], str | None]:
    """The judge's concept families (the offline judge's lexicon), when it has them."""
    lexicon: _Families | None = getattr(judge, "lexicon", None)

    def family(code: str) -> str | None:
        if lexicon is None:
            return None
        try:
            return lexicon.family(code)
        except KeyError:
            return None

    return family


def concepts(finding: Finding, family: Callable[[str], str | None]) -> frozenset[str]:
    """Keys under which a finding counts as mentioned: the judge's concept and its family,
    the CheXpert label its name maps to, and the name itself."""
    keys = {"name:" + " ".join(re.findall(r"[a-z0-9]+", finding.observation.lower()))}
    if finding.code:
        keys.add("code:" + finding.code)
        group = family(finding.code)
        if group:
            keys.add("family:" + group)
    label = canonical_label(finding.observation)
    if label:
        keys.add("label:" + label)
    return frozenset(keys)


_SENTENCE = re.compile(r"[^.!?\n]+")
_FUNCTION_WORDS = frozenset(
    {"a", "an", "the", "of", "in", "on", "at", "to", "with", "and", "or", "but", "is", "are"}
    | {"was", "were", "be", "been", "there", "this", "that", "these", "it", "as", "by", "for"}
    | {"from", "which", "no", "not", "any", "seen"}
)


def distinct_share(text: str, overlap: float = 0.8) -> float:
    """Share of a text's sentences that do not repeat an earlier one.

    A repeat has the same content words (function words and negation left out, so
    "There is no effusion." and "There is no edema." differ), or shares at least
    ``overlap`` of them (Jaccard) with an earlier sentence: a light paraphrase. Texts with
    one sentence or none give 1.
    """
    sentences = [
        words
        for piece in _SENTENCE.findall(text)
        if (words := frozenset(re.findall(r"[a-z0-9]+", piece.lower())) - _FUNCTION_WORDS)
    ]
    if len(sentences) < 2:
        return 1.0
    kept: list[frozenset[str]] = []
    for words in sentences:
        if any(len(words & seen) / len(words | seen) >= overlap for seen in kept):
            continue
        kept.append(words)
    return len(kept) / len(sentences)


def _conclusion(
    reasoning: str, sample: Sample, config: ProcessRewardConfig
) -> tuple[str, bool] | None:
    """The answer the reasoning argues for and whether it is the ground truth.

    Read with the benchmark's own parsers from the reasoning alone; ``None`` when the
    reasoning states no answer.
    """
    if sample.task == "multi_open":
        parsed = parse_labels(reasoning)
        if parsed.labels is None:
            return None
        gold = set(gold_labels(sample))
        found = set(parsed.labels)
        f1 = 2 * len(found & gold) / (len(found) + len(gold))
        return ", ".join(parsed.labels), f1 >= config.multi_open_conclusion_f1
    letter = parse_choice(
        reasoning,
        sample.options or {},
        question=sample.question,
        findings=sample.findings if sample.task == "binary" else None,
    ).letter
    return None if letter is None else (letter, letter == sample.answer)


def _answer(completion: str, sample: Sample) -> str | None:
    """The rollout's own answer, as the benchmark reads it."""
    score = score_outcome(sample, completion)
    if score.labels is not None:
        return ", ".join(score.labels)
    return score.letter


class ProcessReward:
    """A judge, its reference cache and a config: scores rollouts of many samples.

    The reference side of each sample (chain and report findings) is extracted once and
    reused for every rollout.
    """

    def __init__(self, config: ProcessRewardConfig | None = None, judge: Judge | None = None):
        self.config = config or ProcessRewardConfig()
        self.judge = judge if judge is not None else get_judge(self.config.judge)
        self.references = ReferenceCache()
        self._reports: dict[str, list[Finding]] = {}

    async def score(self, sample: Sample, completion: str) -> ProcessResult:
        return await process_score(
            self.judge,
            sample,
            completion,
            self.config,
            references=self.references,
            report_findings=self._reports,
        )

    async def score_many(
        self, pairs: Sequence[tuple[Sample, str]], concurrency: int = 16
    ) -> list[ProcessResult]:
        """Score (sample, completion) pairs, at most ``concurrency`` at a time, in order."""
        limit = asyncio.Semaphore(concurrency)

        async def one(sample: Sample, completion: str) -> ProcessResult:
            async with limit:
                return await self.score(sample, completion)

        return list(await asyncio.gather(*(one(s, c) for s, c in pairs)))

    def __call__(self, sample: Sample, completion: str) -> ProcessResult:
        return run_sync(self.score(sample, completion))


def process_reward(
    completion: str, sample: Sample, config: ProcessRewardConfig | None = None
) -> float | None:
    """The process reward of one completion.

    Builds a judge for the call: use a :class:`ProcessReward` to score many.
    """
    return ProcessReward(config)(sample, completion).reward


def run_sync(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion from sync code, also inside a running event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = asyncio.run(coroutine)
        except BaseException as error:  # re-raised in the caller's thread
            box["error"] = error

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    value: T = box["value"]
    return value


# --- TRL ------------------------------------------------------------------------------


class RewardWeights(BaseModel):
    """Weights of the three rewards in GRPO's total (TRL's ``reward_weights``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    format: float = Field(0.5, ge=0)
    outcome: float = Field(1.0, ge=0)
    process: float = Field(1.0, ge=0)


SAMPLE_COLUMN = "sample"
"""The dataset column holding each row's ``Sample`` as JSON (reward functions read it)."""


@lru_cache(maxsize=65536)
def sample_from_json(text: str) -> Sample:
    return Sample.model_validate_json(text)


def completion_text(completion: Any) -> str:
    """A TRL completion as text: a string, or the assistant messages' text parts."""
    if isinstance(completion, str):
        return completion
    parts: list[str] = []
    for message in completion:
        content = message.get("content") if isinstance(message, Mapping) else message
        if isinstance(content, str):
            parts.append(content)
        elif isinstance(content, list):
            parts += [str(block.get("text", "")) for block in content if isinstance(block, Mapping)]
    return "".join(parts)


RewardFunction = Callable[..., Any]


def trl_reward_functions(
    process: ProcessReward | None, weights: RewardWeights | None = None
) -> tuple[list[RewardFunction], list[float]]:
    """TRL reward callables named ``format``, ``outcome`` and ``process`` and their weights.

    Each reads the completions and the ``sample`` column. ``process`` (``None``: left out)
    is async, so TRL runs it next to the others; through TRL's ``log_metric`` it logs per
    step the share of rollouts that trip any guard (``process/guard_tripped``), each guard's
    share (``process/guard/<name>``), judge failures (``process/failed``), the mean before
    the guards (``process/base``) and the seconds it took (``process/seconds``).
    """
    weights = weights or RewardWeights()

    def format_(completions: Sequence[Any], **_: Any) -> list[float]:
        return [format_reward(completion_text(c)) for c in completions]

    format_.__name__ = "format"  # TRL logs each reward under its function's name

    def outcome(completions: Sequence[Any], sample: Sequence[str], **_: Any) -> list[float]:
        return [
            outcome_reward(completion_text(c), sample_from_json(s))
            for c, s in zip(completions, sample, strict=True)
        ]

    functions: list[RewardFunction] = [format_, outcome]
    scale = [weights.format, weights.outcome]
    if process is not None:

        async def process_(
            completions: Sequence[Any],
            sample: Sequence[str],
            log_metric: Callable[[str, float], None] | None = None,
            **_: Any,
        ) -> list[float | None]:
            started = time.perf_counter()
            pairs = [
                (sample_from_json(s), completion_text(c))
                for c, s in zip(completions, sample, strict=True)
            ]
            results = await process.score_many(pairs)
            if log_metric is not None:
                for name, value in guard_metrics(results).items():
                    log_metric(name, value)
                log_metric("process/seconds", time.perf_counter() - started)
            return [result.reward for result in results]

        process_.__name__ = "process"
        functions.append(process_)
        scale.append(weights.process)
    return functions, scale


def guard_metrics(results: Sequence[ProcessResult]) -> dict[str, float]:
    """Per batch: share of scored rollouts tripping any guard and each guard, failures, base."""
    scored = [r for r in results if r.reward is not None]
    out = {"process/failed": (len(results) - len(scored)) / len(results) if results else 0.0}
    if scored:
        out["process/guard_tripped"] = sum(r.guard_tripped for r in scored) / len(scored)
        for name in GUARDS:
            out[f"process/guard/{name}"] = sum(name in r.factors for r in scored) / len(scored)
        out["process/base"] = sum(r.base or 0.0 for r in scored) / len(scored)
    return out


def sample_json(sample: Sample) -> str:
    """The ``sample`` column's value for a sample."""
    return json.dumps(sample.model_dump(mode="json"), sort_keys=True)
