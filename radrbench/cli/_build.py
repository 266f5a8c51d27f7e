"""``radrbench build``: a benchmark directory from a source dataset in its native layout."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from radrbench.cli._common import console, counts_table


def build_command(
    source: Annotated[
        str, typer.Option(help="mimic-cxr, chexpert, ms-cxr-t, rsna or siim.", show_default=False)
    ],
    root: Annotated[
        Path,
        typer.Option(
            help="Your copy of the dataset: MIMIC-CXR-JPG (with the label CSVs and "
            "mimic-cxr-reports/, also for ms-cxr-t), the folder holding CheXpert-v1.0-small/ "
            "(and the CheXpert Plus df_chexpert_plus_*.csv), or the RSNA / SIIM folder "
            "(label CSV and PNG/JPEG images named by image id).",
            show_default=False,
        ),
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Benchmark directory to write.")],
    labels: Annotated[
        Path | None,
        typer.Option(
            help="The CheXpert Plus report CSV (chexpert) or the MS-CXR-T progression CSV "
            "(ms-cxr-t) when it is not under --root."
        ),
    ] = None,
    seed: Annotated[int, typer.Option(help="Sampling seed; same seed → identical files.")] = 0,
    per_finding: Annotated[
        int | None,
        typer.Option(min=1, help="Binary: at most N positive and N negative studies per finding."),
    ] = None,
    per_task: Annotated[
        int | None,
        typer.Option(min=1, help="Other families: at most N samples per split (default: all)."),
    ] = None,
    skip_missing: Annotated[
        bool, typer.Option(help="Leave out samples whose images are missing instead of failing.")
    ] = False,
) -> None:
    """Build questions of every task family from a source dataset (paper's sampling rules).

    Images stay where they are (the benchmark records --root as its image root). Mine reasoning chains for the result with 'radrbench mine'; see docs/build_and_mine.md.
    """  # noqa: E501
    from radrbench.sources.builder import build_benchmark
    from radrbench.sources.questions import SamplingOptions

    options = SamplingOptions(seed=seed, per_finding=per_finding, per_task=per_task)
    manifest = build_benchmark(
        source.strip().lower(), root, out, options, labels=labels, skip_missing=skip_missing
    )
    console.print(f"wrote {manifest.n_samples} {source} samples to {out}")
    console.print(counts_table("per task", manifest.counts.get("task", {}), "task"))
