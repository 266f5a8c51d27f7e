"""Agreement with the released GPT-4o judgments (skipped when the shared file is absent)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from radrbench.metrics.agreement import AgreementReport, judge_agreement, load_judgments
from radrbench.metrics.judges.offline import OfflineJudge

REPO = Path(__file__).resolve().parents[2]
JUDGMENTS = REPO.parent / "shared" / "data" / "openi_gpt4o_judgments.jsonl"


def write(path: Path, records: list[dict[str, object]]) -> Path:
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n", encoding="utf-8")
    return path


def record(**overrides: object) -> dict[str, object]:
    base: dict[str, object] = {
        "model": "model-a",
        "task": "single",
        "index": 0,
        "prediction": "<think>The heart is enlarged. No effusion.</think><answer>A</answer>",
        "reference_reasoning": ["The heart is enlarged.", "There is no pleural effusion."],
        "report": "Findings: Cardiomegaly. No pleural effusion.",
        "factuality": 1.0,
        "completeness": 1.0,
        "effectiveness": 1.0,
    }
    base.update(overrides)
    return base


def test_messy_records_are_scored_or_skipped(tmp_path: Path) -> None:
    records = [
        record(index=0),
        record(
            index=1,
            prediction=["<think>Lungs clear.</think>", "<answer>B</answer>"],
            factuality=0.5,
            completeness=0.0,
            effectiveness=0.0,
        ),
        record(index=2, prediction="", factuality=0.0, completeness=0.0, effectiveness=0.0),
        record(
            index=3,
            prediction="user\nWhich finding?\nassistant\n<think>Small effusion."
            "</think><answer>C</answer>",
            factuality=0.0,
            completeness=0.5,
            effectiveness=0.0,
        ),
        record(index=4, reference_reasoning="The heart is enlarged. No effusion.", model="model-b"),
        record(index=5, report=None),
        record(index=6, completeness=None),
    ]
    path = write(tmp_path / "judgments.jsonl", records)
    usable, skipped = load_judgments(path)
    assert len(usable) == 5 and skipped == 2
    report = asyncio.run(judge_agreement(path, OfflineJudge()))
    assert report.skipped == 2
    assert report.all.n == 5
    assert report.development.n + report.held_out.n == 5
    completeness = report.all.sub_scores["completeness"]
    assert completeness.n == 5 and completeness.judge_failures == 0
    assert set(completeness.system_means) >= {"model-a", "model-b", "model-a/single"}
    assert completeness.models_ordered_alike is not None


CHAIN = ["The heart is enlarged.", "There is no pleural effusion."]
# The offline judge scores a copy of the reference chain well and an empty output 0 on every
# sub-score, so it orders "copy" above "empty" whatever GPT-4o says.
COPY = "<think>The heart is enlarged. There is no pleural effusion.</think><answer>A</answer>"
EMPTY = ""


def system(
    model: str, task: str, output: str, gpt4o: list[float], items: str
) -> list[dict[str, object]]:
    """One system (model on a task): one record per GPT-4o score; records answering the same
    ``items`` share their chain and report (the same question)."""
    return [
        record(
            model=model,
            task=task,
            index=i,
            prediction=output,
            reference_reasoning=CHAIN,
            report=f"Findings: Cardiomegaly. No pleural effusion. Exam {items}-{i}.",
            factuality=score,
            completeness=score,
            effectiveness=score,
        )
        for i, score in enumerate(gpt4o)
    ]


HIGH = [0.8, 1.0, 0.9] * 4
LOW = [0.0, 0.2, 0.1, 0.3] * 3
ALTERNATING = [0.0, 1.0] * 6


@pytest.fixture(scope="module")
def system_pairs(tmp_path_factory: pytest.TempPathFactory) -> AgreementReport:
    """Five tasks, each with one pair of systems: model-a copies the chain, model-b is empty."""
    records = [
        # GPT-4o separates them and agrees with the offline judge
        *system("model-a", "agree", COPY, HIGH, "agree"),
        *system("model-b", "agree", EMPTY, LOW, "agree"),
        # GPT-4o separates them the other way round
        *system("model-a", "reversed", COPY, LOW, "reversed"),
        *system("model-b", "reversed", EMPTY, HIGH, "reversed"),
        # the same scores on other items: a coin flip, whatever the offline judge says
        *system("model-a", "tie", COPY, ALTERNATING, "tie"),
        *system("model-b", "tie", EMPTY, ALTERNATING[::-1], "tie"),
        # no shared items: unpaired
        *system("model-a", "unpaired", COPY, HIGH, "unpaired-a"),
        *system("model-b", "unpaired", EMPTY, LOW, "unpaired-b"),
        *system("model-a", "unpaired_tie", COPY, ALTERNATING, "unpaired-tie-a"),
        *system("model-b", "unpaired_tie", EMPTY, ALTERNATING, "unpaired-tie-b"),
    ]
    path = write(tmp_path_factory.mktemp("agreement") / "judgments.jsonl", records)
    return asyncio.run(judge_agreement(path, OfflineJudge()))


def test_pairs_are_two_models_on_the_same_task(system_pairs: AgreementReport) -> None:
    for agreement in system_pairs.all.sub_scores.values():
        assert [pair.systems for pair in agreement.pairs] == [
            (f"model-a/{task}", f"model-b/{task}")
            for task in ("agree", "reversed", "tie", "unpaired", "unpaired_tie")
        ]
        for pair in agreement.pairs:
            # the offline judge orders the chain's copy above the empty output
            assert pair.judge_difference > 0, pair
            assert pair.ci_low is not None and pair.ci_high is not None
            assert pair.ci_low - 1e-9 <= pair.reference_difference <= pair.ci_high + 1e-9, pair
        paired = {pair.systems[0].split("/")[1]: pair for pair in agreement.pairs}
        assert [paired[t].paired for t in paired] == [True, True, True, False, False]
        assert paired["agree"].n == (12, 12) and paired["unpaired"].n == (12, 12)


def test_only_pairs_gpt4o_separates_count(system_pairs: AgreementReport) -> None:
    for name, agreement in system_pairs.all.sub_scores.items():
        pairs = {pair.systems[0].split("/")[1]: pair for pair in agreement.pairs}
        assert pairs["agree"].separated and pairs["agree"].ordered_alike, name
        assert pairs["reversed"].separated and not pairs["reversed"].ordered_alike, name
        assert pairs["unpaired"].separated and pairs["unpaired"].ordered_alike, name
        # identical distributions: not separated, although the judge orders them
        assert pairs["tie"].reference_difference == pytest.approx(0.0)
        assert not pairs["tie"].separated and pairs["tie"].ci_low < 0 < pairs["tie"].ci_high
        assert not pairs["unpaired_tie"].separated, name
        assert agreement.separated_pairs == 3, name
        assert agreement.separated_ordered_alike == 2, name


def test_parts_pair_within_their_own_records(system_pairs: AgreementReport) -> None:
    development, held_out = system_pairs.development, system_pairs.held_out
    assert development.n + held_out.n == system_pairs.all.n == 120
    for part in (development, held_out):
        for agreement in part.sub_scores.values():
            assert agreement.separated_ordered_alike <= agreement.separated_pairs
            assert agreement.separated_pairs <= len(agreement.pairs) <= 5


@pytest.mark.slow
def test_offline_judge_agrees_with_gpt4o() -> None:
    if not JUDGMENTS.is_file():
        pytest.skip(f"GPT-4o judgments not found at {JUDGMENTS} (shared data is optional)")
    report = asyncio.run(judge_agreement(JUDGMENTS, OfflineJudge()))
    assert report.all.n > 1000
    for name, agreement in report.all.sub_scores.items():
        assert agreement.judge_failures == 0
        assert agreement.spearman is not None and agreement.spearman >= 0.35, name
        held_out = report.held_out.sub_scores[name].spearman
        assert held_out is not None and held_out >= 0.3, name
