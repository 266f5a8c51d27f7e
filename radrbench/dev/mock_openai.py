"""A configurable OpenAI-compatible server on 127.0.0.1 that plays a model or a judge.

Routes: ``POST /v1/chat/completions`` (JSON or ``stream: true`` SSE), ``GET /v1/models``,
``GET /health``, ``GET /stats`` (a :class:`MockStats`), ``GET /stats/records`` (every
:class:`RequestRecord`), ``POST /stats/reset``. Each chat request waits ``latency`` (plus a
seeded jitter) then answers with the configured responder, unless a fault is drawn for it.

Faults (:data:`FAULT_KINDS`) are drawn from ``(seed, body hash, attempt)``: attempt *k* of the
same request body always meets the same fate, whatever the arrival order. ``429`` carries
``Retry-After``; ``reset`` aborts the connection with a TCP reset; ``timeout`` hangs
``hang_seconds`` then answers 504; ``truncate`` promises the whole body and closes halfway;
``malformed`` sends half the body as if complete; ``slow_stream`` dribbles the body (or SSE
events) over ``slow_seconds``. Decisions are logged (INFO when a fault is drawn) and recorded.

Run it in-process (``with serve_mock(config) as server``) or, so that it does not share the
client's GIL, as a process (``start_mock_process(config)``, or ``python -m
radrbench.dev.mock_openai --port 0 --latency 0.05 --ready-file PATH``).
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from radrbench.dev._mock_app import HOST, SHUTDOWN_TIMEOUT, start_site
from radrbench.dev._mock_config import (
    FAULT_KINDS,
    MockConfig,
    Responder,
    build_parser,
    config_from_args,
    config_to_argv,
    parse_faults,
)
from radrbench.dev._mock_stats import MockStats, RequestRecord
from radrbench.errors import RadrbenchError, ServerError
from radrbench.processes import stop_process

__all__ = [
    "FAULT_KINDS",
    "MockConfig",
    "MockProcess",
    "MockServer",
    "MockStats",
    "RequestRecord",
    "Responder",
    "main",
    "parse_faults",
    "serve_mock",
    "start_mock_process",
]

READY_PREFIX = "mock-openai ready on "
STOP_TIMEOUT = 5.0
PARENT_POLL_SECONDS = 1.0


class MockServer:
    """A running mock server: its addresses and what it has seen (read over HTTP)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.url = f"http://{HOST}:{port}"
        self.base_url = f"{self.url}/v1"

    def _call(self, method: str, path: str) -> Any:
        # Plain HTTP on loopback: no proxies from the environment, no certificate store to load.
        url = f"{self.url}{path}"
        response = httpx.request(method, url, timeout=10.0, verify=False, trust_env=False)
        response.raise_for_status()
        return response.json()

    def stats(self) -> MockStats:
        """Counts, in-flight maximum and time span since start or the last reset."""
        return MockStats(**self._call("GET", "/stats"))

    def records(self) -> list[RequestRecord]:
        """One record per chat request since start or the last reset, in arrival order."""
        return [RequestRecord(**item) for item in self._call("GET", "/stats/records")["records"]]

    def reset(self) -> None:
        """Clear records, attempt counts and the in-flight maximum."""
        self._call("POST", "/stats/reset")


@contextmanager
def serve_mock(config: MockConfig | None = None, *, timeout: float = 10.0) -> Iterator[MockServer]:
    """Run the server in a background thread with its own event loop while the block runs.

    It shares the caller's GIL (a callable responder runs in that thread): for throughput
    figures use :func:`start_mock_process`.
    """
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="mock-openai", daemon=True)
    thread.start()
    try:
        runner, port = asyncio.run_coroutine_threadsafe(
            start_site(config or MockConfig()), loop
        ).result(timeout)
        try:
            yield MockServer(port)
        finally:
            cleanup = asyncio.run_coroutine_threadsafe(runner.cleanup(), loop)
            cleanup.result(SHUTDOWN_TIMEOUT + timeout)
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout)
        if not thread.is_alive():
            loop.close()


class MockProcess(MockServer):
    """A mock server in a child process; :meth:`stop` (or leaving the block) ends it."""

    def __init__(self, process: subprocess.Popen[bytes], port: int, workdir: Path, log: Path):
        super().__init__(port)
        self.process = process
        self.log_path = log
        self._workdir = workdir

    def stop(self) -> int:
        """Terminate (then kill if needed) the process; return its exit code."""
        code = stop_process(self.process, STOP_TIMEOUT)
        shutil.rmtree(self._workdir, ignore_errors=True)
        return code

    def __enter__(self) -> MockProcess:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()


def start_mock_process(
    config: MockConfig | None = None, *, log_path: Path | None = None, timeout: float = 30.0
) -> MockProcess:
    """Launch ``python -m radrbench.dev.mock_openai`` and wait (at most ``timeout``) until ready.

    The server's log (its stdout and stderr) goes to ``log_path``, or to a temporary file
    removed by :meth:`MockProcess.stop`.
    """
    argv = [*config_to_argv(config or MockConfig()), "--exit-with-parent"]
    workdir = Path(tempfile.mkdtemp(prefix="radrbench-mock-"))
    ready, log = workdir / "port", log_path or workdir / "server.log"
    env = dict(os.environ)
    package_root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH")]))
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "radrbench.dev.mock_openai", *argv, "--ready-file", str(ready)],
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=env,
        )
    deadline = time.monotonic() + timeout
    while process.poll() is None and time.monotonic() < deadline:
        if ready.exists() and (text := ready.read_text().strip()):
            return MockProcess(process, int(text), workdir, log)
        time.sleep(0.02)
    exited = process.poll() is not None
    problem = f"exited with code {process.returncode}" if exited else f"not ready in {timeout:g} s"
    tail = log.read_text(errors="replace")[-500:] if log.exists() else ""
    MockProcess(process, 0, workdir, log).stop()
    raise ServerError(f"mock server {problem}", where="mock server", hint=tail or None)


async def _watch_parent(stop: asyncio.Event) -> None:
    """Set ``stop`` once the parent process is gone (this process is re-parented)."""
    parent = os.getppid()
    while os.getppid() == parent:
        await asyncio.sleep(PARENT_POLL_SECONDS)
    stop.set()


async def _serve(config: MockConfig, ready_file: Path | None, exit_with_parent: bool) -> None:
    runner, port = await start_site(config)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    watchdog = asyncio.create_task(_watch_parent(stop)) if exit_with_parent else None
    try:
        print(f"{READY_PREFIX}http://{HOST}:{port}/v1", flush=True)
        if ready_file is not None:
            partial = ready_file.with_name(ready_file.name + ".tmp")
            partial.write_text(f"{port}\n")
            partial.replace(ready_file)
        await stop.wait()
    finally:
        if watchdog is not None:
            watchdog.cancel()
        await runner.cleanup()


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit code."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), stream=sys.stderr, format="%(asctime)s %(message)s"
    )
    try:
        config = config_from_args(args)
        asyncio.run(_serve(config, args.ready_file, args.exit_with_parent))
    except (RadrbenchError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
