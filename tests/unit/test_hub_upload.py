"""The push guard (no secrets leave the machine), the provenance commands and the disk-space
check, without a Hub."""

from __future__ import annotations

from pathlib import Path

import pytest

from radrbench.errors import DataError, ServerError
from radrbench.hub.provenance import eval_command
from radrbench.hub.push import check_upload
from radrbench.hub.weights import LEGACY_WEIGHTS, DownloadPlan, check_space, serving_patterns


def test_environment_secrets_and_token_shapes_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", "plain-looking-secret-value")
    check_upload({"results/r/summary.json": b'{"model": "m"}'})
    cases = {
        b"plain-looking-secret-value": "$AZURE_OPENAI_API_KEY",
        b"hf_" + b"a" * 34: "a Hugging Face token",
        b"sk-" + b"b" * 40: "an OpenAI-style API key",
        b"Authorization: Bearer " + b"c" * 30: "a bearer token",
    }
    for secret, kind in cases.items():
        with pytest.raises(DataError) as caught:
            check_upload({"ok.json": b"{}", "results/r/config.json": b"x " + secret})
        message = str(caught.value)
        assert message.startswith("results/r/config.json: holds ") and kind in message
        assert secret.decode() not in message


def test_eval_command_from_a_resolved_config() -> None:
    config = {
        "model": {"kind": "endpoint", "name": "m", "base_url": "http://127.0.0.1:8000/v1"},
        "tasks": ["radrbench_demo"],
        "data_dir": "/data/my bench",
        "limit": None,
        "prompt_profile": "radrbench",
        "seed": 1234,
    }
    assert eval_command(config) == (
        "radrbench eval --endpoint http://127.0.0.1:8000/v1 --model m --tasks radrbench_demo "
        "--data '/data/my bench' --prompt-profile radrbench --seed 1234"
    )
    baseline = {**config, "model": {"kind": "endpoint", "name": "q", "baseline": "qwen2-vl-7b"}}
    assert str(eval_command(baseline)).startswith("radrbench eval --baseline qwen2-vl-7b --tasks")
    assert eval_command({"predictions": "x"}) is None


def test_weights_that_do_not_fit_stop_before_the_download(tmp_path: Path) -> None:
    plan = DownloadPlan(
        "Qwen/Qwen2-VL-7B-Instruct",
        "main",
        "e" * 40,
        total_bytes=16_600_000_000,
        missing_bytes=16_500_000_000,
        free_bytes=9_000_000_000,
        cache_dir=tmp_path,
    )
    with pytest.raises(ServerError) as caught:
        check_space(plan)
    assert str(caught.value) == (
        f"{tmp_path}: not enough disk space: Qwen/Qwen2-VL-7B-Instruct@eeeeeeeeeeee: 16.60 GB "
        f"in all, 16.50 GB to download, 9.00 GB free in {tmp_path} (hint: free space there, or "
        "point HF_HOME (or HF_HUB_CACHE) at a larger disk)"
    )
    check_space(DownloadPlan("r", "main", "e" * 40, 10, 0, 0, tmp_path))  # all cached: fits


def test_bin_weights_only_where_there_are_no_safetensors() -> None:
    assert LEGACY_WEIGHTS not in serving_patterns(["model.safetensors", "pytorch_model.bin"])
    assert LEGACY_WEIGHTS in serving_patterns(["config.json", "pytorch_model.bin"])
