"""A minimal OpenAI-compatible server for throughput measurements.

Every ``POST …/chat/completions`` is answered after exactly ``--latency`` seconds with the
same small completion; the body is read but never parsed, so the server costs a few tens of
microseconds per request and the client is what a benchmark measures. ``GET /stats``
returns the request count, the most requests ever in flight, and the monotonic times of the
first arrival and the last completion (``POST /stats/reset`` clears them).

    python -m radrbench.dev.latency_server --port 0 --latency 0.05 --ready-file PATH
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from radrbench.processes import stop_process

COMPLETION = json.dumps(
    {
        "id": "chatcmpl-latency",
        "object": "chat.completion",
        "created": 0,
        "model": "latency-model",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "<think>ok</think><answer>A</answer>"},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }
).encode()


class Stats:
    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.count = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.first_arrival: float | None = None
        self.last_completion: float | None = None

    def as_json(self) -> bytes:
        return json.dumps(self.__dict__).encode()


def _response(status: str, body: bytes) -> bytes:
    head = (
        f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: keep-alive\r\n\r\n"
    )
    return head.encode() + body


class Handler(asyncio.Protocol):
    """HTTP/1.1 with keep-alive; one request at a time per connection (as clients send)."""

    def __init__(self, stats: Stats, latency: float) -> None:
        self.stats, self.latency = stats, latency
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buffer[:end].decode("latin-1")
            length = 0
            for line in head.split("\r\n")[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value)
            if len(self.buffer) < end + 4 + length:
                return
            self.buffer = self.buffer[end + 4 + length :]
            method, path = head.split(" ", 2)[:2]
            self._route(method, path)

    def _route(self, method: str, path: str) -> None:
        assert self.transport is not None
        if method == "POST" and path.endswith("/chat/completions"):
            stats = self.stats
            now = time.monotonic()
            stats.count += 1
            stats.in_flight += 1
            stats.max_in_flight = max(stats.max_in_flight, stats.in_flight)
            if stats.first_arrival is None:
                stats.first_arrival = now
            asyncio.get_running_loop().call_later(self.latency, self._complete, self.transport)
        elif path.startswith("/stats"):
            if method == "POST":
                self.stats.reset()
            self.transport.write(_response("200 OK", self.stats.as_json()))
        elif path.endswith("/models"):
            models = b'{"object":"list","data":[{"id":"latency-model","object":"model"}]}'
            self.transport.write(_response("200 OK", models))
        else:
            self.transport.write(_response("404 Not Found", b'{"error":"not found"}'))

    def _complete(self, transport: asyncio.Transport) -> None:
        self.stats.in_flight -= 1
        self.stats.last_completion = time.monotonic()
        if not transport.is_closing():
            transport.write(_response("200 OK", COMPLETION))


async def serve(port: int, latency: float, ready_file: Path | None) -> None:
    stats = Stats()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: Handler(stats, latency), "127.0.0.1", port)
    bound = server.sockets[0].getsockname()[1]
    if ready_file is not None:
        tmp = ready_file.with_suffix(".tmp")
        tmp.write_text(str(bound))
        os.replace(tmp, ready_file)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        await stop.wait()


@contextmanager
def latency_server(latency: float, timeout_s: float = 30.0) -> Iterator[str]:
    """Run the server in a child process; yields its base URL (…/v1)."""
    workdir = Path(tempfile.mkdtemp(prefix="radrbench-latency-"))
    ready = workdir / "port"
    command = [sys.executable, "-m", "radrbench.dev.latency_server", "--latency", str(latency)]
    process = subprocess.Popen([*command, "--ready-file", str(ready)])
    try:
        deadline = time.monotonic() + timeout_s
        while not ready.exists():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the latency server did not start")
            time.sleep(0.02)
        yield f"http://127.0.0.1:{ready.read_text()}/v1"
    finally:
        stop_process(process, 10.0)
        shutil.rmtree(workdir, ignore_errors=True)


def read_stats(base_url: str) -> dict[str, Any]:
    import httpx

    stats: dict[str, Any] = httpx.get(base_url.removesuffix("/v1") + "/stats", timeout=10).json()
    return stats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--ready-file", type=Path)
    args = parser.parse_args()
    asyncio.run(serve(args.port, args.latency, args.ready_file))


if __name__ == "__main__":
    main()
