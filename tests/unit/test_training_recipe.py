"""Training recipes, Sample -> TRL conversion, metrics CSV and plots (no training)."""

from __future__ import annotations

from pathlib import Path

import pytest

from radrbench.errors import ConfigError, DataError
from radrbench.resources import resource_dir
from radrbench.tasks.prompts import build_prompt, get_profile, strip_placeholders
from radrbench.training.data import (
    FINDINGS_PROMPT,
    build_dataset,
    prompt_messages,
    select_samples,
    target_text,
)
from radrbench.training.logs import append_metrics, plot_run, read_metrics, truncate_metrics
from radrbench.training.recipe import Recipe, load_recipe
from radrbench.training.rewards import sample_from_json
from radrbench.training.train import gradient_accumulation, trainer_args
from tests.conftest import make_sample

RECIPES = sorted(resource_dir("training").glob("*.yaml"))


@pytest.mark.parametrize("path", RECIPES, ids=[p.stem for p in RECIPES])
def test_shipped_recipes_load(path: Path) -> None:
    recipe = load_recipe(path)
    # SFT with the findings target is the (toy) pretraining stage
    stage = "pretrain" if recipe.data.target == "findings" else recipe.stage
    assert recipe.name and stage in path.stem


def test_7b_recipes_hold_the_papers_settings() -> None:
    sft = load_recipe(resource_dir("training") / "chestx_reasoner_7b_sft.yaml")
    assert sft.model.path == "Qwen/Qwen2-VL-7B-Instruct" and sft.model.image_size == 448
    assert sft.global_batch_size == 128
    assert sft.trainer["learning_rate"] == 2e-6
    assert sft.trainer["lr_scheduler_type"] == "cosine"
    assert sft.trainer["warmup_steps"] == 0.1 and sft.trainer["num_train_epochs"] == 5
    grpo = load_recipe(resource_dir("training") / "chestx_reasoner_7b_grpo.yaml")
    assert grpo.global_batch_size == 256 and grpo.trainer["learning_rate"] == 5e-7
    assert grpo.trainer["num_generations"] == 8 and grpo.trainer["beta"] == 0.001
    assert grpo.trainer["max_completion_length"] == 2048
    assert grpo.trainer["vllm_max_model_length"] == 4096
    assert grpo.trainer["num_train_epochs"] == 3 and grpo.trainer["use_vllm"] is True
    assert grpo.reward_settings.process is not None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name: x\nstage: sft\nmodel: {path: m}\noutput_dir: o\nbogus: 1\n", "bogus"),
        ("name: x\nstage: dpo\nmodel: {path: m}\noutput_dir: o\n", "stage"),
        ("name: x\nstage: sft\nmodel: {path: m}\noutput_dir: o\nrewards: {}\n", "grpo only"),
        ("name: x\nstage: vision\nmodel: {path: m}\noutput_dir: o\n", "image_size"),
        (
            "name: x\nstage: sft\nmodel: {path: m}\noutput_dir: o\ntrainer: {output_dir: y}\n",
            "set by",
        ),
        ("- a list\n", "mapping"),
        ("name: [unclosed\n", "YAML"),
    ],
)
def test_bad_recipes_name_file_and_field(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "recipe.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_recipe(path)
    assert str(path) in str(caught.value) and message in str(caught.value)


def test_cpu_runs_float32_without_checkpointing_unless_the_recipe_asks(tmp_path: Path) -> None:
    plain = Recipe(name="x", stage="sft", model={"path": "m"}, output_dir="o")
    args = trainer_args(plain, tmp_path, cpu=True)
    assert args.bf16 is False and args.gradient_checkpointing is False
    asked = plain.model_copy(update={"trainer": {"gradient_checkpointing": True}})
    assert trainer_args(asked, tmp_path, cpu=True).gradient_checkpointing is True


def test_vision_stage_gets_trainer_arguments_with_epoch_evaluation(tmp_path: Path) -> None:
    recipe = Recipe(
        name="x",
        stage="vision",
        model={"path": "m", "image_size": 56},
        output_dir="o",
        eval={"samples": 4},
    )
    args = trainer_args(recipe, tmp_path, cpu=True)
    assert type(args).__name__ == "TrainingArguments"
    assert args.eval_strategy == "epoch" and args.remove_unused_columns is False


def test_balanced_accuracy_averages_the_two_rates() -> None:
    import numpy as np

    from radrbench.training.vision import balanced_accuracy

    logits = np.array([[1.0, -1.0], [-1.0, -1.0], [1.0, 1.0], [-1.0, 1.0]])
    truth = np.array([[1, 0], [1, 0], [0, 0], [0, 1]], dtype=np.float32)
    # label 0: 1 of 2 positives, 1 of 2 negatives right; label 1: 1 of 1, 2 of 3 right
    assert balanced_accuracy(logits, truth).tolist() == pytest.approx([0.5, (1 + 2 / 3) / 2])


def test_unknown_trainer_setting_is_a_config_error(tmp_path: Path) -> None:
    recipe = Recipe(
        name="x", stage="sft", model={"path": "m"}, output_dir="o", trainer={"lerning_rate": 1}
    )
    with pytest.raises(ConfigError, match="lerning_rate"):
        trainer_args(recipe, tmp_path, cpu=True)


def test_global_batch_sets_gradient_accumulation() -> None:
    sft = Recipe(name="x", stage="sft", model={"path": "m"}, output_dir="o", global_batch_size=128)
    assert gradient_accumulation(sft, per_device=2, processes=8) == 8
    grpo = Recipe(
        name="x",
        stage="grpo",
        model={"path": "m"},
        output_dir="o",
        global_batch_size=256,
        trainer={"num_generations": 8},
    )
    assert gradient_accumulation(grpo, per_device=8, processes=8) == 32
    with pytest.raises(ConfigError, match="multiple"):
        gradient_accumulation(sft, per_device=3, processes=8)


def test_prompt_is_the_evaluation_prompt_with_image_placeholders() -> None:
    sample = make_sample("s1", "img.png")
    for name in ("radrbench", "chestx-reasoner"):
        profile = get_profile(name)
        messages = prompt_messages(sample, profile)
        user = messages[-1]
        assert user["role"] == "user"
        assert user["content"][0] == {"type": "image"}
        text = user["content"][-1]["text"]
        assert text == strip_placeholders(build_prompt(sample, profile))
        assert (messages[0]["role"] == "system") == (profile.system is not None)


def test_temporal_prompt_has_two_images_prior_first(tmp_path: Path) -> None:
    sample = make_sample(
        "t1",
        "current.png",
        task="temporal",
        images=[{"path": "current.png", "role": "current"}, {"path": "prior.png", "role": "prior"}],
        options={"A": "stable", "B": "worsening", "C": "improving"},
        answer="A",
    )
    for name in ("current.png", "prior.png"):
        (tmp_path / name).write_bytes(_png())
    dataset = build_dataset([sample], tmp_path, "grpo")
    row = dataset[0]
    assert [part["type"] for part in row["prompt"][-1]["content"]] == ["image", "image", "text"]
    assert len(row["images"]) == 2 and "completion" not in row
    assert sample_from_json(row["sample"]) == sample


def test_sft_rows_carry_the_target(tmp_path: Path) -> None:
    sample = make_sample("s1", "img.png")
    (tmp_path / "img.png").write_bytes(_png())
    row = build_dataset([sample], tmp_path, "sft")[0]
    target = row["completion"][0]["content"][0]["text"]
    assert target == target_text(sample)
    assert target == (
        "<think>The left costophrenic angle is blunted.\nThis is a pleural effusion.</think>"
        "<answer>A</answer>"
    )


def test_findings_rows_list_each_image_once(tmp_path: Path) -> None:
    labels = [{"label": "Pleural Effusion"}, {"label": "Cardiomegaly"}]
    samples = [
        make_sample("s1", "a.png", meta={"findings": labels}),
        make_sample("s2", "a.png", meta={"findings": labels}),  # another question, same image
        make_sample("s3", "b.png", meta={"findings": []}),
    ]
    for name in ("a.png", "b.png"):
        (tmp_path / name).write_bytes(_png())
    rows = build_dataset(samples, tmp_path, "sft", target="findings")
    assert len(rows) == 2
    targets = [row["completion"][0]["content"][0]["text"] for row in rows]
    assert targets == ["Findings: cardiomegaly, pleural effusion.", "Findings: none."]
    prompt = rows[0]["prompt"][0]["content"]
    assert prompt == [{"type": "image", "text": None}, {"type": "text", "text": FINDINGS_PROMPT}]
    with pytest.raises(DataError, match="no per-image finding labels"):
        build_dataset([make_sample("s4", "a.png")], tmp_path, "sft", target="findings")
    with pytest.raises(DataError, match="SFT only"):
        build_dataset(samples, tmp_path, "grpo", target="findings")


def test_missing_images_are_listed_at_once(tmp_path: Path) -> None:
    samples = [make_sample(f"s{i}", f"img{i}.png") for i in range(5)]
    with pytest.raises(Exception, match="5 image file"):
        build_dataset(samples, tmp_path, "sft")


def test_select_samples_filters_tasks_sources_and_reasoning() -> None:
    samples = [
        make_sample("a", "i.png"),
        make_sample("b", "i.png", task="single", options={"A": "x", "B": "y"}, answer="A"),
        make_sample("c", "i.png", source="phantom-rsna", reasoning=None, report=None),
    ]
    assert [s.id for s in select_samples(samples, tasks=["binary"])] == ["a"]
    assert [s.id for s in select_samples(samples)] == ["a", "b"]
    assert [s.id for s in select_samples(samples, require_reasoning=False, limit=3)] == [
        "a",
        "b",
        "c",
    ]


def test_metrics_csv_truncates_on_resume_and_plots(tmp_path: Path) -> None:
    for step in range(1, 5):
        append_metrics(
            tmp_path,
            step,
            {
                "loss": 1.0 / step,
                "rewards/process/mean": step / 10,
                "note": "text",
                "bad": float("nan"),
            },
        )
    append_metrics(
        tmp_path, 4, {"eval/accuracy": 0.5, "eval/accuracy_low": 0.4, "eval/accuracy_high": 0.6}
    )
    truncate_metrics(tmp_path, 3)
    series = read_metrics(tmp_path)
    assert [step for step, _ in series["loss"]] == [1, 2, 3]
    assert "note" not in series and "bad" not in series and "eval/accuracy" not in series
    plots = plot_run(tmp_path)
    assert {p.name for p in plots} == {"loss.png", "rewards.png"}
    assert all(p.stat().st_size > 1000 for p in plots)


def _png() -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("L", (32, 32), 80).save(buffer, format="PNG")
    return buffer.getvalue()
