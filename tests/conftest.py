"""Shared fixtures: small hand-made benchmarks, the phantom demo set and the tiny model."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image

from radrbench.data.benchmark import write_benchmark
from radrbench.data.schema import Sample

os.environ.setdefault("HF_HUB_OFFLINE", "1")
# radrbench's user caches (demo set, judge and embedding caches) go to a fresh folder.
os.environ.setdefault("RADRBENCH_CACHE", tempfile.mkdtemp(prefix="radrbench-test-cache-"))
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

REPO_ROOT = Path(__file__).resolve().parents[1]


def make_sample(sample_id: str, image: str, **overrides: object) -> Sample:
    record: dict[str, object] = {
        "id": sample_id,
        "source": "phantom",
        "task": "binary",
        "split": "test",
        "images": [{"path": image}],
        "question": "Does this chest X-ray show pleural effusion?\nOptions:\nA) Yes\nB) No",
        "options": {"A": "Yes", "B": "No"},
        "answer": "A",
        "answer_text": "Yes",
        "findings": ["Pleural Effusion"],
        "reasoning": ["The left costophrenic angle is blunted.", "This is a pleural effusion."],
        "report": "FINDINGS: Small left pleural effusion. IMPRESSION: Left effusion.",
    }
    record.update(overrides)
    return Sample.model_validate(record)


@pytest.fixture
def small_benchmark(tmp_path: Path) -> Callable[[int], Path]:
    """Factory: a valid benchmark of ``n`` binary samples with real PNGs."""

    def build(n: int = 3) -> Path:
        bench = tmp_path / "bench"
        (bench / "images").mkdir(parents=True)
        samples = []
        for i in range(n):
            name = f"img{i}.png"
            Image.new("L", (32, 32), color=40 + i).save(bench / "images" / name)
            samples.append(make_sample(f"s{i}", name))
        write_benchmark(bench, samples, name="small", version="0")
        return bench

    return build


@pytest.fixture(scope="session")
def phantom_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small phantom benchmark (every family and source), generated once per session."""
    from radrbench.data.phantom import generate_demo

    out = tmp_path_factory.mktemp("phantom") / "bench"
    generate_demo(out, studies=24, seed=0)
    return out


@pytest.fixture(scope="session")
def tiny_qwen2vl(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny random Qwen2-VL (seed 0), built once per test session (offline)."""
    from radrbench.dev.tiny_model import build_tiny_qwen2vl

    return build_tiny_qwen2vl(tmp_path_factory.mktemp("tiny-qwen2vl") / "model")


def run_cli(
    *args: str, env: dict[str, str] | None = None, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m radrbench ARGS`` in a subprocess (as a user would)."""
    return subprocess.run(
        [sys.executable, "-m", "radrbench", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        check=False,
    )


def mock_eval_args(base_url: str, data: Path, out: Path, limit: int, *extra: str) -> list[str]:
    """`radrbench eval` arguments for the mock server's model, 4 requests in flight."""
    return [
        "eval",
        "--endpoint",
        base_url,
        "--model",
        "mock-model",
        "--data",
        str(data),
        "--limit",
        str(limit),
        "--out",
        str(out),
        "--concurrency",
        "4",
        *extra,
    ]


def stable_summary(run_dir: Path) -> dict[str, object]:
    """summary.json without what differs between executions (``run``, ``run_id``)."""
    import json

    summary: dict[str, object] = json.loads((run_dir / "summary.json").read_text())
    del summary["run"], summary["run_id"]
    return summary
