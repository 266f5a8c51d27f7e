"""Outcome scoring of one answer, and outcome metrics with bootstrap CIs over many.

Choice tasks (binary, single, multi, anomaly, temporal) score accuracy. ``multi_open``
scores label sets over the 14 CheXpert labels, **micro-averaged**: precision, recall and F1
pool every (sample, label) decision (what sklearn calls ``average="micro"``), so rare
labels do not make the estimate erratic; the metric is a function of summed TP/FP/FN
counts, computed the same way for the estimate and for each bootstrap resample. Its
secondary metric is ``exact_match`` (predicted set equals the gold set).

An output that cannot be parsed is wrong (an empty label set for ``multi_open``) and is
counted in ``parse_failed``; nothing is dropped.

lm-eval: ``OutcomeScore.items()`` gives each metric's per-sample value, and
``AGGREGATIONS`` maps the metric name to the ``list -> float`` function aggregating it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Literal, TypedDict

import numpy as np
from numpy.typing import ArrayLike
from pydantic import BaseModel, ConfigDict, Field

from radrbench.data.schema import TASK_FAMILIES, Sample, TaskFamily
from radrbench.errors import DataError
from radrbench.metrics.answers import parse_choice, parse_labels
from radrbench.metrics.bootstrap import FloatArray, Statistic, bootstrap_interval, safe_ratio
from radrbench.metrics.label_synonyms import canonical_label, order_labels


class LabelSetItem(TypedDict):
    """Per-sample value of the label metrics: gold and predicted CheXpert labels."""

    gold: list[str]
    pred: list[str]


class OutcomeScore(BaseModel):
    """The outcome of one sample: what was parsed, and whether it is correct."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    sample_id: str
    task: TaskFamily
    letter: str | None = None
    labels: list[str] | None = None
    gold_labels: list[str] | None = None  # multi_open only, canonical CheXpert labels
    correct: bool
    parse_failed: bool
    reason: str
    precision: float | None = None
    recall: float | None = None
    f1: float | None = None

    def items(self) -> dict[str, float | LabelSetItem]:
        """Per-sample values for lm-eval's ``process_results``, keyed by metric name."""
        if self.gold_labels is None:
            return {"accuracy": float(self.correct), "parse_failed": float(self.parse_failed)}
        pair = LabelSetItem(gold=list(self.gold_labels), pred=list(self.labels or []))
        return {
            "label_precision": pair,
            "label_recall": pair,
            "label_f1": pair,
            "exact_match": float(self.correct),
            "parse_failed": float(self.parse_failed),
        }


def gold_labels(sample: Sample) -> list[str]:
    """The canonical CheXpert labels of a ``multi_open`` sample's answer."""
    labels = [(raw, canonical_label(raw)) for raw in sample.answer_labels]
    unknown = [raw for raw, label in labels if label is None]
    if unknown or not labels:
        raise DataError(
            f"answer labels {unknown or sample.answer!r} are not CheXpert labels",
            where=sample.id,
            hint="add the phrase to metrics/label_synonyms.yaml or fix the answer",
        )
    return list(order_labels(label for _, label in labels if label))


def score_outcome(sample: Sample, output: str) -> OutcomeScore:
    """Parse ``output`` for ``sample`` and score it against the ground truth."""
    if sample.task != "multi_open":
        parsed = parse_choice(
            output,
            sample.options or {},
            question=sample.question,
            # The asked finding of a yes/no question; other families list the answer here.
            findings=sample.findings if sample.task == "binary" else None,
        )
        return OutcomeScore(
            sample_id=sample.id,
            task=sample.task,
            letter=parsed.letter,
            correct=parsed.letter == sample.answer,
            parse_failed=parsed.failed,
            reason=parsed.reason,
        )
    gold = gold_labels(sample)
    parsed = parse_labels(output)
    predicted = set(parsed.labels or ())
    hits = len(predicted & set(gold))
    return OutcomeScore(
        sample_id=sample.id,
        task=sample.task,
        labels=None if parsed.labels is None else list(parsed.labels),
        gold_labels=gold,
        correct=predicted == set(gold),
        parse_failed=parsed.failed,
        reason=parsed.reason,
        precision=hits / len(predicted) if predicted else 0.0,
        recall=hits / len(gold),
        f1=2 * hits / (len(predicted) + len(gold)),
    )


# --- lm-eval aggregations (list of per-sample values -> float) ------------------------


def mean_of(items: Sequence[float]) -> float:
    """Accuracy or exact match: the mean of 0/1 values."""
    if not items:
        raise ValueError("no items to aggregate")
    return float(np.mean(items))


def count_of(items: Sequence[float]) -> float:
    """Parse failures: the number of 1 values."""
    return float(np.sum(items))


def micro_label_scores(items: Sequence[LabelSetItem]) -> tuple[float, float, float]:
    """Micro-averaged precision, recall and F1 of label sets (0 where undefined)."""
    if not items:
        raise ValueError("no items to aggregate")
    sums = np.asarray([_counts(item) for item in items], dtype=np.float64).sum(axis=0)[None, :]
    precision, recall, f1 = (float(statistic(sums)[0]) for statistic in _LABEL_STATS)
    return precision, recall, f1


def label_precision(items: Sequence[LabelSetItem]) -> float:
    return micro_label_scores(items)[0]


def label_recall(items: Sequence[LabelSetItem]) -> float:
    return micro_label_scores(items)[1]


def label_f1(items: Sequence[LabelSetItem]) -> float:
    return micro_label_scores(items)[2]


AGGREGATIONS: dict[str, Callable[[Sequence[Any]], float]] = {
    "accuracy": mean_of,
    "exact_match": mean_of,
    "parse_failed": count_of,
    "label_precision": label_precision,
    "label_recall": label_recall,
    "label_f1": label_f1,
}


# --- summaries with bootstrap CIs -----------------------------------------------------


class Estimate(BaseModel):
    """A metric value with its bootstrap CI and the number of samples behind it."""

    value: float
    ci_low: float
    ci_high: float
    n: int


class GroupOutcome(BaseModel):
    """Outcome metrics of one group of samples (a family, source, task or finding)."""

    n: int
    parse_failed: int
    primary: Literal["accuracy", "label_f1"]  # "label_f1" only for groups of multi_open alone
    metrics: dict[str, Estimate]  # accuracy over choice samples; label_* over multi_open


class BootstrapSettings(BaseModel):
    """How the CIs were computed."""

    method: Literal["percentile"] = "percentile"
    resamples: int = Field(default=1000, ge=1)
    confidence: float = Field(default=0.95, gt=0, lt=1)
    seed: int = 0


class OutcomeSummary(BaseModel):
    """Outcome metrics of a run: overall and broken down (keys of ``by_task`` are
    ``"<source>/<family>"``; a sample counts once for each of its findings, and samples
    without findings appear in every breakdown but ``by_finding``)."""

    bootstrap: BootstrapSettings
    overall: GroupOutcome
    by_family: dict[str, GroupOutcome]
    by_source: dict[str, GroupOutcome]
    by_task: dict[str, GroupOutcome]
    by_finding: dict[str, GroupOutcome]


def summarize_outcomes(
    records: Iterable[tuple[Sample, OutcomeScore]],
    *,
    resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> OutcomeSummary:
    """Aggregate per-sample outcomes into metrics with seeded bootstrap CIs."""
    settings = BootstrapSettings(resamples=resamples, confidence=confidence, seed=seed)
    pairs = list(records)
    if not pairs:
        raise ValueError("no outcome records to summarize")
    groups: dict[str, defaultdict[str, list[OutcomeScore]]] = {
        name: defaultdict(list) for name in ("family", "source", "task", "finding")
    }
    for sample, score in pairs:
        if score.sample_id != sample.id:
            raise ValueError(f"score for {score.sample_id!r} paired with sample {sample.id!r}")
        groups["family"][sample.task].append(score)
        groups["source"][sample.source].append(score)
        groups["task"][f"{sample.source}/{sample.task}"].append(score)
        for finding in dict.fromkeys(sample.findings):
            groups["finding"][finding].append(score)

    def breakdown(name: str, order: Callable[[str], Any] = str) -> dict[str, GroupOutcome]:
        return {key: _group(groups[name][key], settings) for key in sorted(groups[name], key=order)}

    return OutcomeSummary(
        bootstrap=settings,
        overall=_group([score for _, score in pairs], settings),
        by_family=breakdown("family", TASK_FAMILIES.index),
        by_source=breakdown("source"),
        by_task=breakdown("task"),
        by_finding=breakdown("finding"),
    )


def _group(scores: list[OutcomeScore], settings: BootstrapSettings) -> GroupOutcome:
    choice = [s for s in scores if s.gold_labels is None]
    open_ended = [s for s in scores if s.gold_labels is not None]
    metrics: dict[str, Estimate] = {}
    if choice:
        correct = [float(s.correct) for s in choice]
        metrics["accuracy"] = _estimate(mean_of(correct), correct, _share(len(correct)), settings)
    if open_ended:
        items = [LabelSetItem(gold=s.gold_labels or [], pred=s.labels or []) for s in open_ended]
        counts = [_counts(item) for item in items]
        values = micro_label_scores(items)
        for name, value, statistic in zip(
            ("label_precision", "label_recall", "label_f1"), values, _LABEL_STATS, strict=True
        ):
            metrics[name] = _estimate(value, counts, statistic, settings)
        exact = [float(s.correct) for s in open_ended]
        metrics["exact_match"] = _estimate(mean_of(exact), exact, _share(len(exact)), settings)
    return GroupOutcome(
        n=len(scores),
        parse_failed=sum(s.parse_failed for s in scores),
        primary="accuracy" if choice else "label_f1",
        metrics=metrics,
    )


def _estimate(
    value: float, values: ArrayLike, statistic: Statistic, settings: BootstrapSettings
) -> Estimate:
    low, high = bootstrap_interval(
        values,
        statistic,
        resamples=settings.resamples,
        confidence=settings.confidence,
        seed=settings.seed,
    )
    return Estimate(value=value, ci_low=low, ci_high=high, n=len(np.asarray(values)))


def _counts(item: LabelSetItem) -> tuple[int, int, int]:
    """True positives, false positives and false negatives of one label set."""
    gold, pred = set(item["gold"]), set(item["pred"])
    return len(gold & pred), len(pred - gold), len(gold - pred)


def _share(n: int) -> Statistic:
    return lambda sums: sums[:, 0] / n


def _precision(sums: FloatArray) -> FloatArray:
    return safe_ratio(sums[:, 0], sums[:, 0] + sums[:, 1])


def _recall(sums: FloatArray) -> FloatArray:
    return safe_ratio(sums[:, 0], sums[:, 0] + sums[:, 2])


def _f1(sums: FloatArray) -> FloatArray:
    return safe_ratio(2 * sums[:, 0], 2 * sums[:, 0] + sums[:, 1] + sums[:, 2])


_LABEL_STATS: tuple[Statistic, ...] = (_precision, _recall, _f1)
