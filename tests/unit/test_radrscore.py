"""RadRScore formulas on hand-made findings, with a scripted judge."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from radrbench.metrics.judges.base import (
    Finding,
    FindingComparison,
    Judge,
    ReferenceFindings,
    StepJudgment,
    StepLabel,
)
from radrbench.metrics.radrscore import (
    ReferenceCache,
    SampleScore,
    ScoringItem,
    completeness,
    effectiveness,
    factuality,
    reasoning_text,
    score_many,
    score_reasoning,
    score_sample,
    summarize,
)
from tests.conftest import make_sample

EFFUSION = Finding(observation="pleural effusion", status="present", location="left")
NO_PTX = Finding(observation="pneumothorax", status="absent")
HEART = Finding(observation="heart size", status="absent")


class ScriptedJudge(Judge):
    """Returns fixed answers and counts its calls; ``None`` answers act as failures."""

    spec = "scripted"
    version = "test-1"

    def __init__(
        self,
        *,
        chain_findings: Sequence[Finding] = (EFFUSION, NO_PTX, HEART),
        findings: Sequence[Finding] | None = (EFFUSION, NO_PTX),
        recalled: tuple[bool, ...] | None = (True, True, False),
        consistent: tuple[bool, ...] | None = (True, False),
        labels: Sequence[StepLabel] | None = ("supported", "contradicted", "unsupported"),
        reference_fails: bool = False,
    ) -> None:
        self.chain_findings = tuple(chain_findings)
        self.findings = None if findings is None else list(findings)
        self.recalled, self.consistent = recalled, consistent
        self.labels = labels
        self.reference_fails = reference_fails
        self.calls: dict[str, int] = {}

    def _count(self, name: str) -> None:
        self.calls[name] = self.calls.get(name, 0) + 1

    async def extract_reference(
        self, chain: Sequence[str], report: str
    ) -> ReferenceFindings | None:
        self._count("reference")
        if self.reference_fails:
            return None
        return ReferenceFindings(
            chain=tuple(chain), report=report, chain_findings=self.chain_findings
        )

    async def extract_findings(self, text: str) -> list[Finding] | None:
        self._count("extract")
        return self.findings

    async def compare_findings(
        self, findings: Sequence[Finding], reference: ReferenceFindings
    ) -> FindingComparison | None:
        self._count("compare")
        if self.recalled is None or self.consistent is None:
            return None
        return FindingComparison(recalled=self.recalled, consistent=self.consistent)

    async def label_steps(
        self, reasoning: str, reference: ReferenceFindings
    ) -> list[StepJudgment] | None:
        self._count("steps")
        if self.labels is None:
            return None
        return [StepJudgment(text=f"step {i}", label=label) for i, label in enumerate(self.labels)]


def score(
    judge: Judge, output: str = "<think>Left effusion.</think><answer>A</answer>"
) -> SampleScore:
    return asyncio.run(
        score_reasoning(
            judge,
            sample_id="s1",
            output=output,
            chain=["Effusion on the left."],
            report="Small left pleural effusion.",
        )
    )


def test_ratios_follow_the_released_formulas() -> None:
    comparison = FindingComparison(recalled=(True, True, False), consistent=(True, False))
    assert completeness(comparison) == pytest.approx(2 / 3)
    assert factuality(comparison) == pytest.approx(1 / 2)
    assert effectiveness(["supported", "contradicted", "unsupported", "supported"]) == 0.5


def test_empty_lists_score_zero() -> None:
    empty = FindingComparison(recalled=(), consistent=())
    assert completeness(empty) == 0.0
    assert factuality(empty) == 0.0
    assert effectiveness([]) == 0.0


def test_sample_score_keeps_what_an_auditor_needs() -> None:
    result = score(ScriptedJudge())
    assert result.completeness == pytest.approx(2 / 3)
    assert result.factuality == pytest.approx(0.5)
    assert result.effectiveness == pytest.approx(1 / 3)
    assert result.radrscore == pytest.approx((2 / 3 + 0.5 + 1 / 3) / 3)
    assert result.reasoning == "Left effusion."
    assert result.model_findings == (EFFUSION, NO_PTX)
    assert result.chain_findings == (EFFUSION, NO_PTX, HEART)
    assert result.recalled == (True, True, False)
    assert result.consistent == (True, False)
    assert result.steps is not None and [s.label for s in result.steps][1] == "contradicted"
    assert result.judge.spec == "scripted" and result.judge.version == "test-1"
    assert result.failures == ()


def test_empty_model_findings_score_zero_and_count() -> None:
    judge = ScriptedJudge(findings=[], recalled=(False, False, False), consistent=())
    result = score(judge)
    assert result.factuality == 0.0 and result.completeness == 0.0
    other = score(ScriptedJudge())
    summary = summarize([result, other])
    assert summary.factuality.n == 2
    assert summary.factuality.mean == pytest.approx((0.0 + 0.5) / 2)


def test_empty_reference_chain_scores_zero() -> None:
    judge = ScriptedJudge(chain_findings=(), recalled=(), consistent=(True, True))
    result = score(judge)
    assert result.completeness == 0.0
    assert result.factuality == 1.0


def test_empty_reasoning_needs_no_judge_call_and_scores_zero() -> None:
    judge = ScriptedJudge()
    result = score(judge, output="<answer>B</answer>")
    assert (result.factuality, result.completeness, result.effectiveness) == (0.0, 0.0, 0.0)
    assert "extract" not in judge.calls and "steps" not in judge.calls


def test_judge_failures_are_none_excluded_and_counted() -> None:
    failed_extract = score(ScriptedJudge(findings=None))
    assert failed_extract.factuality is None and failed_extract.completeness is None
    assert failed_extract.effectiveness == pytest.approx(1 / 3)
    assert failed_extract.radrscore is None
    assert failed_extract.failures == ("extract",)
    failed_steps = score(ScriptedJudge(labels=None))
    assert failed_steps.effectiveness is None and failed_steps.failures == ("steps",)
    failed_compare = score(ScriptedJudge(recalled=None))
    assert failed_compare.failures == ("compare",)
    ok = score(ScriptedJudge())
    summary = summarize([failed_extract, failed_steps, failed_compare, ok])
    assert summary.n == 4
    assert summary.factuality.n == 2 and summary.factuality.failed == 2
    assert summary.factuality.mean == pytest.approx(0.5)
    assert summary.effectiveness.n == 3 and summary.effectiveness.failed == 1


def test_comparison_of_the_wrong_length_is_a_failure() -> None:
    result = score(ScriptedJudge(recalled=(True,)))
    assert result.completeness is None and result.failures == ("compare",)


def test_reference_failure_scores_nothing() -> None:
    result = score(ScriptedJudge(reference_fails=True))
    assert result.failures == ("reference",)
    assert (result.factuality, result.completeness, result.effectiveness) == (None, None, None)


def test_macro_average_weights_samples_equally() -> None:
    many = score(ScriptedJudge(recalled=(True,) * 3, chain_findings=(EFFUSION,) * 3))
    none = score(ScriptedJudge(recalled=(False,), chain_findings=(EFFUSION,)))
    summary = summarize([many, none])
    assert summary.completeness.mean == pytest.approx(0.5)  # micro would give 3/4
    means = [summary.factuality.mean, summary.completeness.mean, summary.effectiveness.mean]
    assert summary.radrscore == pytest.approx(sum(m or 0.0 for m in means) / 3)


def test_reference_side_is_extracted_once_per_sample() -> None:
    judge = ScriptedJudge()
    items = [
        ScoringItem(f"model{i}/s1", "<think>Left effusion.</think>", ["Effusion."], "Report.")
        for i in range(5)
    ]
    scores = asyncio.run(score_many(judge, items, references=ReferenceCache()))
    assert len(scores) == 5
    assert judge.calls["reference"] == 1
    assert judge.calls["extract"] == 5 and judge.calls["compare"] == 5


def test_samples_without_references_get_no_radrscore() -> None:
    sample = make_sample("rsna1", "img.png", reasoning=None, report=None)
    assert (
        asyncio.run(score_sample(ScriptedJudge(), sample, "<think>x</think>", ReferenceCache()))
        is None
    )
    with_refs = make_sample("s2", "img.png")
    result = asyncio.run(
        score_sample(ScriptedJudge(), with_refs, "<think>x</think>", ReferenceCache())
    )
    assert result is not None and result.sample_id == "s2"


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        ("<think> Heart normal. </think><answer>A</answer>", "Heart normal."),
        ("Heart normal.\n<answer>A</answer>", "Heart normal."),
        (
            "user\nQuestion?\nassistant\n<think>Clear lungs.</think><answer>B</answer>",
            "Clear lungs.",
        ),
        (["<think>First.</think>", "<answer>A</answer>"], "First."),
        ("<think>Unclosed reasoning", "Unclosed reasoning"),
        ("", ""),
    ],
)
def test_reasoning_text(output: str | list[str], expected: str) -> None:
    assert reasoning_text(output) == expected


def test_reference_cache_survives_event_loops_and_retries_failures() -> None:
    cache = ReferenceCache()
    judge = ScriptedJudge()
    for _ in range(2):  # a new event loop each time, as separate CLI calls would use
        asyncio.run(cache.get(judge, ["Effusion."], "Report."))
    assert judge.calls["reference"] == 1 and len(cache) == 1
    failing = ScriptedJudge(reference_fails=True)
    for _ in range(2):
        assert asyncio.run(cache.get(failing, ["Effusion."], "Other report.")) is None
    assert failing.calls["reference"] == 2


def test_sample_scores_round_trip_through_json() -> None:
    result = score(ScriptedJudge())
    text = result.model_dump_json()
    assert '"radrscore"' in text
    assert SampleScore.model_validate_json(text) == result
