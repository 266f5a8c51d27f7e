"""The task YAMLs work with stock lm-eval (its own CLI and its own API model)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from radrbench.dev.mock_openai import MockConfig, serve_mock
from radrbench.resources import resource_dir
from radrbench.tasks.catalog import GROUPS, TASKS

LM_EVAL = str(Path(sys.executable).parent / "lm-eval")
TASKS_DIR = str(resource_dir("tasks"))


def _lm_eval(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [LM_EVAL, *args],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
        env={**os.environ, "TQDM_DISABLE": "1"},
    )


def _run_demo(
    model: str, model_args: str, limit: int, metadata: dict[str, str], out: Path, *extra: str
) -> dict[str, Any]:
    """Stock ``lm-eval run`` of ``radrbench_demo`` with the chat template; its results."""
    result = _lm_eval(
        "run",
        "--model",
        model,
        "--model_args",
        model_args,
        "--apply_chat_template",
        "--include_path",
        TASKS_DIR,
        "--tasks",
        "radrbench_demo",
        "--limit",
        str(limit),
        "--metadata",
        json.dumps(metadata),
        "--output_path",
        str(out),
        *extra,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    results: dict[str, Any] = json.loads(next(out.rglob("results_*.json")).read_text())["results"]
    return results


def test_yaml_files_match_the_catalog() -> None:
    names = {p.stem for p in Path(TASKS_DIR).glob("radrbench_*.yaml")}
    assert names == set(TASKS)
    for group, members in GROUPS.items():
        text = (Path(TASKS_DIR) / f"_{group}.yaml").read_text()
        assert all(f"- {m}\n" in text for m in members)
    for name, spec in TASKS.items():
        text = (Path(TASKS_DIR) / f"{name}.yaml").read_text()
        assert f"source: {spec.source}\n" in text and f"family: {spec.family}\n" in text


def test_lm_eval_validate() -> None:
    result = _lm_eval(
        "validate",
        "--include_path",
        TASKS_DIR,
        "--tasks",
        "radrbench_demo,radrbench_cxr," + ",".join(TASKS),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "All tasks found and valid" in result.stdout


@pytest.mark.server
@pytest.mark.slow
def test_local_chat_completions_with_two_images(phantom_dir: Path, tmp_path: Path) -> None:
    seen: list[dict[str, Any]] = []

    def responder(request: dict[str, Any]) -> str:
        content = request["messages"][-1]["content"]
        images = [part for part in content if part.get("type") == "image_url"]
        text = " ".join(part["text"] for part in content if part.get("type") == "text")
        seen.append({"images": len(images), "text": text})
        return "<think>Looks fine.</think><answer>A</answer>"

    with serve_mock(MockConfig(responder=responder)) as server:
        results = _run_demo(
            "local-chat-completions",
            f"base_url={server.base_url}/chat/completions,model=mock-model,"
            "max_images=2,tokenizer_backend=none,num_concurrent=2",
            2,
            {"data_dir": str(phantom_dir)},
            tmp_path / "out",
        )
    temporal = [r for r in seen if "progression" in r["text"]]
    assert temporal and all(r["images"] == 2 for r in temporal)
    assert all(r["images"] == 1 for r in seen if r not in temporal)
    assert all("Enclose the reasoning within <think></think>" in r["text"] for r in seen)
    assert results["radrbench_phantom_binary"]["accuracy,none"] in (0.0, 0.5, 1.0)
    assert "label_f1,none" in results["radrbench_phantom_multi_open"]


@pytest.mark.slow
def test_hf_multimodal_in_process_with_the_tiny_model(
    tiny_qwen2vl: Path, phantom_dir: Path, tmp_path: Path
) -> None:
    results = _run_demo(
        "hf-multimodal",
        f"pretrained={tiny_qwen2vl},max_images=2,dtype=float32",
        1,
        {"data_dir": str(phantom_dir), "judge": "offline"},
        tmp_path / "out",
        "--device",
        "cpu",
        "--gen_kwargs",
        "max_gen_toks=8",
    )
    assert set(results) >= {f"radrbench_phantom_{f}" for f in ("binary", "temporal", "rsna_binary")}
    assert "radrscore,none" in results["radrbench_phantom_temporal"]
    assert "radrscore,none" not in results["radrbench_phantom_rsna_binary"]
    assert results["radrbench_phantom_binary"]["parse_failed,none"] in (0.0, 1.0)
