"""``radrbench dev …``: tools for developing and testing radrbench offline."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from radrbench.cli._common import console

app = typer.Typer(help="Developer tools (offline toy models).")


@app.command("tiny-model")
def tiny_model(
    out: Annotated[Path, typer.Option("--out", "-o", help="Directory to write the model to.")],
    seed: Annotated[int, typer.Option(help="Seed of the random weights.")] = 0,
    size: Annotated[
        str, typer.Option(help="tiny (1.3M parameters, tests and serving) or toy (5.8M, training).")
    ] = "tiny",
) -> None:
    """Build a tiny random Qwen2-VL (a few MB, offline) for tests and demos."""
    from radrbench.dev.tiny_model import build_tiny_qwen2vl

    build_tiny_qwen2vl(out, seed=seed, size=size)
    console.print(f"tiny Qwen2-VL written to {out}")
