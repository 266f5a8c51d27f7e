"""Runs survive faulty servers and kills: the summary is the one a clean run gives."""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from radrbench.dev._mock_responders import echo_reply
from radrbench.dev.mock_openai import MockConfig, serve_mock, start_mock_process
from radrbench.eval.endpoint import Endpoint
from radrbench.eval.prefetch import Plan, planned_requests
from radrbench.eval.requests import Generation
from radrbench.tasks.catalog import expand_tasks
from radrbench.tasks.prompts import get_profile
from tests.conftest import mock_eval_args, run_cli, stable_summary

pytestmark = [pytest.mark.server, pytest.mark.slow]
LIMIT = 4
FAULTS = {
    "429": 0.04,
    "500": 0.04,
    "reset": 0.04,
    "timeout": 0.03,
    "truncate": 0.03,
    "slow_stream": 0.02,
}  # 20 % of attempts


def _args(url: str, data: Path, out: Path, *extra: str) -> list[str]:
    return mock_eval_args(url, data, out, LIMIT, "--timeout", "2", *extra)


def _done_keys(run: Path) -> set[str]:
    log = run / "requests.jsonl"
    if not log.exists():
        return set()
    return {
        json.loads(line)["key"]
        for line in log.read_text().splitlines()
        if json.loads(line)["status"] == "ok"
    }


@pytest.fixture(scope="module")
def clean_summary(phantom_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    run = tmp_path_factory.mktemp("clean") / "run"
    with start_mock_process(MockConfig()) as server:
        result = run_cli(*_args(server.base_url, phantom_dir, run))
    assert result.returncode == 0, result.stderr
    return stable_summary(run)


def test_twenty_percent_faults_give_the_clean_summary(
    phantom_dir: Path, tmp_path: Path, clean_summary: dict[str, Any]
) -> None:
    config = MockConfig(
        latency=0.02, faults=FAULTS, seed=7, retry_after=0.2, hang_seconds=5, slow_seconds=0.5
    )
    with start_mock_process(config) as server:
        result = run_cli(*_args(server.base_url, phantom_dir, tmp_path / "run"))
        stats = server.stats()
    assert result.returncode == 0, result.stderr
    assert sum(stats.faults.values()) >= 5, stats.faults  # faults really happened
    assert stable_summary(tmp_path / "run") == clean_summary


def test_three_kills_then_resume(
    phantom_dir: Path, tmp_path: Path, clean_summary: dict[str, Any]
) -> None:
    run = tmp_path / "run"
    specs = expand_tasks(["radrbench_demo"])
    plan = Plan(
        specs,
        {s.name: phantom_dir for s in specs},
        get_profile("radrbench"),
        Generation(seed=1234),
        LIMIT,
    )
    rng = random.Random(3)
    with start_mock_process(MockConfig(latency=0.25)) as server:
        requests = list(
            planned_requests(plan, Endpoint(base_url=server.base_url, model="mock-model"))
        )
        body_hash = {r.key: hashlib.sha256(r.body).hexdigest()[:16] for r in requests}
        for _ in range(3):
            done = _done_keys(run)
            server.reset()
            argv = [sys.executable, "-m", "radrbench", *_args(server.base_url, phantom_dir, run)]
            process = subprocess.Popen(
                argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
            )
            target = len(done) + rng.randint(1, max(1, (len(requests) - len(done)) // 3))
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and len(_done_keys(run)) < target:
                time.sleep(0.02)
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(30)
            time.sleep(0.5)
            resent = {r.body_sha256 for r in server.records()} & {body_hash[k] for k in done}
            assert not resent, "a finished request was sent again"
        done = _done_keys(run)
        assert 0 < len(done) < len(requests)
        server.reset()
        result = run_cli(*_args(server.base_url, phantom_dir, run))
        assert result.returncode == 0, result.stderr
        resent = {r.body_sha256 for r in server.records()} & {body_hash[k] for k in done}
        assert not resent
        assert server.stats().count == len(requests) - len(done)
    assert stable_summary(run) == clean_summary


def test_final_failure_stops_with_a_clear_message(phantom_dir: Path, tmp_path: Path) -> None:
    def responder(request: dict[str, Any], attempt: int = 0) -> str:
        text = json.dumps(request["messages"])
        if "progression" in text:
            raise RuntimeError("this model cannot do temporal questions")
        return echo_reply(request, attempt)

    run = tmp_path / "run"
    with serve_mock(MockConfig(responder=lambda r: responder(r))) as server:
        result = run_cli(*_args(server.base_url, phantom_dir, run, "--max-retries", "1"))
    assert result.returncode == 2
    err = result.stderr
    assert "Traceback" not in err
    assert "failed after 2 attempts: HTTP 500" in err and "run the same command again" in err
    kept = _done_keys(run)
    assert kept, "responses finished before the failure are kept"
    assert not (run / "summary.json").exists()
