"""Check a benchmark directory and report every problem in one pass."""

from __future__ import annotations

import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from radrbench.data.benchmark import (
    MANIFEST_FILE,
    SAMPLES_FILE,
    count_samples,
    describe_validation_error,
    read_manifest,
    sha256_file,
)
from radrbench.data.images import open_image
from radrbench.data.schema import Manifest, Sample
from radrbench.errors import DataError
from radrbench.mining.record import mining_problems


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a benchmark, located at ``where`` (usually file:line)."""

    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


@dataclass
class ValidationReport:
    bench_dir: Path
    samples: list[Sample] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    broken_images: set[str] = field(default_factory=set)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def counts(self) -> dict[str, dict[str, int]]:
        return count_samples(self.samples)


def _check_lines(path: Path, report: ValidationReport) -> dict[str, list[tuple[str, str]]]:
    """Parse every line; return image path → [(file:line, sample id)] for the image checks."""
    first_seen: dict[str, str] = {}
    image_users: dict[str, list[tuple[str, str]]] = {}
    with path.open(encoding="utf-8", errors="replace") as handle:
        for number, line in enumerate(handle, start=1):
            where = f"{path}:{number}"
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                report.problems.append(Problem(where, f"malformed JSON ({error.msg})"))
                continue
            if not isinstance(record, dict):
                report.problems.append(Problem(where, "line is not a JSON object"))
                continue
            try:
                sample = Sample.model_validate(record)
            except ValidationError as error:
                report.problems.append(Problem(where, describe_validation_error(error)))
                continue
            if sample.id in first_seen:
                report.problems.append(
                    Problem(where, f"duplicate id {sample.id!r} (first at {first_seen[sample.id]})")
                )
                continue
            first_seen[sample.id] = where
            report.samples.append(sample)
            report.problems += [Problem(where, message) for message in mining_problems(sample)]
            for ref in sample.images:
                image_users.setdefault(ref.path, []).append((where, sample.id))
    return image_users


def _image_problem(path: Path) -> str | None:
    try:
        open_image(path)
    except DataError as error:
        return error.message
    return None


def _check_images(
    root: Path,
    image_users: dict[str, list[tuple[str, str]]],
    report: ValidationReport,
    progress: Callable[[int], None] | None,
) -> None:
    paths = sorted(image_users)
    with ThreadPoolExecutor(max_workers=4) as pool:
        for done, (rel, problem) in enumerate(
            zip(paths, pool.map(lambda p: _image_problem(root / p), paths), strict=True), 1
        ):
            if progress:
                progress(done)
            if problem is None:
                continue
            users = image_users[rel]
            where, sample_id = users[0]
            also = f" (and {len(users) - 1} more samples)" if len(users) > 1 else ""
            report.problems.append(
                Problem(where, f"sample {sample_id!r}: image {rel}: {problem}{also}")
            )
            report.broken_images.add(rel)


def _check_manifest(bench_dir: Path, manifest: Manifest, report: ValidationReport) -> None:
    where = str(bench_dir / MANIFEST_FILE)
    if manifest.n_samples != len(report.samples):
        report.problems.append(
            Problem(
                where,
                f"n_samples is {manifest.n_samples} but {len(report.samples)} "
                "valid samples were read",
            )
        )
    for rel, expected in manifest.checksums.items():
        path = bench_dir / rel
        if rel.removeprefix(f"{manifest.image_root}/") in report.broken_images:
            continue
        if path.is_file() and sha256_file(path) != expected:
            report.problems.append(
                Problem(
                    where,
                    f"checksum of {rel} differs: the file changed after the manifest was written",
                )
            )


def validate_benchmark(
    bench_dir: Path,
    *,
    check_images: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> ValidationReport:
    """Validate ``bench_dir``; never raises for content problems, collects them instead.

    ``progress(done, total)`` is called while images are decoded.
    """
    report = ValidationReport(bench_dir=bench_dir)
    manifest: Manifest | None = None
    try:
        manifest = read_manifest(bench_dir)
    except DataError as error:
        report.problems.append(Problem(error.where or str(bench_dir), error.message))
    samples_path = bench_dir / SAMPLES_FILE
    if not samples_path.is_file():
        report.problems.append(Problem(str(samples_path), "file is missing"))
        return report
    image_users = _check_lines(samples_path, report)
    if check_images:
        root = (bench_dir / (manifest.image_root if manifest else "images")).resolve()
        total = len(image_users)
        _check_images(
            root, image_users, report, (lambda d: progress(d, total)) if progress else None
        )
    if manifest is not None:
        _check_manifest(bench_dir, manifest, report)
    return report
