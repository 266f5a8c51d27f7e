"""`radrbench serve` fetches a baseline's weights from the Hub (the local one) before it starts
the server on the downloaded snapshot: the tiny Qwen2-VL published as CheXagent's repo."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from radrbench.dev.hub_server import HubState, files_from_dir, serve_hub
from tests.conftest import run_cli
from tests.integration.test_hub import hub_env
from tests.integration.test_serving import _free_port

pytestmark = [pytest.mark.server, pytest.mark.slow]


def _first_line(lines: queue.Queue[str], start: str, deadline_s: float) -> str | None:
    """The first line holding ``start`` (None: the process ended or time ran out first)."""
    deadline = time.monotonic() + deadline_s
    while (left := deadline - time.monotonic()) > 0:
        try:
            line = lines.get(timeout=left)
        except queue.Empty:
            return None
        if start in line:
            return line
    return None


def test_serve_fetches_the_weights_then_serves_them(tiny_qwen2vl: Path, tmp_path: Path) -> None:
    state = HubState()
    commit = state.add_repo(
        "StanfordAIMI/CheXagent-2-3b", files_from_dir(tiny_qwen2vl), repo_type="model"
    )
    port, log = _free_port(), tmp_path / "server.log"
    with serve_hub(state) as hub:
        command = [sys.executable, "-m", "radrbench", "serve", "chexagent-3b"]
        process = subprocess.Popen(
            [*command, "--port", str(port), "--log", str(log), "--startup-timeout", "300"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **hub_env(hub, tmp_path / "hf")},
        )
        lines: queue.Queue[str] = queue.Queue()
        errors: list[str] = []
        assert process.stdout is not None and process.stderr is not None
        readers = [
            threading.Thread(target=lambda: [lines.put(line) for line in process.stdout]),
            threading.Thread(target=lambda: errors.extend(process.stderr)),
        ]
        for reader in readers:
            reader.start()
        try:
            # serve prints its URL only once the server answers: wait for that line
            served = _first_line(lines, "serving chexagent-3b at", deadline_s=360)
            assert served is not None, f"no server: {process.poll()=}, {''.join(errors)[-3000:]}"
            assert httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=10).is_success
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=60)
            for reader in readers:
                reader.join(timeout=10)
    stderr = "".join(errors)
    assert f"weights: StanfordAIMI/CheXagent-2-3b@{commit[:12]}" in stderr
    assert "to download" in stderr and "free in" in stderr
    snapshot = tmp_path / "hf" / "hub" / "models--StanfordAIMI--CheXagent-2-3b" / "snapshots"
    assert (snapshot / commit / "config.json").is_file()
    # The server read the snapshot: no file was asked for again after the pre-fetch.
    resolved = [(method, path) for method, path, _ in state.requests if "/resolve/" in path]
    assert resolved and len(resolved) == len(set(resolved))
    assert all(f"/resolve/{commit}/" in path for _, path in resolved)  # none by branch name


def test_eval_of_a_baseline_fetches_its_weights_before_starting_the_server(
    tiny_qwen2vl: Path, phantom_dir: Path, tmp_path: Path
) -> None:
    state = HubState()
    commit = state.add_repo(
        "StanfordAIMI/CheXagent-2-3b", files_from_dir(tiny_qwen2vl), repo_type="model"
    )
    with serve_hub(state) as hub:
        result = run_cli(
            "eval", "--baseline", "chexagent-3b", "--port", str(_free_port()),
            "--data", str(phantom_dir), "--limit", "1", "--max-tokens", "8",
            "--out", str(tmp_path / "run"),
            env=hub_env(hub, tmp_path / "hf"),
        )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"weights: StanfordAIMI/CheXagent-2-3b@{commit[:12]}" in result.stderr
    assert result.stderr.index("weights:") < result.stderr.index("starting chexagent-3b")
    resolved = [path for _, path, _ in state.requests if "/resolve/" in path]
    assert resolved and all(f"/resolve/{commit}/" in path for path in resolved)
