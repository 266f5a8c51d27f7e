"""The ``radrbench`` command line."""

from __future__ import annotations

import gc
import logging
import sys
from typing import Annotated

import typer

from radrbench import __version__
from radrbench.cli import (
    _build,
    _data,
    _dev,
    _eval,
    _leaderboard,
    _metric_check,
    _mine,
    _score,
    _serve,
    _train,
)
from radrbench.cli._common import err_console
from radrbench.errors import RadrbenchError

app = typer.Typer(
    name="radrbench",
    help="Evaluate chest X-ray multimodal models on RadRBench-CXR: outcome accuracy with CIs "
    "and RadRScore reasoning quality, with ready baselines and their servers.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(_data.app, name="data")
app.command("build")(_build.build_command)
app.command("mine")(_mine.mine_command)
app.add_typer(_dev.app, name="dev")
app.command("eval")(_eval.eval_command)
app.add_typer(_serve.baselines_app, name="baselines")
app.command("serve")(_serve.serve_command)
app.command("score")(_score.score_command)
app.command("metric-check")(_metric_check.metric_check_command)
app.command("judge-agreement")(_score.judge_agreement_command)
app.add_typer(_leaderboard.app, name="leaderboard")
app.add_typer(_train.app, name="train")

_state = {"debug": False}


def _version(value: bool) -> None:
    if value:
        print(f"radrbench {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks and debug logs.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show info logs.")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print version.")
    ] = False,
) -> None:
    _state["debug"] = debug
    level = logging.DEBUG if debug else logging.INFO if verbose else logging.WARNING
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")


def main(argv: list[str] | None = None) -> int:
    """Entry point: one-line errors with exit code 2; tracebacks only with --debug."""
    try:
        app(args=argv, prog_name="radrbench")
    except SystemExit as done:
        code = done.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    except RadrbenchError as error:
        if _state["debug"]:
            raise
        err_console.print(f"[red]error:[/red] {error}", highlight=False, soft_wrap=True)
        return error.exit_code
    except KeyboardInterrupt:
        err_console.print("interrupted; work finished so far is kept")
        return 130
    return 0


def run() -> None:
    code = main()
    # An evaluation leaves ~10^5 objects (lm-eval, datasets, pandas) behind; the collector
    # would walk them again while the interpreter shuts down (0.5 s here). Freezing them
    # skips that walk; memory is still released, and every file is already written.
    gc.freeze()
    sys.exit(code)
