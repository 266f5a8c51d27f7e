"""``radrbench eval``: generate a model's answers to the benchmark and summarise them."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from radrbench.cli._common import console, err_console
from radrbench.errors import ConfigError, ServerError
from radrbench.eval.commands import record_command

if TYPE_CHECKING:
    from radrbench.eval.config import EvalConfig, ModelSpec
    from radrbench.eval.summary import Summary


def normalize_base_url(url: str) -> str:
    """Accept ``host:port``, ``…/v1`` or ``…/v1/chat/completions``; return ``…/v1``.

    URLs carrying credentials are refused: the URL is written into the run directory.
    """
    url = url.strip().rstrip("/")
    if re.search(r"://[^/@]+@", url) or "?" in url:
        raise ConfigError(
            "the endpoint URL carries credentials or a query string",
            where="--endpoint",
            hint="pass the key through an environment variable (--api-key-env NAME)",
        )
    if not re.match(r"^https?://", url):
        url = f"http://{url}"
    url = re.sub(r"/chat/completions$", "", url)
    if not re.search(r"/v\d+[a-z]*$", url) and url.count("/") == 2:
        url += "/v1"
    return url


def is_reachable(base_url: str, timeout_s: float = 2.0) -> bool:
    import httpx

    try:
        httpx.get(f"{base_url}/models", timeout=timeout_s)
    except httpx.TransportError:
        return False
    return True


def check_reachable(base_url: str, timeout_s: float = 5.0) -> None:
    """Fail fast, with a hint, when nothing accepts connections at the endpoint.

    A bare TCP connect (no HTTP client to import) keeps the time to the first request low.
    """
    import socket
    from urllib.parse import urlsplit

    parts = urlsplit(base_url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        socket.create_connection((parts.hostname or "127.0.0.1", port), timeout=timeout_s).close()
    except OSError as error:
        raise ServerError(
            f"cannot reach the model server ({error.strerror or type(error).__name__})",
            where=base_url,
            hint="start it first (e.g. 'radrbench serve NAME') or check --endpoint",
        ) from error


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-")[:60] or "model"


def default_run_dir(model_name: str) -> Path:
    return Path("runs") / f"{_slug(model_name)}-{datetime.now():%Y%m%d-%H%M%S}"


class _LogWatcher(threading.Thread):
    """Polls the request log and drives a progress bar while lm-eval works."""

    def __init__(self, log_path: Path, update: Callable[[int], None]):
        super().__init__(daemon=True)
        self.log_path = log_path
        self.update = update
        self.stopped = threading.Event()

    def run(self) -> None:
        from radrbench.eval.request_log import RequestLog

        log = None
        while not self.stopped.wait(0.25):
            if log is None and self.log_path.exists():
                log = RequestLog(self.log_path)
            if log is not None:
                log.refresh()
                self.update(len(log.done))


def print_outcome_table(summary: Summary) -> None:
    from rich.table import Table

    table = Table(title=f"{summary.model.name} — outcome (95% bootstrap CI)", title_justify="left")
    for column in ("task", "n", "metric", "value", "95% CI", "parse failed"):
        table.add_column(column, justify="left" if column in ("task", "metric") else "right")
    for name, task in summary.tasks.items():
        estimate = task.metrics[task.primary]
        table.add_row(
            name.removeprefix("radrbench_"),
            str(task.n),
            task.primary,
            f"{estimate['value']:.3f}",
            f"[{estimate['ci_low']:.3f}, {estimate['ci_high']:.3f}]",
            str(task.parse_failed),
        )
    by_family = summary.outcome.by_family
    for metric in ("accuracy", "label_f1"):
        estimate = summary.outcome.overall.metrics.get(metric)
        if estimate is None:
            continue
        families = [
            g for g in by_family.values() if (g.primary == "label_f1") == (metric == "label_f1")
        ]
        table.add_row(
            "[bold]overall[/bold]",
            str(estimate.n),
            metric,
            f"{estimate.value:.3f}",
            f"[{estimate.ci_low:.3f}, {estimate.ci_high:.3f}]",
            str(sum(g.parse_failed for g in families)),
        )
    console.print(table)


def eval_command(
    endpoint: Annotated[
        str | None,
        typer.Option(help="OpenAI-compatible base URL, e.g. http://127.0.0.1:8000/v1."),
    ] = None,
    model: Annotated[
        str | None, typer.Option(help="Model name the endpoint serves (with --endpoint).")
    ] = None,
    hf: Annotated[
        str | None,
        typer.Option("--hf", help="Evaluate an HF model in-process (local path or repo id)."),
    ] = None,
    baseline: Annotated[
        str | None,
        typer.Option(help="A baseline from 'radrbench baselines list' (serving and prompt)."),
    ] = None,
    port: Annotated[
        int, typer.Option(help="Port of the local server of a served --baseline.")
    ] = 8000,
    engine: Annotated[
        str | None,
        typer.Option(help="Engine to start a served --baseline with (vllm or transformers)."),
    ] = None,
    model_path: Annotated[
        str | None,
        typer.Option(help="Local model directory for a served --baseline (e.g. the tiny model)."),
    ] = None,
    tasks: Annotated[
        str, typer.Option(help="Comma-separated tasks or groups (radrbench_demo, radrbench_cxr).")
    ] = "radrbench_demo",
    data: Annotated[
        Path | None,
        typer.Option(help="Benchmark directory (default: the synthetic demo set)."),
    ] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="Samples per task (for trying).")] = None,
    out: Annotated[
        Path | None,
        typer.Option(help="Run directory; an existing one is resumed (default runs/MODEL-TIME)."),
    ] = None,
    prompt_profile: Annotated[
        str | None,
        typer.Option(help="radrbench, chestx-reasoner or direct (default: the baseline's)."),
    ] = None,
    max_tokens: Annotated[
        int | None, typer.Option(min=1, help="Override the tasks' max_gen_toks (2048).")
    ] = None,
    concurrency: Annotated[int, typer.Option(min=1, help="Requests in flight at most.")] = 8,
    timeout: Annotated[float, typer.Option(help="Seconds per request attempt.")] = 600.0,
    max_retries: Annotated[int, typer.Option(min=0, help="Retries per request.")] = 6,
    api_key_env: Annotated[
        str | None,
        typer.Option(help="Environment variable holding the API key (default OPENAI_API_KEY)."),
    ] = None,
    seed: Annotated[int, typer.Option(help="Sampling and bootstrap seed.")] = 1234,
    judge: Annotated[
        str,
        typer.Option(help="RadRScore judge after generation: offline, openai:MODEL[@URL], none."),
    ] = "offline",
    judge_concurrency: Annotated[int, typer.Option(min=1, help="Judge calls in flight.")] = 16,
    predictions: Annotated[
        Path | None,
        typer.Option(
            "--predictions",
            help="Score outputs made elsewhere instead of generating: radrbench JSONL "
            "(id, output) or the official ChestX-Reasoner result files (a file or a folder); "
            "with --model NAME.",
        ),
    ] = None,
    i_understand_data_use: Annotated[
        bool,
        typer.Option(
            "--i-understand-data-use",
            help="Allow credentialed samples (MIMIC-CXR, MS-CXR-T, CheXpert) to go to a public "
            "third-party API; only if your data use agreement permits it.",
        ),
    ] = False,
) -> None:
    """Generate answers for the tasks and print outcome metrics with CIs, then RadRScore.

    Every response is appended to RUN/requests.jsonl as it arrives: run the same command with the same --out to resume a killed run without re-sending finished requests.
    """  # noqa: E501
    from radrbench.eval.config import EvalConfig

    if predictions is not None:
        conflicting = {"--endpoint": endpoint, "--hf": hf, "--baseline": baseline}
        score_predictions(
            predictions,
            model,
            conflicting,
            data,
            limit,
            out,
            prompt_profile,
            judge,
            judge_concurrency,
        )
        return
    spec, defaults = resolve_model(
        endpoint, model, hf, baseline, port, model_path, api_key_env, engine
    )
    config = EvalConfig(
        model=spec,
        tasks=[t.strip() for t in tasks.split(",") if t.strip()],
        data_dir=str(data.resolve()) if data else None,
        limit=limit,
        prompt_profile=prompt_profile or defaults.prompt_profile,
        max_tokens=max_tokens or defaults.max_tokens,
        seed=seed,
        concurrency=concurrency,
        timeout_s=timeout,
        max_retries=max_retries,
        max_images=defaults.max_images,
    )
    run_dir = out or default_run_dir(spec.name)
    with served_baseline(baseline, spec, port, model_path, engine, run_dir / "server.log"):
        summary = run_and_summarize(
            config, run_dir, acknowledged=i_understand_data_use, prices=defaults.prices
        )
    record_command(run_dir)
    print_outcome_table(summary)
    if judge != "none":
        from radrbench.cli._score import judge_run_dir, print_radrscore_table

        print_radrscore_table(judge_run_dir(run_dir, judge, judge_concurrency))


def score_predictions(
    predictions: Path,
    model: str | None,
    conflicting: Mapping[str, object],
    data: Path | None,
    limit: int | None,
    out: Path | None,
    prompt_profile: str | None,
    judge: str,
    judge_concurrency: int,
) -> None:
    """``radrbench eval --predictions``: a run directory from outputs made elsewhere."""
    from radrbench.eval.predictions import check_options, write_run

    name = check_options(conflicting, model)
    run_dir = out or default_run_dir(name)
    summary, report = write_run(
        predictions,
        run_dir,
        model=name,
        data_dir=data,
        limit=limit,
        prompt_profile=prompt_profile or "unknown",
    )
    record_command(run_dir)
    print_outcome_table(summary)
    if judge != "none":
        from radrbench.cli._score import judge_run_dir, print_radrscore_table

        print_radrscore_table(judge_run_dir(run_dir, judge, judge_concurrency))
    console.print(report.line(), markup=False, highlight=False)
    for problem in (report.unreadable + report.unmatched + report.duplicates)[:10]:
        err_console.print(f"  {problem}", markup=False, highlight=False)
    console.print(f"run written to {run_dir} (all of them in {run_dir}/predictions_report.json)")


@dataclass(frozen=True)
class _Defaults:
    prompt_profile: str = "radrbench"
    max_tokens: int | None = None
    max_images: int = 4
    prices: tuple[float, float] | None = None


def resolve_model(
    endpoint: str | None,
    model: str | None,
    hf: str | None,
    baseline: str | None,
    port: int,
    model_path: str | None,
    api_key_env: str | None,
    engine: str | None = None,
) -> tuple[ModelSpec, _Defaults]:
    """Which model to evaluate, from --endpoint/--model, --hf or --baseline."""
    from radrbench.eval.config import ModelSpec

    if sum(x is not None for x in (hf, baseline)) + (endpoint is not None and not baseline) != 1:
        raise ConfigError(
            "give one of: --endpoint URL --model NAME, --hf PATH, or --baseline NAME",
            hint="'radrbench baselines list' shows the baselines",
        )
    if hf is not None:
        return ModelSpec(
            kind="hf",
            name=model or Path(hf).name,
            path=hf,
            api_key_env=None,
            engine="transformers",
        ), _Defaults()
    if baseline is None:
        if not model:
            raise ConfigError("--endpoint needs --model (the name the server serves)")
        assert endpoint is not None
        return ModelSpec(
            kind="endpoint",
            name=model,
            base_url=normalize_base_url(endpoint),
            api_key_env=api_key_env or "OPENAI_API_KEY",
        ), _Defaults()
    from radrbench.baselines import get_baseline, price_for

    entry = get_baseline(baseline)
    url: str | None
    name: str | None
    if entry.engine == "openai":
        assert entry.api is not None
        url = endpoint or entry.api.base_url
        name = model or entry.served_model_name
        key_env = api_key_env or entry.api.api_key_env
    else:
        url = endpoint or f"http://127.0.0.1:{port}/v1"
        name = entry.served_model_name or baseline
        key_env = api_key_env
    if url is None:
        raise ConfigError(f"baseline {baseline!r} needs --endpoint URL")
    if name is None:
        raise ConfigError(f"baseline {baseline!r} needs --model NAME")
    spec = ModelSpec(
        kind="endpoint",
        name=name,
        base_url=normalize_base_url(url),
        api_key_env=key_env,
        revision=entry.revision,
        engine=engine or entry.engine,
        baseline=baseline,
        path=model_path or entry.repo_id,
    )
    return spec, _Defaults(
        prompt_profile=entry.prompt_profile,
        max_tokens=entry.generation.max_tokens,
        max_images=entry.max_images,
        prices=price_for(entry),
    )


@contextmanager
def served_baseline(
    baseline: str | None,
    spec: ModelSpec,
    port: int,
    model_path: str | None,
    engine: str | None,
    log_path: Path,
) -> Iterator[None]:
    """Use a running server of a served baseline, or start one for this run and stop it."""
    if baseline is None or spec.engine in (None, "openai"):
        yield
        return
    assert spec.base_url is not None
    if is_reachable(spec.base_url):
        yield
        return
    from radrbench.baselines import get_baseline
    from radrbench.baselines.serving import start_server

    entry = get_baseline(baseline)
    if model_path is None and entry.repo_id is not None:  # as radrbench serve: fetch first
        from radrbench.cli._serve import fetched_weights

        model_path = fetched_weights(baseline, engine or entry.engine)
    err_console.print(f"no server at {spec.base_url}: starting {baseline} …", highlight=False)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    server = start_server(
        entry,
        port=port,
        model_path=model_path,
        engine=engine,  # type: ignore[arg-type]
        log_path=log_path,
    )
    try:
        yield
    finally:
        server.stop()


def run_and_summarize(
    config: EvalConfig,
    run_dir: Path,
    *,
    acknowledged: bool = False,
    prices: tuple[float, float] | None = None,
) -> Summary:
    """Run (or resume) the evaluation with a progress bar, write and return the summary."""
    from radrbench.baselines.guard import check_data_use
    from radrbench.cli._common import progress_bar
    from radrbench.eval.runner import REQUEST_LOG, SUMMARY_FILE, run_eval, write_json
    from radrbench.tasks.catalog import expand_tasks
    from radrbench.tasks.data import resolve_data_dir

    specs = expand_tasks(config.tasks)
    if config.model.kind == "endpoint":
        assert config.model.base_url is not None
        check_data_use({s.source for s in specs}, config.model.base_url, acknowledged=acknowledged)
        check_reachable(config.model.base_url)
    started = time.monotonic()
    with progress_bar("generating", None) as bar:
        watcher = _LogWatcher(run_dir / REQUEST_LOG, bar)
        watcher.start()
        try:
            results = run_eval(config, run_dir, on_plan=bar.total)
        finally:
            watcher.stopped.set()
    from radrbench.eval.request_log import RequestLog
    from radrbench.eval.summary import build_summary

    summary = build_summary(
        config,
        run_dir,
        results,
        RequestLog(run_dir / REQUEST_LOG),
        data_dir=resolve_data_dir(config.data_dir, specs[0].source),
        price_per_mtok=prices,
    )
    write_json(run_dir / SUMMARY_FILE, summary.model_dump(mode="json"))
    err_console.print(
        f"run written to {run_dir} in {time.monotonic() - started:.1f} s", highlight=False
    )
    return summary
