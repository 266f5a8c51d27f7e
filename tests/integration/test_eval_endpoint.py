"""radrbench eval against a real local OpenAI-compatible server (the mock plays the model)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from radrbench.dev._mock_config import MockConfig
from radrbench.dev.mock_openai import start_mock_process
from tests.conftest import mock_eval_args, run_cli, stable_summary

pytestmark = pytest.mark.server

LIMIT = 6


def _eval_args(base_url: str, data: Path, out: Path, *extra: str) -> list[str]:
    return mock_eval_args(base_url, data, out, LIMIT, *extra)


def test_demo_eval_writes_run_directory(phantom_dir: Path, tmp_path: Path) -> None:
    with start_mock_process(MockConfig(latency=0.01)) as server:
        result = run_cli(*_eval_args(server.base_url, phantom_dir, tmp_path / "run"))
        assert result.returncode == 0, result.stderr
        stats = server.stats()
    run = tmp_path / "run"
    summary = json.loads((run / "summary.json").read_text())
    n_requests = sum(task["n"] for task in summary["tasks"].values())
    assert stats.count == n_requests  # prefetched responses were used, nothing sent twice
    assert stats.max_in_flight <= 4
    assert set(summary["tasks"]) == {
        f"radrbench_phantom_{f}"
        for f in (
            "binary",
            "single",
            "multi",
            "multi_open",
            "anomaly",
            "temporal",
            "rsna_binary",
            "siim_binary",
        )
    }
    assert list(run.glob("results_*.json")) and list(run.glob("samples_radrbench_*.jsonl"))
    log_lines = (run / "requests.jsonl").read_text().splitlines()
    assert len(log_lines) == n_requests
    # lm-eval's own aggregate agrees with radrbench's summary
    results = json.loads(next(run.glob("results_*.json")).read_text())["results"]
    for task, entry in summary["tasks"].items():
        primary = entry["primary"]
        assert results[task][f"{primary},none"] == pytest.approx(entry["metrics"][primary]["value"])
    assert "overall" in result.stdout and "accuracy" in result.stdout


def test_killed_run_resumes_without_resending(phantom_dir: Path, tmp_path: Path) -> None:
    config = MockConfig(latency=0.3)
    with start_mock_process(config) as server:
        clean = run_cli(*_eval_args(server.base_url, phantom_dir, tmp_path / "clean"))
        assert clean.returncode == 0, clean.stderr
        total = server.stats().count
        server.reset()

        run = tmp_path / "killed"
        argv = [sys.executable, "-m", "radrbench", *_eval_args(server.base_url, phantom_dir, run)]
        process = subprocess.Popen(
            argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        log = run / "requests.jsonl"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if log.exists() and len(log.read_text().splitlines()) >= total // 3:
                break
            time.sleep(0.05)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(30)
        time.sleep(0.5)  # let requests in flight at the kill reach the server
        done_before = len(log.read_text().splitlines())
        assert 0 < done_before < total
        server.reset()

        resumed = run_cli(*_eval_args(server.base_url, phantom_dir, run))
        assert resumed.returncode == 0, resumed.stderr
        assert server.stats().count == total - done_before
    assert stable_summary(run) == stable_summary(tmp_path / "clean")


def test_different_options_refuse_to_resume(phantom_dir: Path, tmp_path: Path) -> None:
    with start_mock_process(MockConfig()) as server:
        assert run_cli(*_eval_args(server.base_url, phantom_dir, tmp_path / "r")).returncode == 0
        again = run_cli(
            *_eval_args(server.base_url, phantom_dir, tmp_path / "r", "--max-tokens", "7")
        )
    assert again.returncode == 2
    assert "different run" in again.stderr and "max_tokens" in again.stderr
    assert "Traceback" not in again.stderr


def test_server_down_is_one_clear_line(phantom_dir: Path, tmp_path: Path) -> None:
    result = run_cli(*_eval_args("http://127.0.0.1:9", phantom_dir, tmp_path / "r"))
    assert result.returncode == 2
    assert "cannot reach the model server" in result.stderr
    assert "Traceback" not in result.stderr
