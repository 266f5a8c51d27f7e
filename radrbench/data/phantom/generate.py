"""``generate_demo``: plan the studies, render and describe each one, write the benchmark."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from radrbench.data.benchmark import write_benchmark
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
    sample_anatomy,
    sample_change,
    sample_finding,
    sample_findings,
)
from radrbench.data.schema import ImageRef, ImageRole, Manifest, Sample, Source
from radrbench.errors import ConfigError

PHANTOM_VERSION = "1.0"
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

    @property
    def study_id(self) -> str:
        return f"{self.source}-{self.index:04d}"


def plan(studies: int, seed: int, image_root: Path) -> list[Job]:
    """Split ``studies`` into the main set (80%) and the RSNA- and SIIM-like sets (10% each)."""
    rng = np.random.default_rng([seed, 1_000_003])
    cross = max(1, round(studies * 0.1)) if studies >= 5 else 0
    main = studies - 2 * cross
    normal, temporal = max(1, round(0.25 * main)), max(1, round(0.35 * main))
    roles = (["normal"] * normal + ["temporal"] * temporal + ["abnormal"] * main)[:main]
    roles = [roles[int(i)] for i in rng.permutation(main)]
    test = set(rng.permutation(main)[: max(1, round(0.2 * main))].tolist()) if main > 1 else set()
    jobs = [
        Job("phantom", i + 1, role, "test" if i in test else "train", seed, image_root)
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
    sequence = np.random.SeedSequence([job.seed, SOURCE_CODES[job.source], job.index])
    return tuple(np.random.default_rng(child) for child in sequence.spawn(3))


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


def build(job: Job) -> list[Sample]:
    """Sample the truth of one study, write its image(s) and return its samples."""
    truth_rng, image_rng, text_rng = _rngs(job)
    study, change = _truth(job, truth_rng)
    image = _image(job, study, image_rng)
    if job.source != "phantom":
        return [cross_center(study, job.source, image, KIND_LABELS[_CROSS_CENTER[job.source]])]
    writer = Writer(text_rng)
    questions = StudyQuestions(study, job.split, [image], writer.report(study, change), writer)
    samples = questions.all()
    if change is not None:
        prior_image = _image(job, change.prior, image_rng, "prior")
        samples.append(questions.temporal(change, prior_image, writer.report(change.prior)))
    return samples


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
) -> Manifest:
    """Write the phantom benchmark (samples.jsonl, images/, manifest.json) into ``out_dir``.

    ``studies`` counts every radiograph series: 80% main set (every task family, temporal
    studies with a prior image), 10% each RSNA- and SIIM-like cross-center sets.
    ``progress`` is called with the number of studies finished. ``workers`` threads render
    in parallel (default: up to two); the output does not depend on it. Images left under
    ``images/phantom*`` by an earlier run are replaced.
    """
    if studies < 1:
        raise ConfigError(f"--studies must be at least 1 (got {studies})")
    image_root = out_dir / "images"
    for source in SOURCE_CODES:
        shutil.rmtree(image_root / source, ignore_errors=True)
        (image_root / source).mkdir(parents=True)
    jobs = plan(studies, seed, image_root)
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
        generator={"name": "phantom", "seed": seed, "studies": studies},
    )
