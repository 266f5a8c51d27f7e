"""``radrbench data …``: create, import, validate and describe benchmark directories."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from radrbench.cli._common import console, counts_table, err_console, progress_bar
from radrbench.data.benchmark import load_samples
from radrbench.data.official import import_official
from radrbench.data.stats import DIMENSIONS, benchmark_stats
from radrbench.data.validate import validate_benchmark

app = typer.Typer(help="Create, import, validate and describe benchmark directories.")

BenchDir = Annotated[
    Path, typer.Argument(help="Benchmark directory (samples.jsonl + images/ + manifest.json).")
]


@app.command()
def demo(
    out: Annotated[Path, typer.Option("--out", "-o", help="Directory to write.")] = Path("demo"),
    studies: Annotated[int, typer.Option(min=1, help="Number of synthetic studies.")] = 120,
    seed: Annotated[int, typer.Option(help="Random seed; same seed → identical files.")] = 0,
) -> None:
    """Generate the synthetic phantom benchmark (every task family, no credentials needed)."""
    from radrbench.data.phantom import generate_demo

    with progress_bar("rendering studies", studies) as update:
        manifest = generate_demo(out, studies=studies, seed=seed, progress=update)
    console.print(f"wrote {manifest.n_samples} samples from {studies} studies to {out}")


@app.command()
def validate(
    bench_dir: BenchDir,
    skip_images: Annotated[
        bool, typer.Option("--skip-images", help="Do not decode images (faster).")
    ] = False,
) -> None:
    """Check every line, id, option, image and checksum; list all problems, exit 2 if any."""
    with progress_bar("checking images", None) as update:
        report = validate_benchmark(
            bench_dir, check_images=not skip_images, progress=lambda done, _total: update(done)
        )
    if not report.ok:
        n = len(report.problems)
        err_console.print(
            f"[red]error:[/red] {n} problem{'s' if n != 1 else ''} in {bench_dir}:", soft_wrap=True
        )
        for problem in report.problems:
            err_console.print(f"  {problem}", markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(2)
    counts = report.counts
    summary = ", ".join(f"{k} {v}" for k, v in counts["task"].items())
    console.print(f"{bench_dir}: OK — {len(report.samples)} samples ({summary})")


ImageRootOption = Annotated[
    Path,
    typer.Option(help="Folder holding your own MIMIC-CXR-JPG/, CheXpert-v1.0-small/, … copies."),
]
BenchOutOption = Annotated[Path, typer.Option("--out", "-o", help="Benchmark directory to write.")]


@app.command("import-official")
def import_official_cmd(
    files: Annotated[list[Path], typer.Argument(help="Official RadRBench-CXR JSON files.")],
    image_root: ImageRootOption,
    out: BenchOutOption,
    skip_missing: Annotated[
        bool, typer.Option(help="Leave out samples whose images are missing instead of failing.")
    ] = False,
) -> None:
    """Convert the official RadRBench-CXR JSON release into a benchmark directory."""
    samples = import_official(files, image_root, out, skip_missing=skip_missing)
    console.print(f"imported {len(samples)} samples from {len(files)} files into {out}")


@app.command("fetch")
def fetch_cmd(
    image_root: ImageRootOption,
    out: BenchOutOption,
    repo: Annotated[
        str, typer.Option(help="Hub dataset with the official annotations.")
    ] = "byrLLCC/RadRBench-CXR",
    revision: Annotated[
        str, typer.Option(help="Branch, tag or commit hash; the commit is recorded.")
    ] = "main",
    files: Annotated[
        list[str] | None,
        typer.Option(
            "--files",
            help="Glob of the repo's JSON files (repeatable).",
            show_default="*test*.json",
        ),
    ] = None,
    skip_missing: Annotated[
        bool, typer.Option(help="Leave out samples whose images are missing instead of failing.")
    ] = False,
) -> None:
    """Download the official annotations from the Hub and import them against your images.

    Uses HF_ENDPOINT, HF_TOKEN (gated repos) and the Hugging Face cache: an interrupted
    download resumes, and with HF_HUB_OFFLINE=1 a revision fetched before is read from it.
    """
    from radrbench.hub.fetch import DEFAULT_FILES, fetch_benchmark

    patterns = tuple(files) if files else DEFAULT_FILES
    snapshot, samples = fetch_benchmark(
        out,
        image_root,
        repo_id=repo,
        revision=revision,
        patterns=patterns,
        skip_missing=skip_missing,
    )
    console.print(
        f"fetched {len(snapshot.files)} files of {repo} at {snapshot.commit} and imported "
        f"{len(samples)} samples into {out}",
        markup=False,
        highlight=False,
    )


@app.command()
def stats(
    bench_dir: BenchDir,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
) -> None:
    """Counts per source, task, split and finding."""
    result = benchmark_stats(load_samples(bench_dir))
    if as_json:
        console.print_json(json.dumps(result))
        return
    console.print(
        f"{bench_dir}: {result['samples']} samples, {result['images']} images, "
        f"{result['reasoning_steps']} reasoning steps in {result['samples_with_reasoning']} samples"
    )
    for dimension in DIMENSIONS:
        console.print(counts_table(f"per {dimension}", result[dimension], dimension))
