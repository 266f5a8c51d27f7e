"""The GRPO rewards: format, outcome, the hardened process reward, TRL and verl wrappers."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from radrbench.data.schema import Sample
from radrbench.metrics.judges.base import (
    Finding,
    FindingComparison,
    Judge,
    ReferenceFindings,
    StepJudgment,
)
from radrbench.training import reward_suite
from radrbench.training.rewards import (
    GUARDS,
    ProcessReward,
    ProcessRewardConfig,
    distinct_share,
    format_reward,
    guard_metrics,
    outcome_reward,
    sample_json,
    trl_reward_functions,
)
from radrbench.training.verl import compute_score
from tests.conftest import make_sample

ROLLOUTS = Path(__file__).resolve().parents[1] / "data" / "process_reward" / "rollouts.jsonl"
CARDIOMEGALY = make_sample(
    "c1",
    "img.png",
    question="Does this chest X-ray show cardiomegaly?\nOptions:\nA) Yes\nB) No",
    findings=["Cardiomegaly"],
    reasoning=[
        "The cardiac silhouette is enlarged, about 0.62 of the thoracic width, which "
        "indicates cardiomegaly.",
        "The costophrenic angles are sharp, so there is no pleural effusion.",
        "No pleural line is seen, so there is no pneumothorax.",
        "Therefore, the image shows cardiomegaly, so the answer is A) Yes.",
    ],
    report="FINDINGS: Moderate cardiomegaly. No pleural effusion or pneumothorax.\n"
    "IMPRESSION: Cardiomegaly.",
)


@pytest.fixture(scope="module")
def reward() -> ProcessReward:
    return ProcessReward()


# --- format and outcome ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("completion", "expected"),
    [
        ("<think>The heart is enlarged.</think><answer>A</answer>", 1.0),
        ("  <think>\nThe heart is enlarged.\n</think>\n<answer> A </answer>\n", 1.0),
        ("<think>The heart is enlarged.</think>", 0.0),
        ("<answer>A</answer>", 0.0),
        ("<answer>A</answer><think>The heart is enlarged.</think>", 0.0),
        ("<think> </think><answer>A</answer>", 0.0),
        ("<think>The heart.</think><answer> </answer>", 0.0),
        ("<think>a <think>b</think><answer>A</answer>", 0.0),
        ("<think>The heart.</think><answer>A</answer> and more text", 0.0),
        ("Sure! <think>The heart.</think><answer>A</answer>", 0.0),
        ("<think>x</think><answer>A</answer><answer>B</answer>", 0.0),
        ("The answer is A.", 0.0),
        ("", 0.0),
    ],
)
def test_format_reward(completion: str, expected: float) -> None:
    assert format_reward(completion) == expected


@pytest.mark.parametrize(
    ("completion", "expected"),
    [
        ("<think>...</think><answer>A</answer>", 1.0),
        ("<think>...</think><answer>B</answer>", 0.0),
        ("<think>...</think><answer>A) Yes</answer>", 1.0),
        ("<think>...</think><answer>There is cardiomegaly.</answer>", 1.0),
        ("<think>...</think><answer>No cardiomegaly is seen.</answer>", 0.0),
        ("<think>...</think><answer>A or B</answer>", 0.0),
        ("I cannot tell.", 0.0),
    ],
)
def test_outcome_reward_is_the_benchmark_scoring(completion: str, expected: float) -> None:
    assert outcome_reward(completion, CARDIOMEGALY) == expected


def test_outcome_reward_multi_open_is_label_f1() -> None:
    sample = make_sample(
        "m1",
        "img.png",
        task="multi_open",
        question="Which findings are in this chest X-ray?",
        options=None,
        answer="cardiomegaly, pleural effusion",
        answer_text="",
    )
    assert outcome_reward("<answer>cardiomegaly, pleural effusion</answer>", sample) == 1.0
    assert outcome_reward("<answer>cardiomegaly</answer>", sample) == pytest.approx(2 / 3)
    assert outcome_reward("<answer>pneumothorax</answer>", sample) == 0.0


# --- process: hand-written rollouts as data --------------------------------------------


def _rollouts() -> list[Any]:
    rows = [json.loads(line) for line in ROLLOUTS.read_text().splitlines() if line.strip()]
    return [pytest.param(row, id=row["case"]) for row in rows]


@pytest.mark.parametrize("case", _rollouts())
def test_process_reward_on_written_rollouts(case: dict[str, Any], reward: ProcessReward) -> None:
    completion = f"<think>{case['reasoning']}</think><answer>{case['answer']}</answer>"
    result = reward(CARDIOMEGALY, completion)
    assert result.reward is not None
    if "min_reward" in case:
        assert result.reward >= case["min_reward"], result
    if "max_reward" in case:
        assert result.reward <= case["max_reward"], result
    assert set(case["tripped"]) <= set(result.tripped), result
    if not case["tripped"]:
        assert not result.guard_tripped, result


# --- process: the adversarial suite on phantom samples ---------------------------------


@pytest.fixture(scope="module")
def suite(reward: ProcessReward) -> reward_suite.RewardSuiteReport:
    return asyncio.run(reward_suite.run_reward_suite(reward, n=16, seed=0))


@pytest.mark.parametrize("style", reward_suite.STYLES)
@pytest.mark.parametrize("variant", reward_suite.REQUIRED)
def test_degenerate_reasoning_scores_half_below_the_true_chain(
    suite: reward_suite.RewardSuiteReport, style: str, variant: str
) -> None:
    """Every sample, with the correct answer given: true chain - variant >= 0.5."""
    row = next(v for v in suite.variants[style] if v.variant == variant)
    assert row.n >= 8 and row.failed == 0
    assert row.min_gap is not None and row.min_gap >= reward_suite.MIN_GAP, row
    assert row.tripped == 1.0, row  # every degenerate rollout is flagged


@pytest.mark.parametrize("style", reward_suite.STYLES)
def test_true_chain_trips_no_guard(suite: reward_suite.RewardSuiteReport, style: str) -> None:
    row = next(v for v in suite.variants[style] if v.variant == reward_suite.TRUE_CHAIN)
    assert row.tripped == 0.0 and (row.mean_reward or 0.0) > 0.9, row


@pytest.mark.parametrize("style", reward_suite.STYLES)
def test_correct_reasoning_ranks_above_wrong_reasoning_with_both_answers_right(
    suite: reward_suite.RewardSuiteReport, style: str
) -> None:
    below, total = suite.wrong_below_true[style]
    assert total >= 5 and below == total


def test_suite_report_lists_no_failures(suite: reward_suite.RewardSuiteReport) -> None:
    assert suite.met, suite.failures


def test_guards_off_gives_the_gameable_weighted_radrscore() -> None:
    """Without guards, listing every finding as absent keeps a high reward (the blind spot)."""
    text = " ".join(
        f"There is no {name}."
        for name in ("pleural effusion", "pneumothorax", "edema", "fracture", "consolidation")
    )
    completion = f"<think>{text}</think><answer>A</answer>"
    plain = ProcessReward(ProcessRewardConfig(guards=False))(CARDIOMEGALY, completion)
    guarded = ProcessReward()(CARDIOMEGALY, completion)
    assert plain.reward is not None and guarded.reward is not None
    assert not plain.guard_tripped and guarded.guard_tripped
    assert guarded.reward < plain.reward


# --- process: failures -----------------------------------------------------------------


class FailingJudge(Judge):
    spec = "failing"
    version = "0"

    async def extract_findings(self, text: str) -> list[Finding] | None:
        return None

    async def compare_findings(
        self, findings: Sequence[Finding], reference: ReferenceFindings
    ) -> FindingComparison | None:
        return None

    async def label_steps(
        self, reasoning: str, reference: ReferenceFindings
    ) -> list[StepJudgment] | None:
        return None


def test_judge_failure_gives_none_and_is_logged() -> None:
    process = ProcessReward(judge=FailingJudge())
    result = process(CARDIOMEGALY, "<think>There is cardiomegaly.</think><answer>A</answer>")
    assert result.reward is None and result.failures
    assert guard_metrics([result])["process/failed"] == 1.0


def test_samples_without_chain_or_report_get_none(reward: ProcessReward) -> None:
    rsna = make_sample("r1", "img.png", source="phantom-rsna", reasoning=None, report=None)
    result = reward(rsna, "<think>There is pneumonia.</think><answer>A</answer>")
    assert result.reward is None and result.failures == ("no_reference",)


# --- repetition measure ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "share"),
    [
        ("", 1.0),
        ("There is cardiomegaly.", 1.0),
        ("There is no effusion. There is no edema. There is no pneumothorax.", 1.0),
        ("Heart enlarged. Heart enlarged. Heart enlarged. Heart enlarged.", 0.25),
        ("The heart is enlarged, so cardiomegaly.\nThe heart is enlarged so cardiomegaly!", 0.5),
    ],
)
def test_distinct_share(text: str, share: float) -> None:
    assert distinct_share(text) == pytest.approx(share)


# --- TRL and verl wrappers ---------------------------------------------------------------


def test_trl_reward_functions_read_the_sample_column_and_log_guard_shares(
    reward: ProcessReward,
) -> None:
    functions, weights = trl_reward_functions(reward)
    assert [f.__name__ for f in functions] == ["format", "outcome", "process"]
    assert weights == [0.5, 1.0, 1.0]
    good = "\n".join(CARDIOMEGALY.reasoning or ())
    completions = [
        [{"role": "assistant", "content": f"<think>{good}</think><answer>A</answer>"}],
        [{"role": "assistant", "content": [{"type": "text", "text": "<answer>B</answer>"}]}],
    ]
    column = [sample_json(CARDIOMEGALY)] * 2
    logged: dict[str, float] = {}
    fmt, outcome, process = functions
    assert fmt(prompts=[[], []], completions=completions, sample=column) == [1.0, 0.0]
    assert outcome(prompts=[[], []], completions=completions, sample=column) == [1.0, 0.0]
    values = asyncio.run(
        process(
            prompts=[[], []],
            completions=completions,
            sample=column,
            log_metric=logged.__setitem__,
            trainer_state=None,
        )
    )
    assert values[0] is not None and values[0] > 0.8 and values[1] == 0.0
    assert logged["process/guard_tripped"] == 0.5
    assert logged["process/guard/no_finding"] == 0.5
    assert set(logged) >= {f"process/guard/{name}" for name in GUARDS} | {"process/seconds"}


def test_trl_reward_functions_without_process() -> None:
    functions, weights = trl_reward_functions(None)
    assert [f.__name__ for f in functions] == ["format", "outcome"] and len(weights) == 2


def test_verl_compute_score_is_the_same_reward() -> None:
    good = "\n".join(CARDIOMEGALY.reasoning or ())
    solution = f"<think>{good}</think><answer>A</answer>"
    score = compute_score("radrbench/phantom", solution, sample_json(CARDIOMEGALY), {})
    assert score["format"] == 1.0 and score["outcome"] == 1.0
    assert score["process"] > 0.8 and score["guard_tripped"] == 0.0
    assert score["score"] == pytest.approx(0.5 + 1.0 + score["process"])
    salad = compute_score(
        "radrbench/phantom",
        "<think>Let me analyze this chest X-ray systematically.</think><answer>A</answer>",
        None,
        {"sample": CARDIOMEGALY.model_dump(mode="json")},
    )
    assert salad["process"] == 0.0 and salad["guard_tripped"] == 1.0
    assert salad["score"] == pytest.approx(1.5)


def test_sample_json_round_trips() -> None:
    assert Sample.model_validate_json(sample_json(CARDIOMEGALY)) == CARDIOMEGALY
