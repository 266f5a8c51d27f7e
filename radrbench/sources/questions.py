"""Questions of every task family from labelled studies, with the paper's sampling rules.

Seeded (``random.Random(seed)`` over studies sorted by id) and per split:

- binary: per finding, as many absent as present studies (``per_finding`` caps each side);
- single: one present finding and three absent ones, shuffled;
- multi: the present set (two findings or more) and three distractor sets of the same size,
  each with at least one present finding swapped for an absent one; ``multi_open`` asks the
  same without options (answer: the lower-case label list);
- anomaly: as many normal (No Finding) as abnormal studies;
- temporal (MS-CXR-T): stable / worsening / improving of one finding, prior and current image;
- RSNA / SIIM: binary pneumonia / pneumothorax, balanced.

Uncertain labels (-1) are never used as answers or distractors; a label is offered as absent
only while none of the labels it subsumes (CheXpert's hierarchy) is present.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from radrbench.data.phantom.questions import options_text, slug
from radrbench.data.schema import CHEXPERT_LABELS, Sample, TaskFamily
from radrbench.sources.readers import PROGRESSIONS, Progression, Study

NO_FINDING = "No Finding"
FINDINGS: tuple[str, ...] = tuple(label for label in CHEXPERT_LABELS if label != NO_FINDING)
_SUBSUMES: dict[str, frozenset[str]] = {
    "Lung Opacity": frozenset(
        {"Atelectasis", "Consolidation", "Edema", "Lung Lesion", "Pneumonia"}
    ),
    "Enlarged Cardiomediastinum": frozenset({"Cardiomegaly"}),
}
_NOT_ABNORMAL = frozenset({"Support Devices"})
_LETTERS = "ABCD"
YES_NO = {"A": "Yes", "B": "No"}
NORMAL_ABNORMAL = {"A": "Normal", "B": "Abnormal"}
MULTI_QUESTION = "Which findings are in this chest X-ray?"


@dataclass(frozen=True)
class SamplingOptions:
    """How many questions to draw; ``None`` takes every eligible study."""

    seed: int = 0
    per_finding: int | None = None
    """Binary: positives (and as many negatives) per finding at most."""
    per_task: int | None = None
    """Single, multi, multi_open, anomaly, temporal: samples per split at most."""


def present(study: Study) -> list[str]:
    return [label for label in FINDINGS if study.status(label) == "present"]


def absent(study: Study) -> list[str]:
    """Labels cleanly absent: not present, not uncertain, no subsumed label present."""
    found = set(present(study))
    return [
        label
        for label in FINDINGS
        if study.status(label) == "absent" and not _SUBSUMES.get(label, frozenset()) & found
    ]


def _take(rng: random.Random, items: Sequence[Any], limit: int | None) -> list[Any]:
    return list(items) if limit is None or len(items) <= limit else rng.sample(list(items), limit)


def _sample(study: Study, task: TaskFamily, suffix: str, **fields: Any) -> Sample:
    meta = {"study_id": study.study_id, "labels": study.labels, **study.meta}
    return Sample(
        id=f"{study.source}-{study.study_id}-{task}{suffix}",
        source=study.source,
        task=task,
        split=study.split,
        images=[study.image],
        report=study.report,
        meta=meta,
        **fields,
    )


def _shuffled(rng: random.Random, texts: list[str], answer: str) -> tuple[dict[str, str], str]:
    order = list(texts)
    rng.shuffle(order)
    options = dict(zip(_LETTERS, order, strict=False))
    return options, next(k for k, v in options.items() if v == answer)


def binary(study: Study, label: str) -> Sample:
    letter = "A" if study.status(label) == "present" else "B"
    return _sample(
        study,
        "binary",
        f"-{slug(label)}",
        question=options_text(f"Does this chest X-ray show {label.lower()}?", YES_NO),
        options=YES_NO,
        answer=letter,
        answer_text=YES_NO[letter],
        findings=[label],
    )


def binary_samples(
    studies: Sequence[Study], labels: Iterable[str], rng: random.Random, limit: int | None
) -> list[Sample]:
    samples = []
    for label in labels:
        positives = [s for s in studies if s.status(label) == "present"]
        negatives = [s for s in studies if label in absent(s)]
        n = min(len(positives), len(negatives), limit if limit is not None else len(positives))
        for study in [*rng.sample(positives, n), *rng.sample(negatives, n)]:
            samples.append(binary(study, label))
    return samples


def single(study: Study, rng: random.Random) -> Sample:
    answer = rng.choice(present(study))
    options, letter = _shuffled(rng, [answer, *rng.sample(absent(study), 3)], answer)
    return _sample(
        study,
        "single",
        "",
        question=options_text("Which finding is in this chest X-ray?", options),
        options=options,
        answer=letter,
        answer_text=answer,
        findings=[answer],
    )


def distractor_sets(
    truth: Sequence[str], pool: Sequence[str], rng: random.Random
) -> list[list[str]] | None:
    """Three distinct sets of ``len(truth)`` labels, each swapping in absent labels."""
    sets: list[list[str]] = []
    for _ in range(200):
        swaps = rng.randint(1, min(len(truth), len(pool)))
        kept = rng.sample(list(truth), len(truth) - swaps)
        candidate = sorted([*kept, *rng.sample(list(pool), swaps)], key=FINDINGS.index)
        if candidate not in sets:
            sets.append(candidate)
        if len(sets) == 3:
            return sets
    return None


def multi(study: Study, rng: random.Random) -> tuple[Sample, Sample] | None:
    truth = present(study)
    sets = distractor_sets(truth, absent(study), rng)
    if sets is None:
        return None
    answer = ", ".join(truth)
    options, letter = _shuffled(rng, [answer, *(", ".join(s) for s in sets)], answer)
    open_answer = ", ".join(label.lower() for label in truth)
    choice = _sample(
        study,
        "multi",
        "",
        question=options_text(MULTI_QUESTION, options),
        options=options,
        answer=letter,
        answer_text=answer,
        findings=truth,
    )
    open_ = _sample(
        study,
        "multi_open",
        "",
        question=MULTI_QUESTION,
        answer=open_answer,
        answer_text=open_answer,
        findings=truth,
    )
    return choice, open_


def anomaly(study: Study) -> Sample:
    abnormal = [label for label in present(study) if label not in _NOT_ABNORMAL]
    letter = "B" if abnormal else "A"
    return _sample(
        study,
        "anomaly",
        "",
        question=options_text("Is this chest X-ray normal or abnormal?", NORMAL_ABNORMAL),
        options=NORMAL_ABNORMAL,
        answer=letter,
        answer_text=NORMAL_ABNORMAL[letter],
        findings=abnormal or [NO_FINDING],
    )


def _normal(study: Study) -> bool:
    return study.status(NO_FINDING) == "present" and not any(
        study.status(label) != "absent" for label in FINDINGS if label not in _NOT_ABNORMAL
    )


def _abnormal(study: Study) -> bool:
    return any(label not in _NOT_ABNORMAL for label in present(study))


def study_samples(studies: Sequence[Study], options: SamplingOptions) -> list[Sample]:
    """Binary, single, multi, multi_open and anomaly questions of labelled studies."""
    rng = random.Random(options.seed)
    cap = options.per_task
    samples: list[Sample] = []
    for split in sorted({s.split for s in studies}):
        pool = sorted((s for s in studies if s.split == split), key=lambda s: s.study_id)
        samples += binary_samples(pool, FINDINGS, rng, options.per_finding)
        eligible = [s for s in pool if present(s) and len(absent(s)) >= 3]
        samples += [single(s, rng) for s in _take(rng, eligible, cap)]
        eligible = [s for s in pool if len(present(s)) >= 2 and absent(s)]
        pairs = [pair for s in _take(rng, eligible, cap) if (pair := multi(s, rng))]
        samples += [sample for pair in pairs for sample in pair]
        normal = [s for s in pool if _normal(s)]
        abnormal = [s for s in pool if _abnormal(s)]
        n = min(len(normal), len(abnormal), cap // 2 if cap is not None else len(normal))
        samples += [anomaly(s) for s in [*rng.sample(normal, n), *rng.sample(abnormal, n)]]
    return samples


def cross_center_samples(studies: Sequence[Study], options: SamplingOptions) -> list[Sample]:
    """RSNA / SIIM: balanced binary questions about the one labelled finding."""
    rng = random.Random(options.seed)
    pool = sorted(studies, key=lambda s: s.study_id)
    labels = sorted({label for s in pool for label in s.labels})
    return binary_samples(pool, labels, rng, options.per_finding)


def temporal(pair: Progression) -> Sample:
    options = dict(zip("ABC", PROGRESSIONS, strict=True))
    letter = "ABC"[PROGRESSIONS.index(pair.progression)]
    question = (
        "Given the prior and the current chest X-ray of the same patient, identify the "
        f"progression of {pair.finding.lower()}."
    )
    return Sample(
        id=f"ms-cxr-t-{pair.study_id}-temporal-{slug(pair.finding)}",
        source="ms-cxr-t",
        task="temporal",
        split="test",
        images=[pair.prior, pair.current],
        question=options_text(question, options),
        options=options,
        answer=letter,
        answer_text=pair.progression,
        findings=[pair.finding],
        report=pair.report,
        prior_report=pair.prior_report,
        meta={"study_id": pair.study_id, "progression": pair.progression},
    )


def temporal_samples(pairs: Sequence[Progression], options: SamplingOptions) -> list[Sample]:
    rng = random.Random(options.seed)
    ordered = sorted(pairs, key=lambda p: (p.study_id, p.finding))
    return [temporal(pair) for pair in _take(rng, ordered, options.per_task)]
