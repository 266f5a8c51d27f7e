"""Samples of every task family for one study, each with its own reasoning chain."""

from __future__ import annotations

from typing import Any

from radrbench.data.phantom.claims import Claim, absent, claims_of, general
from radrbench.data.phantom.text import Writer, change_of, describe, term
from radrbench.data.phantom.truth import (
    KIND_LABELS,
    LABEL_KINDS,
    MAIN_KINDS,
    NO_FINDING,
    PROGRESSIONS,
    Change,
    Study,
)
from radrbench.data.schema import ImageRef, Sample, Source, TaskFamily

MAIN_LABELS: tuple[str, ...] = tuple(sorted(KIND_LABELS[k] for k in MAIN_KINDS))
# An absent label is not offered as a clean negative while a label it subsumes is present.
_SUBSUMES: dict[str, frozenset[str]] = {
    "Lung Opacity": frozenset({"Atelectasis", "Consolidation", "Edema", "Lung Lesion"}),
}
_LETTERS = "ABCD"


def slug(label: str) -> str:
    return label.lower().replace(" ", "_")


def options_text(question: str, options: dict[str, str]) -> str:
    """The question followed by its options, in the paper's layout."""
    lines = [f"{letter}) {text}" for letter, text in options.items()]
    return question + "\nOptions:\n" + "\n".join(lines)


def negatives(study: Study) -> list[str]:
    """Labels that are cleanly absent from ``study``."""
    present = set(study.labels)
    return [
        label
        for label in MAIN_LABELS
        if label not in present and not _SUBSUMES.get(label, frozenset()) & present
    ]


class StudyQuestions:
    """Builds the samples of one main-set study; ``writer`` drives every random choice."""

    def __init__(
        self, study: Study, split: str, images: list[ImageRef], report: str, writer: Writer
    ) -> None:
        self.study, self.split, self.images, self.report = study, split, images, report
        self.writer = writer
        self.rng = writer.rng

    def _sample(self, task: TaskFamily, suffix: str, **fields: Any) -> Sample:
        meta = self.study.to_meta() | fields.pop("meta", {})
        return Sample(
            id=f"{self.study.study_id}-{task}{suffix}",
            source="phantom",
            task=task,
            split=self.split,
            images=fields.pop("images", self.images),
            report=self.report,
            meta=meta,
            **fields,
        )

    def _claims(self, labels: list[str]) -> tuple[Claim, ...]:
        """The claims naming the study's findings of ``labels``."""
        found = (self.study.finding(LABEL_KINDS[label]) for label in labels)
        return tuple(c for f in found if f is not None for c in claims_of(f))

    def _conclude(self, steps: list[str], ending: str) -> list[str]:
        start = [self.writer.quality()] if len(steps) < 4 and self.rng.random() < 0.5 else []
        return start + steps + [ending]

    def _shuffled(self, texts: list[str], answer: str) -> tuple[dict[str, str], str]:
        order = [texts[int(i)] for i in self.rng.permutation(len(texts))]
        options = dict(zip(_LETTERS, order, strict=False))
        letter = next(k for k, v in options.items() if v == answer)
        return options, letter

    def binary(self, label: str) -> Sample:
        kind = LABEL_KINDS[label]
        positive = label in self.study.labels
        options = {"A": "Yes", "B": "No"}
        letter = "A" if positive else "B"
        steps = self.writer.survey(self.study, kind, 3)
        if positive:
            ending = self.writer.note(
                f"Therefore, the image shows {term(label)}, so the answer is A) Yes.",
                *self._claims([label]),
            )
        else:
            ending = self.writer.note(
                f"Therefore, there is no evidence of {term(label)}, so the answer is B) No.",
                absent(kind),
            )
        return self._sample(
            "binary",
            f"-{slug(label)}",
            question=options_text(f"Does this chest X-ray show {term(label)}?", options),
            options=options,
            answer=letter,
            answer_text=options[letter],
            findings=[label],
            reasoning=self._conclude(steps, ending),
        )

    def single(self) -> Sample:
        labels = self.study.labels
        answer = labels[int(self.rng.integers(len(labels)))]
        pool = negatives(self.study) + ([NO_FINDING] if answer != NO_FINDING else [])
        distractors = [pool[int(i)] for i in self.rng.choice(len(pool), 3, replace=False)]
        options, letter = self._shuffled([answer, *distractors], answer)
        kinds = [LABEL_KINDS[t] for t in options.values() if t != NO_FINDING]
        steps = [self.writer.observe(kind, self.study) for kind in kinds]
        if answer == NO_FINDING:
            ending = self.writer.note(
                f"No region shows an abnormality, so the answer is {letter}) {NO_FINDING}.",
                general("abnormality"),
            )
        else:
            ending = self.writer.note(
                f"Of the options only {term(answer)} is present, so the answer is "
                f"{letter}) {answer}.",
                *self._claims([answer]),
            )
        return self._sample(
            "single",
            "",
            question=options_text("Which finding is in this chest X-ray?", options),
            options=options,
            answer=letter,
            answer_text=answer,
            findings=[answer],
            reasoning=self._conclude(steps, ending),
        )

    def _distractor_sets(self) -> list[list[str]]:
        truth = [] if self.study.labels == [NO_FINDING] else self.study.labels
        absent = negatives(self.study)
        sets: list[list[str]] = []
        while len(sets) < 3:
            candidate = list(truth)
            move = int(self.rng.integers(3))
            if move == 0 and len(candidate) > 1:
                candidate.pop(int(self.rng.integers(len(candidate))))
            else:
                if move == 1 and candidate:
                    candidate.pop(int(self.rng.integers(len(candidate))))
                candidate.append(absent[int(self.rng.integers(len(absent)))])
            candidate = sorted(set(candidate)) or [NO_FINDING]
            if candidate != self.study.labels and candidate not in sets:
                sets.append(candidate)
        return sets

    def _multi_steps(self, offered: set[str]) -> list[str]:
        present = [f.kind for f in self.study.findings]
        absent = [
            LABEL_KINDS[t] for t in sorted(offered - set(self.study.labels)) if t != NO_FINDING
        ]
        if not present:
            absent += [k for k in ("effusion", "pneumothorax", "cardiomegaly") if k not in absent]
        kinds = present[:4] + absent[: max(1, 5 - len(present))]
        return [self.writer.observe(kind, self.study) for kind in kinds[:6]]

    def multi(self) -> tuple[Sample, Sample]:
        """The multiple-choice and the open (no options) multi-finding samples."""
        answer = ", ".join(self.study.labels)
        sets = self._distractor_sets()
        options, letter = self._shuffled([answer, *(", ".join(s) for s in sets)], answer)
        offered = {label for s in sets for label in s}
        if self.study.findings:
            listing = "the findings are " + " and ".join(term(t) for t in self.study.labels)
            listed = self._claims(self.study.labels)
        else:
            listing = "no region shows an abnormality"
            listed = (general("abnormality"),)
        question = "Which findings are in this chest X-ray?"
        open_answer = ", ".join(term(label) for label in self.study.labels)
        choice = self._sample(
            "multi",
            "",
            question=options_text(question, options),
            options=options,
            answer=letter,
            answer_text=answer,
            findings=self.study.labels,
            reasoning=self._conclude(
                self._multi_steps(offered),
                self.writer.note(
                    f"Taken together, {listing}, so the answer is {letter}) {answer}.", *listed
                ),
            ),
        )
        open_ = self._sample(
            "multi_open",
            "",
            question=question,
            answer=open_answer,
            answer_text=open_answer,
            findings=self.study.labels,
            reasoning=self._conclude(
                self._multi_steps(offered),
                self.writer.note(f"Taken together, {listing}: {open_answer}.", *listed),
            ),
        )
        return choice, open_

    def anomaly(self) -> Sample:
        options = {"A": "Normal", "B": "Abnormal"}
        normal = not self.study.findings
        steps = self.writer.survey(
            self.study, None, 4 if normal else min(5, len(self.study.findings) + 1)
        )
        if normal:
            ending = self.writer.note(
                "Every region is normal, so the chest X-ray is normal and the answer is A) Normal.",
                general("abnormality"),
            )
        else:
            names = " and ".join(describe(f) for f in self.study.findings)
            ending = self.writer.note(
                f"Because of the {names}, the chest X-ray is abnormal; the answer is B) Abnormal.",
                *(c for f in self.study.findings for c in claims_of(f)),
            )
        letter = "A" if normal else "B"
        return self._sample(
            "anomaly",
            "",
            question=options_text("Is this chest X-ray normal or abnormal?", options),
            options=options,
            answer=letter,
            answer_text=options[letter],
            findings=self.study.labels,
            reasoning=self._conclude(steps, ending),
        )

    def temporal(self, change: Change, prior_image: ImageRef, prior_report: str) -> Sample:
        label = KIND_LABELS[change.kind]
        options = dict(zip("ABC", PROGRESSIONS, strict=True))
        letter = "ABC"[PROGRESSIONS.index(change.progression)]
        now = self.study.finding(change.kind)
        assert now is not None
        steps = [
            self.writer.prior_step(change),
            self.writer.current_step(change, self.study),
            self.writer.comparison_step(change, self.study),
        ]
        others = [f for f in self.study.findings if f.kind != change.kind][:1]
        steps += [self.writer.unchanged_step(f) for f in others]
        ending = self.writer.note(
            f"Therefore the {term(label)} is {change.progression}; the answer is "
            f"{letter}) {change.progression}.",
            *claims_of(now, change=change_of(change)),
        )
        question = (
            "Given the prior and the current chest X-ray of the same patient, identify the "
            f"progression of {term(label)}."
        )
        return self._sample(
            "temporal",
            f"-{slug(label)}",
            question=options_text(question, options),
            options=options,
            answer=letter,
            answer_text=change.progression,
            findings=[label],
            reasoning=[*steps, ending],
            images=[prior_image, *self.images],
            prior_report=prior_report,
            meta={
                "progression": change.progression,
                "prior": change.prior.to_meta(),
            },
        )

    def all(self) -> list[Sample]:
        """Binary (a positive if any, a negative), single, multi, multi_open and anomaly."""
        samples = []
        labels = [] if self.study.labels == [NO_FINDING] else self.study.labels
        if labels:
            samples.append(self.binary(labels[int(self.rng.integers(len(labels)))]))
        absent = negatives(self.study)
        samples.append(self.binary(absent[int(self.rng.integers(len(absent)))]))
        return [*samples, self.single(), *self.multi(), self.anomaly()]


def cross_center(study: Study, source: Source, image: ImageRef, label: str) -> Sample:
    """Binary sample of an RSNA/SIIM-like set: no report, no reasoning."""
    options = {"A": "Yes", "B": "No"}
    letter = "A" if label in study.labels else "B"
    return Sample(
        id=f"{study.study_id}-binary-{slug(label)}",
        source=source,
        task="binary",
        split="test",
        images=[image],
        question=options_text(f"Does this chest X-ray show {term(label)}?", options),
        options=options,
        answer=letter,
        answer_text=options[letter],
        findings=[label],
        meta=study.to_meta(),
    )
