"""Benchmark data for lm-eval tasks: which directory, which samples, as ``datasets`` rows."""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from radrbench.data.benchmark import (
    image_root,
    load_samples,
    read_manifest,
    row_features,
    sample_to_row,
)
from radrbench.data.schema import Sample
from radrbench.errors import ConfigError
from radrbench.tasks.prompts import build_prompt, get_profile

if TYPE_CHECKING:
    import datasets

DATA_DIR_ENV = "RADRBENCH_DATA"


def resolve_data_dir(data_dir: str | os.PathLike[str] | None, source: str) -> Path:
    """The benchmark directory a task reads: explicit, ``$RADRBENCH_DATA``, or the demo set."""
    chosen = data_dir or os.environ.get(DATA_DIR_ENV)
    if chosen:
        return Path(chosen).expanduser().resolve()
    if source.startswith("phantom"):
        from radrbench.data.demo_cache import default_demo_dir

        return default_demo_dir()
    raise ConfigError(
        f"no data directory for the official {source} tasks",
        hint="import the official release with 'radrbench data import-official' and pass "
        '--data DIR to radrbench eval, or --metadata \'{"data_dir": "DIR"}\' to lm-eval',
    )


@cache
def _samples(bench_dir: Path, mtime_ns: int) -> tuple[Sample, ...]:
    return tuple(load_samples(bench_dir))


def task_samples(bench_dir: Path, source: str, family: str, split: str) -> list[Sample]:
    """Samples of one task, in file order (cached per directory and file version)."""
    samples_file = bench_dir / "samples.jsonl"
    mtime = samples_file.stat().st_mtime_ns if samples_file.exists() else 0
    return [
        s
        for s in _samples(bench_dir, mtime)
        if s.source == source and s.task == family and s.split == split
    ]


def task_row(
    sample: Sample, root: Path, profile_name: str, judge: str, images: str
) -> dict[str, Any]:
    """A ``datasets`` row: the sample, its prompt, absolute image files, RadRScore judge and
    how ``doc_to_image`` hands images over."""
    row = sample_to_row(sample)
    row["prompt"] = build_prompt(sample, get_profile(profile_name))
    row["image_files"] = [str(root / ref.path) for ref in sample.ordered_images()]
    row["judge"] = judge
    row["image_mode"] = images
    return row


def load_task_dataset(
    *,
    source: str,
    family: str,
    data_dir: str | None = None,
    split: str = "test",
    prompt_profile: str = "radrbench",
    judge: str = "offline",
    images: str = "pil",
    **_ignored: Any,
) -> datasets.DatasetDict:
    """lm-eval ``custom_dataset``: the task's samples as a one-split ``DatasetDict``.

    Metadata keys (``--metadata``): ``data_dir``, ``split``, ``prompt_profile``, ``judge``
    (a RadRScore judge spec; ``none`` reports outcome metrics only) and ``images``: ``pil``
    (decoded images, for any lm-eval model) or ``paths`` (file paths only, for models that
    read the files themselves, like radrbench's own chat model: nothing is decoded or held
    in memory).
    """
    if images not in ("pil", "paths"):
        raise ConfigError(f"metadata images={images!r}", hint="use 'pil' or 'paths'")
    import datasets

    bench_dir = resolve_data_dir(data_dir, source)
    root = image_root(bench_dir, read_manifest(bench_dir))
    samples = task_samples(bench_dir, source, family, split)
    if not samples:
        raise ConfigError(
            f"no {source} {family} samples in split {split!r}",
            where=str(bench_dir),
            hint="run 'radrbench data stats' on it to see what it holds",
        )
    rows = [task_row(sample, root, prompt_profile, judge, images) for sample in samples]
    features = row_features()
    features["prompt"] = datasets.Value("string")
    features["image_files"] = datasets.Sequence(datasets.Value("string"))
    features["judge"] = datasets.Value("string")
    features["image_mode"] = datasets.Value("string")
    return datasets.DatasetDict({split: datasets.Dataset.from_list(rows, features=features)})
