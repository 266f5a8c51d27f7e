"""``radrbench build``: one source dataset in its native layout → a benchmark directory."""

from __future__ import annotations

from pathlib import Path

from radrbench.data.benchmark import write_benchmark
from radrbench.data.schema import Manifest, Sample
from radrbench.errors import ConfigError, DataError
from radrbench.sources.questions import (
    SamplingOptions,
    cross_center_samples,
    study_samples,
    temporal_samples,
)
from radrbench.sources.readers import (
    BUILD_SOURCES,
    read_chexpert,
    read_mimic,
    read_ms_cxr_t,
    read_rsna,
    read_siim,
)

BUILD_VERSION = "1"
MISSING_SHOWN = 3


def source_samples(
    source: str, root: Path, options: SamplingOptions, *, labels: Path | None = None
) -> list[Sample]:
    """The questions of one source; ``labels`` is the CheXpert Plus report table (chexpert)
    or the progression CSV (ms-cxr-t) when it is not under ``root``."""
    if not root.is_dir():
        raise DataError("the source root is not a directory", where=str(root))
    if source == "mimic-cxr":
        return study_samples(read_mimic(root), options)
    if source == "chexpert":
        return study_samples(read_chexpert(root, labels), options)
    if source == "ms-cxr-t":
        return temporal_samples(read_ms_cxr_t(root, labels), options)
    if source == "rsna":
        return cross_center_samples(read_rsna(root), options)
    if source == "siim":
        return cross_center_samples(read_siim(root), options)
    raise ConfigError(
        f"unknown source {source!r}", where="--source", hint=f"use one of {BUILD_SOURCES}"
    )


def build_benchmark(
    source: str,
    root: Path,
    out: Path,
    options: SamplingOptions,
    *,
    labels: Path | None = None,
    skip_missing: bool = False,
) -> Manifest:
    """Write the benchmark of ``source`` to ``out``; images stay under ``root`` (never copied).

    Samples whose images are missing fail the build in one message, or are left out with
    ``skip_missing``.
    """
    samples = source_samples(source, root, options, labels=labels)
    missing = sorted(
        {ref.path for s in samples for ref in s.images if not (root / ref.path).is_file()}
    )
    if missing and not skip_missing:
        shown = ", ".join(missing[:MISSING_SHOWN])
        more = f" and {len(missing) - MISSING_SHOWN} more" if len(missing) > MISSING_SHOWN else ""
        raise DataError(
            f"{len(missing)} image files are missing: {shown}{more}",
            where=str(root),
            hint="check --root, or pass --skip-missing to leave those samples out",
        )
    gone = set(missing)
    samples = [s for s in samples if not any(ref.path in gone for ref in s.images)]
    if not samples:
        raise DataError(
            f"no {source} questions could be built",
            where=str(root),
            hint="see 'radrbench build --help' for the expected files",
        )
    return write_benchmark(
        out,
        samples,
        name=f"radrbench-{source}",
        version=BUILD_VERSION,
        description=f"Built from {source} by radrbench build (seed {options.seed})",
        image_root=str(root.resolve()),
        generator={
            "builder": "radrbench build",
            "source": source,
            "seed": options.seed,
            "per_finding": options.per_finding,
            "per_task": options.per_task,
        },
    )
