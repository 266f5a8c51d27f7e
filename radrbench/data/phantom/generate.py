"""``generate_demo``: plan the studies, render and describe each one, write the benchmark."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args

import numpy as np

from radrbench.data.benchmark import write_benchmark
from radrbench.data.phantom.archive import ArchiveWriter
from radrbench.data.phantom.claims import ReportText
from radrbench.data.phantom.png import save_png
from radrbench.data.phantom.questions import StudyQuestions, cross_center
from radrbench.data.phantom.render import SCANNERS, prepare, render
from radrbench.data.phantom.text import Writer
from radrbench.data.phantom.truth import (
    KIND_LABELS,
    TEMPORAL_KINDS,
    Change,
    Finding,
    Study,
    add_resolved,
    sample_anatomy,
    sample_change,
    sample_finding,
    sample_findings,
)
from radrbench.data.schema import ImageRef, ImageRole, Manifest, Sample, Source
from radrbench.errors import ConfigError

PHANTOM_VERSION = "1.0"
ReportStyle = Literal["openi", "archive", "mix"]
REPORT_STYLES: tuple[str, ...] = get_args(ReportStyle)
_RESOLVED_P = 0.35  # archive style: share of temporal studies whose prior shows a resolved finding
SOURCE_CODES: dict[Source, int] = {"phantom": 0, "phantom-rsna": 1, "phantom-siim": 2}
_CROSS_CENTER: dict[str, str] = {"phantom-rsna": "pneumonia", "phantom-siim": "pneumothorax"}


@dataclass(frozen=True)
class Job:
    """One study to generate: everything about it follows from these fields."""

    source: Source
    index: int  # 1-based within the source
    role: str  # main set: normal / abnormal / temporal; cross-center: positive / negative
    split: str
    seed: int
    image_root: Path
    report_style: ReportStyle = "openi"

    @property
    def study_id(self) -> str:
        return f"{self.source}-{self.index:04d}"


def plan(
    studies: int, seed: int, image_root: Path, report_style: ReportStyle = "openi"
) -> list[Job]:
    """Split ``studies`` into the main set (80%) and the RSNA- and SIIM-like sets (10% each)."""
    rng = np.random.default_rng([seed, 1_000_003])
    cross = max(1, round(studies * 0.1)) if studies >= 5 else 0
    main = studies - 2 * cross
    normal, temporal = max(1, round(0.25 * main)), max(1, round(0.35 * main))
    roles = (["normal"] * normal + ["temporal"] * temporal + ["abnormal"] * main)[:main]
    roles = [roles[int(i)] for i in rng.permutation(main)]
    test = set(rng.permutation(main)[: max(1, round(0.2 * main))].tolist()) if main > 1 else set()
    jobs = [
        Job(
            "phantom", i + 1, role, "test" if i in test else "train", seed, image_root, report_style
        )
        for i, role in enumerate(roles)
    ]
    for source in ("phantom-rsna", "phantom-siim"):
        labels = (["positive", "negative"] * cross)[:cross]
        labels = [labels[int(i)] for i in rng.permutation(cross)]
        jobs += [
            Job(source, n + 1, role, "test", seed, image_root) for n, role in enumerate(labels)
        ]
    return jobs


def _rngs(job: Job) -> tuple[np.random.Generator, ...]:
    """Truth, image, text and style generators (the first three as before styles existed)."""
    sequence = np.random.SeedSequence([job.seed, SOURCE_CODES[job.source], job.index])
    return tuple(np.random.default_rng(child) for child in sequence.spawn(4))


def _image(
    job: Job, study: Study, rng: np.random.Generator, role: ImageRole = "current"
) -> ImageRef:
    path = f"{job.source}/{study.study_id}.png"
    save_png(job.image_root / path, render(study, SCANNERS[job.source], rng))
    return ImageRef(path=path, role=role, view="PA")


def _truth(job: Job, rng: np.random.Generator) -> tuple[Study, Change | None]:
    """The study's structured truth and, for a temporal study, how it changed since the prior."""
    anatomy = sample_anatomy(rng)
    patient = f"{job.source}-p{job.index:04d}"

    def study(findings: tuple[Finding, ...]) -> Study:
        return Study(job.study_id, patient, anatomy, findings)

    if job.role == "temporal":
        kind = TEMPORAL_KINDS[int(rng.integers(len(TEMPORAL_KINDS)))]
        current = study(sample_findings(rng, sample_finding(kind, rng)))
        return sample_change(rng, current, kind, f"{job.study_id}-prior")
    if job.role == "abnormal":
        return study(sample_findings(rng)), None
    if job.role == "positive":
        return study((sample_finding(_CROSS_CENTER[job.source], rng),)), None
    if job.role == "negative" and rng.random() < 0.35:  # another finding, not the asked one
        other = ("cardiomegaly", "effusion", "devices", "lesion")[int(rng.integers(4))]
        return study((sample_finding(other, rng),)), None
    return study(()), None


@dataclass(frozen=True)
class Composed:
    """The texts of one main-set study: its samples, its reports, the writer's notes."""

    style: str
    study: Study
    change: Change | None
    samples: list[Sample]
    report: ReportText
    prior_report: ReportText | None
    writer: Writer


def study_truth(job: Job) -> tuple[Study, Change | None, str]:
    """The study's truth, its change since the prior (temporal) and its report style."""
    truth_rng, _, _, style_rng = _rngs(job)
    study, change = _truth(job, truth_rng)
    style: str = job.report_style
    if style == "mix":
        style = "archive" if style_rng.random() < 0.5 else "openi"
    if style == "archive" and change is not None and style_rng.random() < _RESOLVED_P:
        change = add_resolved(style_rng, study, change)
    return study, change, style


def compose(
    job: Job,
    study: Study,
    change: Change | None,
    style: str,
    images: list[ImageRef],
    prior_image: ImageRef | None = None,
) -> Composed:
    """Report, reasoning chains and questions of a main-set study (no pixels)."""
    text_rng = _rngs(job)[2]
    writer = ArchiveWriter(text_rng) if style == "archive" else Writer(text_rng)
    report = writer.report_text(study, change)
    questions = StudyQuestions(study, job.split, images, report.text, writer)
    samples = questions.all()
    prior_report = None
    if change is not None:
        assert prior_image is not None
        prior_report = writer.report_text(change.prior)
        samples.append(questions.temporal(change, prior_image, prior_report.text))
    if job.report_style != "openi":  # the default demo's samples stay as they always were
        samples = [_annotated(s, style, report, prior_report) for s in samples]
    return Composed(style, study, change, samples, report, prior_report, writer)


def _annotated(
    sample: Sample, style: str, report: ReportText, prior_report: ReportText | None
) -> Sample:
    meta = dict(sample.meta)
    meta["report_style"] = style
    meta["report_findings"] = [c.to_dict() for c in report.findings]
    if sample.task == "temporal" and prior_report is not None:
        meta["prior_report_findings"] = [c.to_dict() for c in prior_report.findings]
    return sample.model_copy(update={"meta": meta})


def build(job: Job) -> list[Sample]:
    """Sample the truth of one study, write its image(s) and return its samples."""
    _, image_rng, _, _ = _rngs(job)
    study, change, style = study_truth(job)
    image = _image(job, study, image_rng)
    if job.source != "phantom":
        return [cross_center(study, job.source, image, KIND_LABELS[_CROSS_CENTER[job.source]])]
    prior_image = _image(job, change.prior, image_rng, "prior") if change is not None else None
    return compose(job, study, change, style, [image], prior_image).samples


def _results(jobs: list[Job], workers: int) -> Iterator[list[Sample]]:
    """Build the jobs in order; with ``workers`` > 1 on threads (NumPy and zlib release the GIL)."""
    if workers <= 1:
        yield from map(build, jobs)
        return
    for source in {job.source for job in jobs}:  # build each texture bank once, up front
        prepare(SCANNERS[source])
    pool = ThreadPoolExecutor(workers)
    try:
        yield from pool.map(build, jobs)
    finally:  # on an error or Ctrl-C, drop the queued studies instead of finishing them
        pool.shutdown(cancel_futures=True)


def generate_demo(
    out_dir: Path,
    *,
    studies: int = 120,
    seed: int = 0,
    progress: Callable[[int], None] | None = None,
    workers: int | None = None,
    report_style: ReportStyle = "openi",
) -> Manifest:
    """Write the phantom benchmark (samples.jsonl, images/, manifest.json) into ``out_dir``.

    ``studies`` counts every radiograph series: 80% main set (every task family, temporal
    studies with a prior image), 10% each RSNA- and SIIM-like cross-center sets.
    ``progress`` is called with the number of studies finished. ``workers`` threads render
    in parallel (default: up to two); the output does not depend on it. Images left under
    ``images/phantom*`` by an earlier run are replaced.

    ``report_style`` chooses how reports and chains are written: ``openi`` (the default,
    Open-i-like), ``archive`` (like large hospital archives such as MIMIC-CXR: headings,
    ``___`` blanks, comparisons with the prior, tubes and lines, hedges, terse fragments; a
    third of temporal priors also show a finding that has since resolved), or ``mix`` (each
    study drawn at random). With a style other than ``openi`` every sample's meta records
    its ``report_style`` and the report's claims (``report_findings``: finding, status,
    location, change).
    """
    if studies < 1:
        raise ConfigError(f"--studies must be at least 1 (got {studies})")
    if report_style not in REPORT_STYLES:
        raise ConfigError(
            f"report style must be one of {', '.join(REPORT_STYLES)} (got {report_style!r})"
        )
    image_root = out_dir / "images"
    for source in SOURCE_CODES:
        shutil.rmtree(image_root / source, ignore_errors=True)
        (image_root / source).mkdir(parents=True)
    jobs = plan(studies, seed, image_root, report_style)
    if workers is None:
        workers = min(2, os.cpu_count() or 1)
    samples: list[Sample] = []
    for done, result in enumerate(_results(jobs, workers), start=1):
        samples += result
        if progress is not None:
            progress(done)
    return write_benchmark(
        out_dir,
        samples,
        name="radrbench-phantom",
        version=PHANTOM_VERSION,
        description="Synthetic phantom chest radiographs with reports, reasoning chains and "
        "questions for every task family (demo data, not for clinical use).",
        generator={"name": "phantom", "seed": seed, "studies": studies}
        | ({"report_style": report_style} if report_style != "openi" else {}),
    )
