"""Agreement of a judge with released GPT-4o RadRScore judgments.

Reads a JSONL of real model outputs judged by GPT-4o (fields ``model``, ``task``,
``prediction``, ``reference_reasoning``, ``report``, ``factuality``, ``completeness``,
``effectiveness``), re-scores every output with the given judge and reports, per
sub-score, the per-sample Spearman correlation and how the two judges order systems.
Messy records are tolerated: list or empty predictions, echoed prompts, a chain given as
one string; records without a chain, a report or GPT-4o scores are skipped and counted.

System orderings count only real differences (DESIGN §5). A system is a model on a task;
for every pair of systems on the same task, a seeded bootstrap 95% CI of GPT-4o's
difference of means says whether GPT-4o itself separates them (the CI excludes 0); only
those pairs are compared with the evaluated judge, the rest are coin flips. The bootstrap is
paired over shared items when the two systems answered the same items (an item is its
reference chain and report: the files' ``index`` and ``item_id`` do not identify an item
across models), unpaired otherwise.

Records are split deterministically by study (a hash of the report) into a development
part and a held-out part, reported separately, so a judge tuned on one can be checked on
the other.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict
from scipy.stats import spearmanr

from radrbench.errors import DataError
from radrbench.metrics.bootstrap import bootstrap_interval, percentile_interval, resampled_sums
from radrbench.metrics.judges.base import Judge, JudgeInfo
from radrbench.metrics.radrscore import SUB_SCORES, SampleScore, ScoringItem, score_many

HELD_OUT_SHARE = 0.3


class JudgedRecord(BaseModel):
    """One usable record of the judgments file."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    key: str
    model: str
    task: str
    prediction: str | tuple[str, ...]
    chain: tuple[str, ...]
    report: str
    reference: dict[str, float]
    question: str | None = None
    """The question the model saw (its echo is not reasoning)."""

    @property
    def item(self) -> str:
        """The item the output answers: a hash of its reference chain and report (the same
        for every model, unlike the files' ``index`` and ``item_id``)."""
        payload = json.dumps([list(self.chain), self.report], ensure_ascii=False)
        return hashlib.sha256(payload.encode()).hexdigest()

    @property
    def held_out(self) -> bool:
        """Whether the record's study falls in the held-out part."""
        digest = hashlib.sha256(self.report.encode()).digest()
        return int.from_bytes(digest[:4], "big") / 2**32 < HELD_OUT_SHARE


def load_judgments(path: Path) -> tuple[list[JudgedRecord], int]:
    """Usable records of a judgments file, and how many were skipped."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as error:
        raise DataError(f"cannot read the judgments file: {error}", where=str(path)) from error
    records: list[JudgedRecord] = []
    skipped = 0
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
        except json.JSONDecodeError as error:
            raise DataError(f"line {number} is not JSON: {error}", where=str(path)) from error
        record = _record(raw, number) if isinstance(raw, dict) else None
        if record is None:
            skipped += 1
        else:
            records.append(record)
    return records, skipped


def _record(raw: dict[str, object], number: int) -> JudgedRecord | None:
    chain = _strings(raw.get("reference_reasoning"))
    report = raw.get("report")
    scores = {name: raw.get(name) for name in SUB_SCORES}
    if not chain or not isinstance(report, str) or not report.strip():
        return None
    if not all(isinstance(v, int | float) and math.isfinite(v) for v in scores.values()):
        return None
    prediction = raw.get("prediction")
    return JudgedRecord(
        key=record_key(raw, number),
        model=str(raw.get("model") or "unknown"),
        task=str(raw.get("task") or "unknown"),
        prediction=prediction if isinstance(prediction, str) else _strings(prediction),
        chain=chain,
        report=report,
        reference={name: float(v) for name, v in scores.items() if isinstance(v, int | float)},
        question=question if isinstance(question := raw.get("question"), str) else None,
    )


def record_key(raw: dict[str, object], number: int) -> str:
    """A record's key: model, task and index (its line number when it has none)."""
    return f"{raw.get('model')}/{raw.get('task')}/{raw.get('index', number)}"


def _strings(value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,) if value.strip() else ()
    if isinstance(value, list):
        return tuple(str(v) for v in value if v is not None and str(v).strip())
    return ()


class PairAgreement(BaseModel):
    """Two systems on the same task: GPT-4o's difference of means (first minus second) with
    its bootstrap 95% CI, and this judge's difference on the same records."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    systems: tuple[str, str]
    paired: bool
    """Compared over the items both systems answered (paired bootstrap); else unpaired."""
    n: tuple[int, int]
    """Items (paired) or records (unpaired) of each system in the comparison."""
    reference_difference: float
    ci_low: float | None
    ci_high: float | None
    """GPT-4o's 95% CI (``None`` when a system has fewer than two items or records)."""
    judge_difference: float

    @property
    def separated(self) -> bool:
        """Whether GPT-4o separates the two systems beyond its CI (the CI excludes 0)."""
        if self.ci_low is None or self.ci_high is None:
            return False
        return self.ci_low > 0 or self.ci_high < 0

    @property
    def ordered_alike(self) -> bool:
        """Whether this judge orders the two systems as GPT-4o does (strictly)."""
        return self.judge_difference * self.reference_difference > 0


class SubScoreAgreement(BaseModel):
    """Agreement on one sub-score."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    spearman: float | None
    n: int
    judge_failures: int
    system_means: dict[str, tuple[float, float]]
    """System (model; model/task) -> (this judge's mean, GPT-4o's mean)."""
    models_ordered_alike: bool | None
    """Whether both judges rank the models (all tasks pooled) in the same order (``None``:
    fewer than two models)."""
    pairs: tuple[PairAgreement, ...]
    """Every pair of systems (models) on the same task."""
    separated_pairs: int
    """Pairs GPT-4o separates beyond its 95% CI."""
    separated_ordered_alike: int
    """Of the separated pairs, those this judge orders the same way."""


class AgreementPart(BaseModel):
    """Agreement on a subset of the records."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    n: int
    sub_scores: dict[str, SubScoreAgreement]


class AgreementReport(BaseModel):
    """Agreement of a judge with the GPT-4o judgments: all records, dev and held-out parts."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    judge: JudgeInfo
    path: str
    skipped: int
    all: AgreementPart
    development: AgreementPart
    held_out: AgreementPart


async def judge_agreement(
    path: Path | str,
    judge: Judge,
    limit: int | None = None,
    *,
    concurrency: int = 16,
    resamples: int = 1000,
    seed: int = 0,
) -> AgreementReport:
    """Re-score the file's outputs with ``judge`` and compare with GPT-4o's sub-scores
    (``resamples`` and ``seed``: the bootstrap of GPT-4o's system differences)."""
    path = Path(path)
    records, skipped = load_judgments(path)
    records = records[:limit] if limit is not None else records
    items = [ScoringItem(r.key, r.prediction, r.chain, r.report, r.question) for r in records]
    scores = await score_many(judge, items, concurrency=concurrency)
    pairs = list(zip(records, scores, strict=True))
    bootstrap = _Bootstrap(resamples, seed)
    return AgreementReport(
        judge=judge.info,
        path=str(path),
        skipped=skipped,
        all=_part(pairs, bootstrap),
        development=_part([p for p in pairs if not p[0].held_out], bootstrap),
        held_out=_part([p for p in pairs if p[0].held_out], bootstrap),
    )


@dataclass(frozen=True)
class _Bootstrap:
    resamples: int
    seed: int


def _part(
    pairs: Sequence[tuple[JudgedRecord, SampleScore]], bootstrap: _Bootstrap
) -> AgreementPart:
    return AgreementPart(
        n=len(pairs),
        sub_scores={name: _agreement(pairs, name, bootstrap) for name in SUB_SCORES},
    )


# per system: item -> (this judge's scores, GPT-4o's scores) of the system's records
_Items = dict[str, tuple[list[float], list[float]]]


def _agreement(
    pairs: Sequence[tuple[JudgedRecord, SampleScore]], name: str, bootstrap: _Bootstrap
) -> SubScoreAgreement:
    ours: list[float] = []
    theirs: list[float] = []
    systems: dict[str, tuple[list[float], list[float]]] = {}
    items: dict[tuple[str, str], _Items] = {}
    for record, score in pairs:
        value = getattr(score, name)
        if value is None:
            continue
        reference = record.reference[name]
        ours.append(value)
        theirs.append(reference)
        for system in (record.model, f"{record.model}/{record.task}"):
            mine, gpt = systems.setdefault(system, ([], []))
            mine.append(value)
            gpt.append(reference)
        mine, gpt = items.setdefault((record.task, record.model), {}).setdefault(
            record.item, ([], [])
        )
        mine.append(value)
        gpt.append(reference)
    means = {s: (sum(a) / len(a), sum(b) / len(b)) for s, (a, b) in sorted(systems.items())}
    compared = tuple(
        _compare(f"{x}/{task}", items[task, x], f"{y}/{task}", items[task, y], bootstrap)
        for task in sorted({task for task, _ in items})
        for x, y in itertools.combinations(sorted(m for t, m in items if t == task), 2)
    )
    separated = [pair for pair in compared if pair.separated]
    return SubScoreAgreement(
        spearman=_spearman(ours, theirs),
        n=len(ours),
        judge_failures=len(pairs) - len(ours),
        system_means=means,
        models_ordered_alike=_models_ordered_alike(means),
        pairs=compared,
        separated_pairs=len(separated),
        separated_ordered_alike=sum(pair.ordered_alike for pair in separated),
    )


def _compare(x: str, a: _Items, y: str, b: _Items, bootstrap: _Bootstrap) -> PairAgreement:
    """GPT-4o's difference of means of two systems with its bootstrap CI, and this judge's.

    Paired over the shared items when they are at least half of each system's items (a
    record's scores averaged per item); unpaired over all records otherwise.
    """
    shared = sorted(a.keys() & b.keys())
    if len(shared) >= 2 and 2 * len(shared) >= max(len(a), len(b)):
        # columns: this judge's item mean, GPT-4o's item mean (x minus y)
        diffs = np.array(
            [[float(np.mean(a[i][k])) - float(np.mean(b[i][k])) for k in (0, 1)] for i in shared]
        )
        n = len(shared)
        low, high = bootstrap_interval(
            diffs[:, 1],
            lambda sums: sums[:, 0] / n,
            resamples=bootstrap.resamples,
            seed=bootstrap.seed,
        )
        judge, reference = diffs.mean(axis=0)
        return PairAgreement(
            systems=(x, y),
            paired=True,
            n=(n, n),
            reference_difference=float(reference),
            ci_low=low,
            ci_high=high,
            judge_difference=float(judge),
        )
    ours_x, gpt_x = (np.array([v for i in a.values() for v in i[k]]) for k in (0, 1))
    ours_y, gpt_y = (np.array([v for i in b.values() for v in i[k]]) for k in (0, 1))
    interval: tuple[float | None, float | None] = (None, None)
    if len(gpt_x) >= 2 and len(gpt_y) >= 2:
        # the two systems resampled independently, with different seeds
        means_x, means_y = (
            resampled_sums(values, resamples=bootstrap.resamples, seed=bootstrap.seed + k)[:, 0]
            / len(values)
            for k, values in enumerate((gpt_x, gpt_y))
        )
        interval = percentile_interval(means_x - means_y)
    return PairAgreement(
        systems=(x, y),
        paired=False,
        n=(len(gpt_x), len(gpt_y)),
        reference_difference=float(gpt_x.mean() - gpt_y.mean()),
        ci_low=interval[0],
        ci_high=interval[1],
        judge_difference=float(ours_x.mean() - ours_y.mean()),
    )


def _spearman(a: Sequence[float], b: Sequence[float]) -> float | None:
    if len(a) < 3 or len(set(a)) < 2 or len(set(b)) < 2:
        return None
    value = float(spearmanr(a, b).statistic)
    return value if math.isfinite(value) else None


def _models_ordered_alike(means: dict[str, tuple[float, float]]) -> bool | None:
    models = {name: value for name, value in means.items() if "/" not in name}
    if len(models) < 2:
        return None
    ours = sorted(models, key=lambda name: models[name][0])
    theirs = sorted(models, key=lambda name: models[name][1])
    return ours == theirs
