"""``phantom_cases``: phantom reports and chains with their ground truth, for metric suites.

Each case is one main-set study: its report, one of its questions with the reasoning chain
that answers it, and the truth behind the text, down to each sentence's claims. No pixels
are rendered, so hundreds of cases take well under a second each.

>>> case = phantom_cases("archive", n=1, seed=0)[0]
>>> case.chain[0], case.chain_claims[0]    # a chain step and what it states
>>> [(c.label, c.status, c.change) for c in case.findings]   # the report's findings
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from radrbench.data.phantom.claims import Claim, ReportText, Statement
from radrbench.data.phantom.generate import REPORT_STYLES, Job, ReportStyle, compose, study_truth
from radrbench.data.phantom.truth import Change, Study
from radrbench.data.schema import ImageRef, Sample
from radrbench.errors import ConfigError

_ROLES = ("normal", "temporal", "abnormal")
_ROLE_P = (0.2, 0.4, 0.4)


@dataclass(frozen=True)
class PhantomCase:
    """One study's report and one question with its chain, with the truth behind both.

    ``findings`` are the report's claims, one per finding (label, status, location, change);
    ``report_text`` has them sentence by sentence; ``chain_claims[i]`` are the claims of
    ``chain[i]``. ``labels`` are the CheXpert labels the question is about. ``study`` and
    ``change`` are the structured truth the texts were written from.
    """

    id: str
    style: str
    task: str
    question: str
    options: dict[str, str] | None
    answer: str
    answer_text: str
    labels: tuple[str, ...]
    report: str
    report_text: ReportText
    chain: tuple[str, ...]
    chain_claims: tuple[tuple[Claim, ...], ...]
    findings: tuple[Claim, ...]
    study: Study
    change: Change | None
    prior_report: str | None
    sample: Sample

    @property
    def statements(self) -> tuple[Statement, ...]:
        """The report's sentences with their claims."""
        return self.report_text.statements


def phantom_cases(style: ReportStyle = "archive", n: int = 100, seed: int = 0) -> list[PhantomCase]:
    """``n`` cases written in ``style`` (``openi``, ``archive`` or ``mix``), same for a seed.

    Studies are normal (20%), temporal (40%, asked about the change) or abnormal (40%); each
    case takes one question of its study (a temporal study's temporal question).
    """
    if style not in REPORT_STYLES:
        raise ConfigError(f"report style must be one of {', '.join(REPORT_STYLES)} (got {style!r})")
    rng = np.random.default_rng([seed, 1_000_003, 1 + REPORT_STYLES.index(style)])
    cases = []
    for index in range(1, n + 1):
        role = _ROLES[int(rng.choice(len(_ROLES), p=_ROLE_P))]
        job = Job("phantom", index, role, "test", seed, Path("."), style)
        study, change, written = study_truth(job)
        image = ImageRef(path=f"phantom/{study.study_id}.png", role="current", view="PA")
        prior = ImageRef(path=f"phantom/{study.study_id}-prior.png", role="prior", view="PA")
        composed = compose(job, study, change, written, [image], prior)
        samples = composed.samples
        sample = samples[-1] if change is not None else samples[int(rng.integers(len(samples)))]
        chain = tuple(sample.reasoning or ())
        notes = composed.writer.notes
        cases.append(
            PhantomCase(
                id=sample.id,
                style=written,
                task=sample.task,
                question=sample.question,
                options=sample.options,
                answer=sample.answer,
                answer_text=sample.answer_text,
                labels=tuple(sample.findings),
                report=composed.report.text,
                report_text=composed.report,
                chain=chain,
                chain_claims=tuple(notes.claims.get(step, ()) for step in chain),
                findings=composed.report.findings,
                study=study,
                change=change,
                prior_report=sample.prior_report,
                sample=sample,
            )
        )
    return cases
