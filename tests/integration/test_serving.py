"""Real model servers serving the tiny Qwen2-VL on 127.0.0.1: outputs match in-process.

The vLLM test needs ``.venv-vllm`` (``scripts/setup_vllm_cpu.sh``, which CI runs); without
it the test is skipped, unless ``RADRBENCH_REQUIRE_VLLM=1`` (CI) makes that a failure.
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import pytest

from radrbench.baselines import get_baseline
from radrbench.baselines.serving import VLLM_VENV_PYTHON, start_server
from tests.conftest import run_cli

pytestmark = [pytest.mark.server, pytest.mark.slow]
LIMIT, TOKENS = "2", "24"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _outputs(run: Path) -> dict[str, str]:
    entries = [json.loads(line) for line in (run / "requests.jsonl").read_text().splitlines()]
    return {e["sample_id"]: e["text"] for e in entries if e["status"] == "ok"}


@pytest.fixture(scope="module")
def in_process(
    tiny_qwen2vl: Path, phantom_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, str]:
    run = tmp_path_factory.mktemp("inproc") / "run"
    result = run_cli(
        "eval",
        "--hf",
        str(tiny_qwen2vl),
        "--data",
        str(phantom_dir),
        "--limit",
        LIMIT,
        "--max-tokens",
        TOKENS,
        "--out",
        str(run),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    outputs = _outputs(run)
    assert len(outputs) >= 14 and all(len(text) > 0 for text in outputs.values())
    return outputs


def _served_eval(engine: str, tiny: Path, data: Path, out: Path) -> tuple[dict[str, str], str]:
    port = _free_port()
    log = out.parent / f"{engine}.log"
    server = start_server(
        get_baseline("tiny-qwen2-vl"),
        port=port,
        model_path=str(tiny),
        engine=engine,
        log_path=log,
        startup_timeout_s=600,
    )  # type: ignore[arg-type]
    try:
        result = run_cli(
            "eval",
            "--baseline",
            "tiny-qwen2-vl",
            "--port",
            str(port),
            "--data",
            str(data),
            "--limit",
            LIMIT,
            "--max-tokens",
            TOKENS,
            "--out",
            str(out),
        )
    finally:
        server.stop()
    assert result.returncode == 0, result.stderr[-3000:]
    return _outputs(out), result.stdout


def test_transformers_server_matches_in_process(
    tiny_qwen2vl: Path, phantom_dir: Path, tmp_path: Path, in_process: dict[str, str]
) -> None:
    served, stdout = _served_eval("transformers", tiny_qwen2vl, phantom_dir, tmp_path / "run")
    assert served == in_process
    assert "overall" in stdout


def test_vllm_server_matches_in_process(
    tiny_qwen2vl: Path, phantom_dir: Path, tmp_path: Path, in_process: dict[str, str]
) -> None:
    if not VLLM_VENV_PYTHON.exists():
        if os.environ.get("RADRBENCH_REQUIRE_VLLM") == "1":
            pytest.fail(".venv-vllm is missing: run scripts/setup_vllm_cpu.sh")
        pytest.skip(".venv-vllm is missing: run scripts/setup_vllm_cpu.sh to test vLLM")
    served, stdout = _served_eval("vllm", tiny_qwen2vl, phantom_dir, tmp_path / "run")
    assert served == in_process
    assert "overall" in stdout


def test_eval_starts_and_stops_the_server_itself(
    tiny_qwen2vl: Path, phantom_dir: Path, tmp_path: Path
) -> None:
    port = _free_port()
    result = run_cli(
        "eval",
        "--baseline",
        "tiny-qwen2-vl",
        "--engine",
        "transformers",
        "--model-path",
        str(tiny_qwen2vl),
        "--port",
        str(port),
        "--data",
        str(phantom_dir),
        "--limit",
        "1",
        "--max-tokens",
        "8",
        "--out",
        str(tmp_path / "run"),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "starting tiny-qwen2-vl" in result.stderr
    with socket.socket() as probe:  # the server was stopped: the port is free again
        probe.bind(("127.0.0.1", port))


def test_busy_port_and_missing_model_are_clear_errors(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        busy = run_cli("serve", "tiny-qwen2-vl", "--engine", "transformers", "--port", str(port))
    assert busy.returncode == 2 and f"port {port} is already in use" in busy.stderr
    missing = run_cli(
        "serve",
        "tiny-qwen2-vl",
        "--engine",
        "transformers",
        "--port",
        str(_free_port()),
        "--model-path",
        str(tmp_path / "nothing"),
        "--startup-timeout",
        "120",
        "--log",
        str(tmp_path / "s.log"),
    )
    assert missing.returncode == 2 and "exited during startup" in missing.stderr
    assert "Traceback" not in missing.stderr.split("exited during startup")[0]
