"""Agreement of a judge with released GPT-4o RadRScore judgments.

Reads a JSONL of real model outputs judged by GPT-4o (fields ``model``, ``task``,
``prediction``, ``reference_reasoning``, ``report``, ``factuality``, ``completeness``,
``effectiveness``), re-scores every output with the given judge and reports, per
sub-score, the per-sample Spearman correlation and whether the systems (models, and
model and task groups) are ordered alike. Messy records are tolerated: list or empty
predictions, echoed prompts, a chain given as one string; records without a chain, a
report or GPT-4o scores are skipped and counted.

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
from pathlib import Path

from pydantic import BaseModel, ConfigDict
from scipy.stats import spearmanr

from radrbench.errors import DataError
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


class SubScoreAgreement(BaseModel):
    """Agreement on one sub-score."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    spearman: float | None
    n: int
    judge_failures: int
    system_means: dict[str, tuple[float, float]]
    """System -> (this judge's mean, GPT-4o's mean)."""
    models_ordered_alike: bool | None
    """Whether both judges rank the models in the same order (``None``: fewer than two)."""
    system_pairs_agreeing: float | None
    """Share of system pairs (models; model/task groups) that both judges order alike."""


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
    path: Path | str, judge: Judge, limit: int | None = None, *, concurrency: int = 16
) -> AgreementReport:
    """Re-score the file's outputs with ``judge`` and compare with GPT-4o's sub-scores."""
    path = Path(path)
    records, skipped = load_judgments(path)
    records = records[:limit] if limit is not None else records
    items = [ScoringItem(r.key, r.prediction, r.chain, r.report) for r in records]
    scores = await score_many(judge, items, concurrency=concurrency)
    pairs = list(zip(records, scores, strict=True))
    return AgreementReport(
        judge=judge.info,
        path=str(path),
        skipped=skipped,
        all=_part(pairs),
        development=_part([p for p in pairs if not p[0].held_out]),
        held_out=_part([p for p in pairs if p[0].held_out]),
    )


def _part(pairs: Sequence[tuple[JudgedRecord, SampleScore]]) -> AgreementPart:
    return AgreementPart(
        n=len(pairs), sub_scores={name: _agreement(pairs, name) for name in SUB_SCORES}
    )


def _agreement(pairs: Sequence[tuple[JudgedRecord, SampleScore]], name: str) -> SubScoreAgreement:
    ours: list[float] = []
    theirs: list[float] = []
    systems: dict[str, tuple[list[float], list[float]]] = {}
    for record, score in pairs:
        value = getattr(score, name)
        if value is None:
            continue
        ours.append(value)
        theirs.append(record.reference[name])
        for system in (record.model, f"{record.model}/{record.task}"):
            mine, gpt = systems.setdefault(system, ([], []))
            mine.append(value)
            gpt.append(record.reference[name])
    means = {s: (sum(a) / len(a), sum(b) / len(b)) for s, (a, b) in sorted(systems.items())}
    return SubScoreAgreement(
        spearman=_spearman(ours, theirs),
        n=len(ours),
        judge_failures=len(pairs) - len(ours),
        system_means=means,
        models_ordered_alike=_models_ordered_alike(means),
        system_pairs_agreeing=_pairs_agreeing(means),
    )


def _spearman(a: Sequence[float], b: Sequence[float]) -> float | None:
    if len(a) < 3 or len(set(a)) < 2 or len(set(b)) < 2:
        return None
    value = float(spearmanr(a, b).statistic)
    return value if math.isfinite(value) else None


def _pairs_agreeing(means: dict[str, tuple[float, float]]) -> float | None:
    """Among systems at the same level (models; model and task), pairs ordered alike."""
    agree = total = 0
    for x, y in itertools.combinations(means, 2):
        if ("/" in x) != ("/" in y):
            continue
        total += 1
        agree += (means[x][0] - means[y][0]) * (means[x][1] - means[y][1]) > 0
    return agree / total if total else None


def _models_ordered_alike(means: dict[str, tuple[float, float]]) -> bool | None:
    models = {name: value for name, value in means.items() if "/" not in name}
    if len(models) < 2:
        return None
    ours = sorted(models, key=lambda name: models[name][0])
    theirs = sorted(models, key=lambda name: models[name][1])
    return ours == theirs
