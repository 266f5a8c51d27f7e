"""A new user's path: build from native source files, mine chains on a local server, then
validate and evaluate the result (the scripted miner and the mock model are real servers)."""

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
from tests.conftest import mock_eval_args, run_cli
from tests.source_files import write_mimic, write_ms_cxr_t

pytestmark = pytest.mark.server

MINER = "radrbench.dev.scripted_miner:reply"


def _build(tmp_path: Path, source: str = "mimic-cxr") -> Path:
    root = tmp_path / "source"
    (write_ms_cxr_t if source == "ms-cxr-t" else write_mimic)(root)
    bench = tmp_path / "bench"
    built = run_cli("build", "--source", source, "--root", str(root), "--out", str(bench))
    assert built.returncode == 0, built.stderr
    return bench


def _samples(bench: Path) -> list[dict[str, object]]:
    lines = (bench / "samples.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


def test_build_mine_validate_eval(tmp_path: Path) -> None:
    bench = _build(tmp_path)
    with start_mock_process(MockConfig(responder=MINER)) as miner:
        mined = run_cli("mine", str(bench), "--llm", f"openai:scripted@{miner.base_url}")
        assert mined.returncode == 0, mined.stderr
        sent = miner.stats().count
        summary = json.loads((bench / "mining" / "summary.json").read_text())
        again = run_cli("mine", str(bench), "--llm", f"openai:scripted@{miner.base_url}")
        assert again.returncode == 0, again.stderr
        assert miner.stats().count == sent  # nothing left to mine
    assert "chains accepted" in mined.stdout and "prompt +" in mined.stdout
    samples = _samples(bench)
    assert samples and all(s["reasoning"] for s in samples)
    record = samples[0]["meta"]["mining"]  # type: ignore[index]
    assert record["status"] == "accepted" and record["plan"] and record["llm"].startswith("openai:")
    assert summary["accepted"] == len(samples) and summary["prompt_tokens"] > 0

    validated = run_cli("data", "validate", str(bench))
    assert validated.returncode == 0, validated.stderr

    tasks = "radrbench_mimic_binary,radrbench_mimic_single,radrbench_mimic_multi"
    with start_mock_process(MockConfig()) as model:
        evaluated = run_cli(
            *mock_eval_args(model.base_url, bench, tmp_path / "run", 4, "--tasks", tasks)
        )
    assert evaluated.returncode == 0, evaluated.stderr
    result = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert set(result["tasks"]) == set(tasks.split(","))
    assert result["radrscore"]["overall"]["n"] == 3 * 4  # every sample has a mined chain


def test_temporal_chains_use_both_reports(tmp_path: Path) -> None:
    bench = _build(tmp_path, "ms-cxr-t")
    with start_mock_process(MockConfig(responder=MINER)) as miner:
        mined = run_cli("mine", str(bench), "--llm", f"openai:scripted@{miner.base_url}")
    assert mined.returncode == 0, mined.stderr
    samples = _samples(bench)
    assert all(len(s["images"]) == 2 for s in samples)  # type: ignore[arg-type]
    chain = samples[0]["reasoning"]
    assert any("prior image" in step for step in chain)  # type: ignore[union-attr]
    assert run_cli("data", "validate", str(bench)).returncode == 0


def test_rejected_chains_are_reported_not_kept(tmp_path: Path) -> None:
    bench = _build(tmp_path)
    unsupported = json.dumps(
        {
            "plan": ["Look at the lungs."],
            "steps": ["There is a large left pneumothorax.", "Therefore, the answer is A) Yes."],
        }
    )
    with start_mock_process(MockConfig(responder=f"fixed:{unsupported}")) as server:
        mined = run_cli("mine", str(bench), "--llm", f"openai:bad@{server.base_url}")
    assert mined.returncode == 0, mined.stderr
    assert "rejected chains by reason" in mined.stdout
    assert "finding not in the report" in mined.stdout
    samples = _samples(bench)
    assert not any(s.get("reasoning") for s in samples)
    rejected = (bench / "mining" / "rejected.jsonl").read_text().splitlines()
    assert len(rejected) == len(samples)
    assert all(s["meta"]["mining"]["reasons"] for s in samples)  # type: ignore[index]
    assert run_cli("data", "validate", str(bench)).returncode == 0


def test_killed_mining_resumes_without_resending(tmp_path: Path) -> None:
    bench = _build(tmp_path)
    with start_mock_process(MockConfig(responder=MINER, latency=0.2)) as miner:
        llm = f"openai:scripted@{miner.base_url}"
        argv = [
            sys.executable,
            "-m",
            "radrbench",
            "mine",
            str(bench),
            "--llm",
            llm,
            "--concurrency",
            "2",
        ]
        process = subprocess.Popen(
            argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        log = bench / "mining" / "log.jsonl"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if log.exists() and len(log.read_text().splitlines()) >= 5:
                break
            time.sleep(0.05)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(30)
        finished = len(log.read_text().splitlines())
        assert 0 < finished < len(_samples(bench))
        time.sleep(0.5)
        before = miner.stats().count
        resumed = run_cli("mine", str(bench), "--llm", llm)
        assert resumed.returncode == 0, resumed.stderr
        assert f"{finished} from an earlier run" in resumed.stdout
        # finished samples are not asked again; cached calls of unfinished ones neither
        assert miner.stats().count - before <= 3 * (len(_samples(bench)) - finished)
    assert all(s["reasoning"] for s in _samples(bench))


def test_credentialed_reports_refused_for_a_public_api(tmp_path: Path) -> None:
    bench = _build(tmp_path)
    refused = run_cli(
        "mine",
        str(bench),
        "--llm",
        "openai:gpt-4o@https://api.openai.com/v1",
        env={"OPENAI_API_KEY": "sk-test-not-a-key-000000000000"},
    )
    assert refused.returncode == 2
    assert "refusing to send mimic-cxr samples to api.openai.com" in refused.stderr
    assert "--i-understand-data-use" in refused.stderr and "Traceback" not in refused.stderr
    assert not (bench / "mining").exists()


def test_mining_retries_server_faults_and_counts_cost(tmp_path: Path) -> None:
    bench = _build(tmp_path)
    faults = {"429": 0.15, "500": 0.1, "reset": 0.05}
    config = MockConfig(responder=MINER, faults=faults, retry_after=0.05)
    with start_mock_process(config) as server:
        mined = run_cli(
            "mine",
            str(bench),
            "--llm",
            f"openai:scripted@{server.base_url}",
            "--input-price",
            "2.5",
            "--output-price",
            "10",
        )
        sent = server.stats().count
    assert mined.returncode == 0, mined.stderr
    summary = json.loads((bench / "mining" / "summary.json").read_text())
    assert summary["failed"] == 0 and summary["accepted"] == len(_samples(bench))
    assert summary["requests"] == sent and summary["retries"] > 0
    expected = (summary["prompt_tokens"] * 2.5 + summary["completion_tokens"] * 10) / 1e6
    assert summary["cost_usd"] == pytest.approx(expected) and expected > 0
    assert f"${expected:.4f}" in mined.stdout


def test_unreachable_server_is_one_clear_line(tmp_path: Path) -> None:
    bench = _build(tmp_path)
    result = run_cli(
        "mine", str(bench), "--llm", "openai:m@http://127.0.0.1:9/v1", "--max-retries", "0"
    )
    assert result.returncode == 2
    assert "cannot reach the mining LLM at http://127.0.0.1:9/v1" in result.stderr
    assert "Traceback" not in result.stderr
    assert all("mining" not in s["meta"] for s in _samples(bench))  # type: ignore[operator]
