"""Outcome scoring, aggregations and bootstrap summaries against hand-computed values."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from radrbench.data.schema import Sample
from radrbench.errors import DataError
from radrbench.metrics.bootstrap import bootstrap_interval
from radrbench.metrics.outcome import (
    AGGREGATIONS,
    LabelSetItem,
    OutcomeScore,
    label_f1,
    label_precision,
    label_recall,
    score_outcome,
    summarize_outcomes,
)

YES_NO = {"A": "Yes", "B": "No"}


def make_sample(
    sample_id: str,
    task: str = "binary",
    *,
    answer: str = "B",
    source: str = "phantom",
    findings: list[str] | None = None,
    options: dict[str, str] | None = YES_NO,
) -> Sample:
    images: list[dict[str, Any]] = [{"path": f"{sample_id}.png"}]
    if task == "temporal":
        images.append({"path": f"{sample_id}-prior.png", "role": "prior"})
    return Sample(
        id=sample_id,
        source=source,
        task=task,
        split="test",
        images=images,
        question="Does this chest X-ray show cardiomegaly?",
        options=None if task == "multi_open" else options,
        answer=answer,
        findings=findings or [],
    )


def open_sample(sample_id: str, answer: str, **kwargs: Any) -> Sample:
    return make_sample(sample_id, "multi_open", answer=answer, **kwargs)


def test_choice_scores_correct_wrong_and_unparseable() -> None:
    sample = make_sample("s1")
    right = score_outcome(sample, "<think>Normal heart size.</think><answer>B</answer>")
    wrong = score_outcome(sample, "The answer is A.")
    failed = score_outcome(sample, "I'm sorry, I cannot interpret medical images.")
    assert (right.letter, right.correct, right.parse_failed) == ("B", True, False)
    assert (wrong.letter, wrong.correct, wrong.parse_failed) == ("A", False, False)
    assert (failed.letter, failed.correct, failed.parse_failed) == (None, False, True)
    assert "refusal" in failed.reason


def test_multi_open_per_sample_scores() -> None:
    sample = open_sample("o1", "pleural effusion, atelectasis")
    half = score_outcome(sample, "<answer>effusion, cardiomegaly</answer>")
    assert half.gold_labels == ["Atelectasis", "Pleural Effusion"]
    assert half.labels == ["Cardiomegaly", "Pleural Effusion"]
    assert (half.precision, half.recall, half.f1, half.correct) == (0.5, 0.5, 0.5, False)

    over = score_outcome(open_sample("o2", "cardiomegaly"), "Cardiomegaly and pulmonary edema.")
    assert over.precision == 0.5 and over.recall == 1.0
    assert over.f1 == pytest.approx(2 / 3)

    exact = score_outcome(sample, "<answer>Atelectasis, Pleural Effusion</answer>")
    assert exact.correct and exact.f1 == 1.0

    failed = score_outcome(sample, "")
    assert failed.parse_failed and not failed.correct
    assert (failed.labels, failed.precision, failed.recall, failed.f1) == (None, 0.0, 0.0, 0.0)


def test_multi_open_gold_outside_chexpert_is_a_data_error() -> None:
    with pytest.raises(DataError, match="not CheXpert labels"):
        score_outcome(open_sample("o3", "tortuous aorta"), "cardiomegaly")


def test_micro_label_aggregation_hand_computed() -> None:
    items = [
        LabelSetItem(gold=["Atelectasis", "Edema"], pred=["Atelectasis", "Cardiomegaly"]),
        LabelSetItem(gold=["Pneumothorax"], pred=["Pneumothorax"]),
        LabelSetItem(gold=["Fracture"], pred=[]),
    ]
    # TP = 2, FP = 1, FN = 2
    assert label_precision(items) == pytest.approx(2 / 3)
    assert label_recall(items) == pytest.approx(1 / 2)
    assert label_f1(items) == pytest.approx(4 / 7)


def test_lm_eval_items_aggregate_to_the_summary_values() -> None:
    samples = [make_sample(f"b{i}", answer="AB"[i % 2]) for i in range(6)]
    outputs = ["A", "B", "B", "A", "no idea", "(B)"]  # right, right, wrong, wrong, failed, right
    samples += [open_sample("o1", "edema"), open_sample("o2", "pneumothorax, fracture")]
    outputs += ["<answer>edema, cardiomegaly</answer>", "<answer>pneumothorax</answer>"]
    scores = [score_outcome(s, o) for s, o in zip(samples, outputs, strict=True)]
    summary = summarize_outcomes(zip(samples, scores, strict=True), resamples=200)

    per_metric: dict[str, list[Any]] = {}
    for score in scores:
        for name, item in score.items().items():
            per_metric.setdefault(name, []).append(item)
    assert set(per_metric) == set(AGGREGATIONS)
    aggregated = {name: AGGREGATIONS[name](items) for name, items in per_metric.items()}
    overall = summary.overall.metrics
    assert aggregated["accuracy"] == overall["accuracy"].value == pytest.approx(3 / 6)
    assert aggregated["parse_failed"] == summary.overall.parse_failed == 1
    for name in ("label_precision", "label_recall", "label_f1", "exact_match"):
        assert aggregated[name] == pytest.approx(overall[name].value)
    assert overall["label_f1"].value == pytest.approx(2 * 2 / (2 * 2 + 1 + 1))


def _records() -> list[tuple[Sample, OutcomeScore]]:
    """40 binary (mimic, 30 right, 1 unparseable), 20 single (phantom, 10 right, 10 unparseable)."""
    records = []
    for i in range(40):
        sample = make_sample(
            f"m{i}", source="mimic-cxr", findings=["Cardiomegaly"] if i < 10 else ["Edema"]
        )
        output = "B" if i % 4 else ("A" if i else "cannot tell")
        records.append((sample, score_outcome(sample, output)))
    single = {"A": "atelectasis", "B": "cardiomegaly", "C": "pleural effusion", "D": "edema"}
    for i in range(20):
        sample = make_sample(f"p{i}", "single", answer="C", options=single, findings=["Edema"])
        records.append((sample, score_outcome(sample, "C" if i % 2 else "A or C")))
    return records


def test_summary_breakdowns_counts_and_primary_metrics() -> None:
    records = _records()
    records.append((open_sample("o1", "edema"), score_outcome(open_sample("o1", "edema"), "edema")))
    summary = summarize_outcomes(records, resamples=300)

    assert list(summary.by_family) == ["binary", "single", "multi_open"]
    binary = summary.by_family["binary"]
    assert (binary.n, binary.parse_failed, binary.primary) == (40, 1, "accuracy")
    assert binary.metrics["accuracy"].value == pytest.approx(30 / 40)
    assert summary.by_family["single"].metrics["accuracy"].value == pytest.approx(10 / 20)
    assert summary.by_family["single"].parse_failed == 10
    multi_open = summary.by_family["multi_open"]
    assert multi_open.primary == "label_f1" and multi_open.metrics["label_f1"].value == 1.0

    assert set(summary.by_source) == {"mimic-cxr", "phantom"}
    assert summary.by_source["phantom"].n == 21
    assert set(summary.by_source["phantom"].metrics) == {
        "accuracy",
        "label_precision",
        "label_recall",
        "label_f1",
        "exact_match",
    }
    assert set(summary.by_task) == {"mimic-cxr/binary", "phantom/single", "phantom/multi_open"}
    assert summary.by_finding["Cardiomegaly"].n == 10
    assert summary.by_finding["Cardiomegaly"].metrics["accuracy"].value == pytest.approx(7 / 10)
    assert summary.by_finding["Edema"].n == 50
    assert summary.overall.n == 61 and summary.overall.parse_failed == 11
    assert summary.overall.metrics["accuracy"].n == 60
    json.dumps(summary.model_dump(mode="json"))


def test_ci_contains_estimate_and_is_seeded() -> None:
    records = _records()
    first = summarize_outcomes(records, seed=7)
    again = summarize_outcomes(records, seed=7)
    other = summarize_outcomes(records, seed=8)
    assert first == again
    assert first.bootstrap.resamples == 1000 and first.bootstrap.seed == 7
    assert first != other
    for group in (first.overall, *first.by_family.values(), *first.by_finding.values()):
        for estimate in group.metrics.values():
            assert estimate.ci_low <= estimate.value <= estimate.ci_high
            assert estimate.ci_low < estimate.ci_high


def test_bootstrap_matches_the_normal_approximation() -> None:
    correct = np.array([1.0] * 280 + [0.0] * 120)  # accuracy 0.7, n = 400
    low, high = bootstrap_interval(correct, lambda sums: sums[:, 0] / 400, resamples=4000)
    half_width = 1.96 * np.sqrt(0.7 * 0.3 / 400)
    assert low == pytest.approx(0.7 - half_width, abs=0.01)
    assert high == pytest.approx(0.7 + half_width, abs=0.01)
    assert bootstrap_interval([1.0, 1.0, 1.0], lambda sums: sums[:, 0] / 3) == (1.0, 1.0)


def test_bootstrap_is_seeded() -> None:
    values = np.random.default_rng(0).normal(size=50)

    def mean(sums: np.ndarray) -> np.ndarray:
        return sums[:, 0] / 50

    assert bootstrap_interval(values, mean, seed=1) == bootstrap_interval(values, mean, seed=1)
    assert bootstrap_interval(values, mean, seed=1) != bootstrap_interval(values, mean, seed=2)


def test_mismatched_record_is_rejected() -> None:
    _, score = _records()[0]
    with pytest.raises(ValueError, match="paired with"):
        summarize_outcomes([(make_sample("other"), score)])
