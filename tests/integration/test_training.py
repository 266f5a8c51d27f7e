"""SFT and GRPO on TRL with the tiny Qwen2-VL on CPU: checkpoints, resume, logs, eval, dry runs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from radrbench.resources import resource_dir
from radrbench.training.logs import read_metrics
from radrbench.training.recipe import Recipe, load_recipe
from radrbench.training.train import run_recipe
from tests.conftest import run_cli

pytestmark = pytest.mark.slow


def _recipe(tmp_path: Path, stage: str, model: Path, data: Path, **trainer: Any) -> Path:
    recipe: dict[str, Any] = {
        "name": f"test-{stage}",
        "stage": stage,
        "model": {"path": str(model), "dtype": "float32", "image_size": 56},
        "data": {"path": str(data), "split": "train", "tasks": ["binary"], "limit": 8},
        "output_dir": str(tmp_path / f"run-{stage}"),
        "trainer": {
            "per_device_train_batch_size": 2,
            "learning_rate": 1e-3,
            "save_steps": 1,
            "logging_steps": 1,
            **trainer,
        },
        "eval": {"samples": 2, "max_new_tokens": 8, "judge": "offline"},
    }
    path = tmp_path / f"{stage}.yaml"
    path.write_text(yaml.safe_dump(recipe))
    return path


def test_sft_checkpoints_refuses_reuse_resumes_and_is_evaluated(
    tmp_path: Path, tiny_qwen2vl: Path, phantom_dir: Path
) -> None:
    recipe = _recipe(tmp_path, "sft", tiny_qwen2vl, phantom_dir)
    run = tmp_path / "run-sft"
    first = run_cli("train", "sft", "--recipe", str(recipe), "--max-steps", "2")
    assert first.returncode == 0, first.stderr[-3000:]
    assert (run / "checkpoint-2" / "processor_config.json").is_file()
    assert "plots" in first.stdout and (run / "plots" / "loss.png").is_file()
    again = run_cli("train", "sft", "--recipe", str(recipe), "--max-steps", "3")
    assert again.returncode == 2 and "--resume" in again.stderr
    resumed = run_cli("train", "sft", "--recipe", str(recipe), "--max-steps", "3", "--resume")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert (run / "checkpoint-3").is_dir()
    series = read_metrics(run)
    assert [step for step, _ in series["loss"]] == [1, 2, 3]
    assert [step for step, _ in series["eval/accuracy"]] == [0, 1, 2, 3]
    assert {"eval/radrscore", "eval/format", "learning_rate"} <= set(series)
    other = _recipe(tmp_path, "sft", tiny_qwen2vl, phantom_dir, learning_rate=2e-3)
    refused = run_cli("train", "sft", "--recipe", str(other), "--resume")
    assert refused.returncode == 2 and "another recipe" in refused.stderr
    evaluated = run_cli(
        "eval",
        "--hf",
        str(run / "final"),
        "--tasks",
        "radrbench_phantom_binary",
        "--limit",
        "2",
        "--data",
        str(phantom_dir),
        "--out",
        str(tmp_path / "eval"),
        "--judge",
        "none",
        "--max-tokens",
        "8",
    )
    assert evaluated.returncode == 0, evaluated.stderr[-3000:]
    assert (tmp_path / "eval" / "summary.json").is_file()


def test_grpo_logs_each_reward_and_the_guard_share(
    tmp_path: Path, tiny_qwen2vl: Path, phantom_dir: Path
) -> None:
    path = _recipe(
        tmp_path,
        "grpo",
        tiny_qwen2vl,
        phantom_dir,
        num_generations=2,
        max_completion_length=16,
        beta=0.001,
    )
    recipe = load_recipe(path).model_copy(update={"eval": Recipe.model_fields["eval"].default})
    result = run_recipe(recipe, max_steps=1)
    series = read_metrics(result.run_dir)
    for name in ("rewards/format/mean", "rewards/outcome/mean", "rewards/process/mean"):
        assert name in series
    assert "process/guard_tripped" in series and "process/seconds" in series
    assert result.final_dir is not None and (result.final_dir / "config.json").is_file()
    assert {p.name for p in result.plots} >= {"rewards.png", "guards.png"}


def _weights(model_dir: Path) -> dict[str, Any]:
    from safetensors.torch import load_file

    return load_file(str(model_dir / "model.safetensors"))


def _changed(before: dict[str, Any], after: dict[str, Any], part: str) -> set[bool]:
    """For each tensor whose name contains ``part``: whether training changed it."""
    import torch

    return {not torch.equal(before[n], after[n]) for n in before if part in n}


def test_vision_stage_trains_the_encoder_only_resumes_and_records_labels(
    tmp_path: Path, tiny_qwen2vl: Path, phantom_dir: Path
) -> None:
    path = _recipe(tmp_path, "vision", tiny_qwen2vl, phantom_dir, save_steps=2)
    recipe = yaml.safe_load(path.read_text())
    recipe["data"].update(tasks=None, limit=None)
    recipe["eval"] = {"samples": 6}
    path.write_text(yaml.safe_dump(recipe))
    run = tmp_path / "run-vision"
    first = run_cli("train", "vision", "--recipe", str(path), "--max-steps", "2")
    assert first.returncode == 0, first.stderr[-3000:]
    resumed = run_cli("train", "vision", "--recipe", str(path), "--max-steps", "3", "--resume")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    series = read_metrics(run)
    assert [step for step, _ in series["loss"]] == [1, 2, 3]
    assert "eval_balanced_accuracy" in series and "eval_balanced_accuracy/edema" in series
    record = json.loads((run / "final" / "vision_labels.json").read_text())
    assert "edema" in record["labels"] and 0 <= record["held_out"]["balanced_accuracy"] <= 1
    before, after = _weights(tiny_qwen2vl), _weights(run / "final")
    assert set(before) == set(after)  # the whole Qwen2-VL, without the head
    assert _changed(before, after, "visual.blocks.") == {True}
    assert _changed(before, after, "model.layers.") == {False}
    wrong = run_cli("train", "sft", "--recipe", str(path))
    assert wrong.returncode == 2 and "train vision" in wrong.stderr


def test_freeze_vision_keeps_the_encoder_and_trains_the_merger(
    tmp_path: Path, tiny_qwen2vl: Path, phantom_dir: Path
) -> None:
    recipe = load_recipe(_recipe(tmp_path, "sft", tiny_qwen2vl, phantom_dir))
    recipe = recipe.model_copy(
        update={
            "model": recipe.model.model_copy(update={"freeze_vision": True}),
            "eval": Recipe.model_fields["eval"].default,
        }
    )
    result = run_recipe(recipe, max_steps=2)
    assert result.final_dir is not None
    before, after = _weights(tiny_qwen2vl), _weights(result.final_dir)
    assert _changed(before, after, "visual.blocks.") == {False}
    assert _changed(before, after, "visual.patch_embed.") == {False}
    assert True in _changed(before, after, "visual.merger.")
    assert True in _changed(before, after, "model.layers.")


@pytest.mark.parametrize("stage", ["sft", "grpo"])
def test_7b_recipes_build_their_trainers_on_the_tiny_model(stage: str) -> None:
    recipe = load_recipe(resource_dir("training") / f"chestx_reasoner_7b_{stage}.yaml")
    result = run_recipe(recipe, dry_run=True)
    assert result.final_dir is None and result.steps == 0
    settings = result.settings
    assert settings["learning_rate"] == recipe.trainer["learning_rate"]
    assert settings["num_train_epochs"] == recipe.trainer["num_train_epochs"]
    assert settings["gradient_accumulation_steps by processes"][8] == (8 if stage == "sft" else 32)
    if stage == "grpo":
        assert settings["num_generations"] == 8 and settings["beta"] == 0.001
        assert settings["use_vllm"] is True


def test_two_cpu_processes_with_gloo(tmp_path: Path, tiny_qwen2vl: Path, phantom_dir: Path) -> None:
    """The same entry point under torchrun: 2 processes, one global batch of 4."""
    import subprocess
    import sys

    path = _recipe(tmp_path, "sft", tiny_qwen2vl, phantom_dir)
    recipe = yaml.safe_load(path.read_text())
    recipe["global_batch_size"] = 4
    recipe["eval"] = {"samples": 0}
    path.write_text(yaml.safe_dump(recipe))
    torchrun = Path(sys.executable).parent / "torchrun"
    done = subprocess.run(
        [
            *(str(torchrun), "--nproc_per_node", "2", "-m", "radrbench", "train", "sft"),
            *("--recipe", str(path), "--max-steps", "1"),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    run = tmp_path / "run-sft"
    assert (run / "final" / "model.safetensors").is_file()
    assert done.stdout.count("trained 1 steps") == 1  # only the main process reports


def test_demo_quick_runs_base_sft_grpo_and_continues(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    first = run_cli("train", "demo", "--quick", "--out", str(out))
    assert first.returncode == 0, first.stderr[-3000:]
    for name in ("base", "sft", "grpo"):
        assert (out / "eval" / name / "summary.json").is_file()
        assert f"│ {name}" in first.stdout
    assert "plot:" in first.stdout and "95% CI" in first.stdout
    assert "sft - base on the same 2 questions: accuracy" in first.stdout
    assert "grpo - sft on the same 2 questions" in first.stdout
    assert "rollouts tripping a process-reward guard" in first.stdout
    assert (out / "vision" / "final" / "vision_labels.json").is_file()  # the encoder's stage
    assert (out / "pretrain" / "final" / "config.json").is_file()  # the base model's stage
    results = out / "leaderboard" / "results"
    assert sorted(p.name for p in results.iterdir() if not p.name.startswith(".")) == [
        "base",
        "grpo",
        "sft",
    ]
    assert (out / "leaderboard" / "site" / "index.html").is_file()
    again = run_cli("train", "demo", "--quick", "--out", str(out))
    assert again.returncode == 0, again.stderr[-3000:]
    assert "exists, kept" in again.stdout
