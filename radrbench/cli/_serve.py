"""``radrbench baselines …`` and ``radrbench serve``: the baseline models and their servers."""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Annotated

import typer

from radrbench.cli._common import console, err_console

baselines_app = typer.Typer(help="The baseline models: how to serve and prompt them.")


@baselines_app.command("list")
def list_baselines() -> None:
    """Show every baseline: engine, served name, hardware, licence."""
    from rich.table import Table

    from radrbench.baselines import load_baselines

    table = Table(title="baselines (baselines/*.yaml)", title_justify="left")
    table.add_column("name", no_wrap=True)
    for column in ("engine", "model", "GPUs", "prompt", "licence"):
        table.add_column(column, overflow="fold")
    for name, entry in sorted(load_baselines().items()):
        engines = "/".join(entry.engines)
        gpus = str(entry.hardware.gpu_count) if entry.hardware.gpu_count else "-"
        table.add_row(
            name,
            engines,
            entry.repo_id or entry.served_model_name or "(--model)",
            gpus,
            entry.prompt_profile,
            entry.licence,
        )
    console.print(table)


@baselines_app.command("show")
def show_baseline(name: Annotated[str, typer.Argument(help="Baseline name.")]) -> None:
    """Print a baseline's entry and the exact commands to run it."""
    from radrbench.baselines import get_baseline

    entry = get_baseline(name)
    console.print(f"[bold]{name}[/bold]: {entry.description}")
    console.print(f"hardware: {entry.hardware.model_dump(exclude_none=True)}")
    console.print(f"licence: {entry.licence}")
    for command in entry.commands:
        console.print(f"  $ {command}", markup=False, highlight=False)


def prefetch_weights(name: str) -> Path:
    """Download a baseline's weights at its pinned revision (sizes and free space first)."""
    from radrbench.baselines import get_baseline
    from radrbench.hub.weights import prefetch_baseline

    def report(line: str) -> None:
        err_console.print(f"weights: {line}", markup=False, highlight=False)

    return prefetch_baseline(get_baseline(name), report)


def fetched_weights(name: str, engine: str) -> str:
    """The baseline's weights fetched for ``engine``, which is checked first: a missing
    engine fails before a long download."""
    from radrbench.baselines.serving import engine_python

    engine_python(engine)  # type: ignore[arg-type]
    return str(prefetch_weights(name))


@baselines_app.command("fetch")
def fetch_baseline(name: Annotated[str, typer.Argument(help="Baseline name.")]) -> None:
    """Download a baseline's weights at its pinned revision into the Hugging Face cache.

    Reports the size and the free disk space first; an interrupted download resumes.
    """
    console.print(str(prefetch_weights(name)), markup=False, highlight=False)


def serve_command(
    name: Annotated[
        str, typer.Argument(help="Baseline to serve (see 'radrbench baselines list').")
    ],
    engine: Annotated[
        str | None, typer.Option(help="vllm or transformers (default: the baseline's).")
    ] = None,
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1.")] = 8000,
    model_path: Annotated[
        str | None, typer.Option(help="Serve this local directory instead of the repo id.")
    ] = None,
    startup_timeout: Annotated[float, typer.Option(help="Seconds to wait for health.")] = 900.0,
    log: Annotated[Path | None, typer.Option(help="Server log file.")] = None,
    fetch: Annotated[
        bool,
        typer.Option(
            "--fetch/--no-fetch",
            help="Download the weights at the pinned revision first (progress, disk space); "
            "--no-fetch leaves it to the engine.",
        ),
    ] = True,
) -> None:
    """Start a baseline's OpenAI-compatible server, wait until healthy, keep it running.

    The weights are fetched from the Hub first (repo id and revision of the baseline entry,
    into the Hugging Face cache; HF_HUB_OFFLINE=1 uses the cached copy). Stop it with
    Ctrl-C. Then, in another shell: radrbench eval --baseline NAME.
    """
    from radrbench.baselines import get_baseline
    from radrbench.baselines.serving import start_server
    from radrbench.errors import ConfigError

    entry = get_baseline(name)
    if engine is not None and engine not in entry.engines:
        raise ConfigError(
            f"baseline {name!r} cannot be served with {engine!r}",
            hint=f"choose one of {', '.join(entry.engines)}",
        )
    if fetch and model_path is None and entry.repo_id is not None and entry.engine != "openai":
        model_path = fetched_weights(name, engine or entry.engine)
    err_console.print(f"starting {name} ({engine or entry.engine}) on 127.0.0.1:{port} …")
    server = start_server(
        entry,
        port=port,
        model_path=model_path,
        engine=engine,
        log_path=log,
        startup_timeout_s=startup_timeout,
    )
    console.print(
        f"serving {entry.served_model_name} at {server.base_url} (log: {server.log_path})"
    )
    console.print(f"evaluate it with: radrbench eval --baseline {name} --port {port}")
    stop = {"now": False}
    signal.signal(signal.SIGTERM, lambda *_: stop.update(now=True))
    try:
        while not stop["now"] and server.process.poll() is None:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    if server.process.returncode not in (0, -signal.SIGTERM, None) and not stop["now"]:
        err_console.print(
            f"server exited with code {server.process.returncode}; see {server.log_path}"
        )
        raise typer.Exit(2)
