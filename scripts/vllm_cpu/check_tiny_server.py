"""Serve the tiny Qwen2-VL with vLLM on CPU and check greedy outputs against transformers.

Run with the main venv after ``scripts/setup_vllm_cpu.sh``::

    HF_HUB_OFFLINE=1 .venv/bin/python scripts/vllm_cpu/check_tiny_server.py [--tokens 64]

Builds the model (``radrbench.dev.tiny_model``), starts the vLLM OpenAI server from
``.venv-vllm`` on 127.0.0.1, sends each case as a chat completion with base64 PNG images at
temperature 0, and compares prompt and output token ids with ``model.generate`` in-process.
Prints startup time, peak RSS of the server's process tree and one line per case as JSON;
exits 1 when any case differs. The server is always stopped.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from radrbench.dev.tiny_model import build_tiny_qwen2vl

REPO = Path(__file__).resolve().parents[2]
VLLM_PYTHON = REPO / ".venv-vllm" / "bin" / "python"


def vllm_command(model_dir: Path, port: int) -> list[str]:
    """The server command line: float32, eager, one in-process worker, two images per prompt."""
    return [
        str(VLLM_PYTHON),
        "-m",
        "vllm.entrypoints.openai.api_server",
        "--model",
        str(model_dir),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--dtype",
        "float32",
        "--max-model-len",
        "4096",
        "--limit-mm-per-prompt",
        '{"image": 2, "video": 0}',
        "--max-num-seqs",
        "8",
        "--enforce-eager",
        "-O0",
        "--distributed-executor-backend",
        "uni",
        "--disable-log-stats",
    ]


# 1 GiB of KV cache; engine in the API server's process tree without a separate worker
# (about 600 MB less RSS and a faster start than vLLM's default).
SERVER_ENV = {
    "HF_HUB_OFFLINE": "1",
    "VLLM_CPU_KVCACHE_SPACE": "1",
    "VLLM_ENABLE_V1_MULTIPROCESSING": "0",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def tree_rss_bytes(root: int) -> int:
    """Resident memory of ``root`` and all its descendants (Linux /proc)."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            rss[int(entry.name)] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
            children.setdefault(int(fields[1]), []).append(int(entry.name))
        except (OSError, IndexError, ValueError):
            continue
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        total += rss.get(pid, 0)
        stack.extend(children.get(pid, []))
    return total


def log_tail(path: Path, lines: int = 40) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


@dataclass
class RunningServer:
    """A started server: its base URL, start-up time and the peak RSS seen so far."""

    pid: int
    url: str
    startup_s: float = 0.0
    peak_rss: int = 0

    def sample_rss(self) -> int:
        self.peak_rss = max(self.peak_rss, tree_rss_bytes(self.pid))
        return self.peak_rss


@contextmanager
def vllm_server(model_dir: Path, log_path: Path, timeout_s: float) -> Iterator[RunningServer]:
    """Start the server in its own session, wait for /health, stop the whole session after."""
    port = free_port()
    env = dict(os.environ, **SERVER_ENV)
    started = time.monotonic()
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            vllm_command(model_dir, port),
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    server = RunningServer(proc.pid, f"http://127.0.0.1:{port}")
    try:
        while True:
            server.sample_rss()
            if proc.poll() is not None:
                raise SystemExit(f"vLLM exited with {proc.returncode}:\n{log_tail(log_path)}")
            if time.monotonic() - started > timeout_s:
                raise SystemExit(f"vLLM not healthy after {timeout_s:.0f}s:\n{log_tail(log_path)}")
            try:
                with urllib.request.urlopen(f"{server.url}/health", timeout=2):
                    break
            except (urllib.error.URLError, OSError):
                time.sleep(0.5)
        server.startup_s = time.monotonic() - started
        yield server
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def noise_image(seed: int, width: int, height: int) -> Image.Image:
    pixels = (np.random.default_rng(seed).random((height, width)) * 255).astype(np.uint8)
    return Image.fromarray(pixels, "L").convert("RGB")


def data_url(image: Image.Image) -> str:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


# (name, content parts with None standing for the next image, image sizes)
CASES: list[tuple[str, list[str | None], list[tuple[int, int]]]] = [
    ("one image 112x112", [None, "Is there a pleural effusion?"], [(112, 112)]),
    ("one image 300x250 (resized)", [None, "Describe the findings."], [(300, 250)]),
    (
        "two images 224x168",
        ["Prior: ", None, " Current: ", None, " Has the effusion improved?"],
        [(224, 168), (224, 168)],
    ),
    ("text only", ["Let's think step by step."], []),
]


def run_case(
    model: Any, processor: Any, url: str, model_dir: Path, case_index: int, tokens: int
) -> dict[str, Any]:
    import torch

    name, parts, sizes = CASES[case_index]
    images = [noise_image(case_index * 10 + i, w, h) for i, (w, h) in enumerate(sizes)]
    hf_parts: list[dict[str, str]] = []
    api_parts: list[dict[str, Any]] = []
    pending = iter(images)
    for part in parts:
        if part is None:
            hf_parts.append({"type": "image"})
            api_parts.append({"type": "image_url", "image_url": {"url": data_url(next(pending))}})
        else:
            hf_parts.append({"type": "text", "text": part})
            api_parts.append({"type": "text", "text": part})

    text = processor.apply_chat_template(
        [{"role": "user", "content": hf_parts}], add_generation_prompt=True
    )
    inputs = processor(text=[text], images=images or None, return_tensors="pt")
    with torch.no_grad():
        output = model.generate(**inputs, max_new_tokens=tokens, do_sample=False)
    hf_prompt = inputs["input_ids"][0].tolist()
    hf_output = output[0, len(hf_prompt) :].tolist()

    body = {
        "model": str(model_dir),
        "messages": [{"role": "user", "content": api_parts}],
        "temperature": 0,
        "max_tokens": tokens,
        "return_token_ids": True,
    }
    request = urllib.request.Request(
        f"{url}/v1/chat/completions",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    started = time.monotonic()
    with urllib.request.urlopen(request, timeout=300) as response:
        reply = json.load(response)
    choice = reply["choices"][0]
    server_output = choice.get("token_ids") or []
    agree = next(
        (i for i, (a, b) in enumerate(zip(hf_output, server_output, strict=False)) if a != b),
        min(len(hf_output), len(server_output)),
    )
    return {
        "case": name,
        "prompt_tokens_equal": reply.get("prompt_token_ids") == hf_prompt,
        "prompt_tokens": len(hf_prompt),
        "output_equal": server_output == hf_output,
        "tokens_agreeing": agree,
        "tokens": len(hf_output),
        "text_equal": choice["message"]["content"]
        == processor.tokenizer.decode(hf_output, skip_special_tokens=True),
        "request_s": round(time.monotonic() - started, 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", type=Path, help="default: a fresh temporary directory")
    parser.add_argument("--tokens", type=int, default=64, help="new tokens per case")
    parser.add_argument("--timeout", type=float, default=600.0, help="server start-up limit (s)")
    args = parser.parse_args()
    if not VLLM_PYTHON.is_file():
        raise SystemExit(f"{VLLM_PYTHON} is missing: run scripts/setup_vllm_cpu.sh first")

    import torch
    from transformers import AutoProcessor, Qwen2VLForConditionalGeneration

    with tempfile.TemporaryDirectory(prefix="tiny-qwen2vl-") as scratch:
        model_dir = build_tiny_qwen2vl(args.model_dir or Path(scratch) / "model")
        processor = AutoProcessor.from_pretrained(model_dir)  # type: ignore[no-untyped-call]
        model = Qwen2VLForConditionalGeneration.from_pretrained(model_dir, dtype=torch.float32)
        model.eval()  # type: ignore[no-untyped-call]
        log_path = Path(scratch) / "vllm.log"
        with vllm_server(model_dir, log_path, args.timeout) as server:
            print(json.dumps({"env": SERVER_ENV, "command": vllm_command(model_dir, 0)[1:]}))
            print(json.dumps({"startup_s": round(server.startup_s, 1)}))
            results = []
            for index in range(len(CASES)):
                result = run_case(model, processor, server.url, model_dir, index, args.tokens)
                results.append(result)
                server.sample_rss()
                print(json.dumps(result))
            print(json.dumps({"peak_rss_mib": server.sample_rss() // 2**20}))
    ok = all(r["output_equal"] and r["prompt_tokens_equal"] and r["text_equal"] for r in results)
    print("greedy outputs match" if ok else "greedy outputs DIFFER")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
