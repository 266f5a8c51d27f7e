"""Run a recipe: SFT on TRL's ``SFTTrainer`` or GRPO on its ``GRPOTrainer``.

The run directory (``recipe.output_dir`` or ``--out``) holds::

    recipe.yaml        the resolved recipe (a resumed run must match it)
    checkpoint-N/      TRL/HF checkpoints (model, processor, optimizer, RNG state) every
                       ``trainer.save_steps`` steps; loadable by ``radrbench eval --hf``
    final/             the trained model and its processor
    metrics.csv        every logged value (loss, learning rate, reward means, guard shares,
                       checkpoint evaluations), one ``step,name,value`` row each
    plots/*.png        loss, rewards, guard shares, evaluation per checkpoint

The same entry point runs under ``accelerate launch`` and ``torchrun`` (the HF Trainer
reads the distributed environment; only the main process writes files).
"""

from __future__ import annotations

import logging
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from radrbench.errors import ConfigError, RunError
from radrbench.training.recipe import TINY_MODEL, Recipe, dump_recipe, load_recipe

log = logging.getLogger(__name__)

# What radrbench sets unless the recipe's trainer section says otherwise.
_DEFAULTS: dict[str, Any] = {
    "logging_steps": 1,
    "save_strategy": "steps",
    "save_steps": 50,
    "report_to": "none",
    "disable_tqdm": False,
    "dataloader_num_workers": 0,
    "seed": 0,
}
_STAGE_DEFAULTS: dict[str, dict[str, Any]] = {
    "sft": {"max_length": None, "completion_only_loss": True},
    "grpo": {"log_completions": False},
    "vision": {"remove_unused_columns": False, "label_names": ["labels"]},
}
DRY_RUN_SAMPLES = 8


@dataclass
class TrainResult:
    """What a finished (or dry) run produced."""

    run_dir: Path
    final_dir: Path | None
    steps: int
    plots: list[Path] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)
    """The trainer settings that matter for reproducing the paper (for the dry run)."""
    notes: list[str] = field(default_factory=list)


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def is_main_process() -> bool:
    return int(os.environ.get("RANK", "0")) == 0


def resolve_model_path(path: str) -> str:
    """The model to load: the built-in tiny model is built (once) into the cache."""
    if path != TINY_MODEL:
        return path
    from radrbench.data.demo_cache import cache_root
    from radrbench.dev.tiny_model import build_tiny_qwen2vl

    return str(build_tiny_qwen2vl(cache_root() / "models" / "tiny-qwen2-vl"))


def gradient_accumulation(recipe: Recipe, per_device: int, processes: int) -> int | None:
    """Accumulation steps that make ``global_batch_size`` (None: the recipe does not set it)."""
    if recipe.global_batch_size is None:
        return None
    sequences = recipe.global_batch_size * _generations(recipe)
    per_step = per_device * processes
    if sequences % per_step:
        what = "prompts x num_generations" if recipe.stage == "grpo" else "sequences"
        raise ConfigError(
            f"global_batch_size {recipe.global_batch_size} ({sequences} {what}) is not a multiple "
            f"of per_device_train_batch_size x processes = {per_step}",
            where="recipe",
            hint="change per_device_train_batch_size or the number of processes",
        )
    return sequences // per_step


def trainer_args(recipe: Recipe, run_dir: Path, *, cpu: bool, dry_run: bool = False) -> Any:
    """A recipe's trainer config: TRL ``SFTConfig``/``GRPOConfig``, HF ``TrainingArguments``."""
    from transformers import TrainingArguments
    from trl.trainer.grpo_config import GRPOConfig
    from trl.trainer.sft_config import SFTConfig

    values: dict[str, Any] = {**_DEFAULTS, **_STAGE_DEFAULTS[recipe.stage]}
    if recipe.stage == "vision":
        values["eval_strategy"] = "epoch" if recipe.eval.samples else "no"
    values.update(recipe.trainer)
    values["output_dir"] = str(run_dir)
    if recipe.stage != "vision":
        values["model_init_kwargs"] = _model_init_kwargs(recipe, values)
    if cpu:
        values["use_cpu"] = True
        # TRL turns bf16 autocast and gradient checkpointing on by default. On a CPU without
        # native bf16 (AVX2 only) bf16 matmuls take a reference path about 30x slower than
        # float32, and checkpointing only buys memory a toy does not need: both stay off on CPU
        # unless the recipe sets them.
        for key in ("bf16", "gradient_checkpointing"):
            values.setdefault(key, False)
    if dry_run:
        for key in ("bf16", "fp16", "tf32", "use_vllm", "gradient_checkpointing"):
            values.pop(key, None)
    per_device = int(values.get("per_device_train_batch_size", 8))
    accumulation = gradient_accumulation(recipe, per_device, world_size())
    if accumulation is not None:
        values["gradient_accumulation_steps"] = accumulation
    if recipe.stage == "grpo":
        rewards = recipe.reward_settings
        weights = [rewards.weights.format, rewards.weights.outcome]
        if rewards.process is not None:
            weights.append(rewards.weights.process)
        values["reward_weights"] = weights
    config_class = {"sft": SFTConfig, "grpo": GRPOConfig, "vision": TrainingArguments}
    try:
        return config_class[recipe.stage](**values)
    except (TypeError, ValueError) as error:
        raise ConfigError(
            f"trainer settings rejected by the trainer: {error}", where="recipe trainer"
        ) from error


def _model_init_kwargs(recipe: Recipe, values: dict[str, Any]) -> dict[str, Any]:
    init = dict(values.pop("model_init_kwargs", None) or {})
    init.setdefault("dtype", recipe.model.dtype)
    if recipe.model.revision:
        init.setdefault("revision", recipe.model.revision)
    if recipe.model.attn_implementation:
        init.setdefault("attn_implementation", recipe.model.attn_implementation)
    return init


def _check_run_dir(recipe: Recipe, run_dir: Path, resume: bool) -> str | None:
    """The checkpoint to resume from; refuses a directory another recipe owns."""
    from transformers.trainer_utils import get_last_checkpoint

    saved = run_dir / "recipe.yaml"
    if saved.is_file() and _comparable(load_recipe(saved)) != _comparable(recipe):
        raise RunError(
            "the run directory holds another recipe's run",
            where=str(run_dir),
            hint="use the same recipe, or another output directory (--out)",
        )
    last: str | None = (
        get_last_checkpoint(str(run_dir)) if run_dir.is_dir() else None  # type: ignore[no-untyped-call]
    )
    if last and not resume:
        raise RunError(
            f"the run directory already holds {Path(last).name}",
            where=str(run_dir),
            hint="pass --resume to continue it, or choose another output directory (--out)",
        )
    if resume and last is None:
        log.warning("no checkpoint in %s: starting from the beginning", run_dir)
    return last


def _comparable(recipe: Recipe) -> dict[str, Any]:
    """A recipe without what may change when a run is resumed (its length)."""
    data = recipe.model_dump(mode="json")
    for key in ("max_steps", "num_train_epochs"):
        data["trainer"].pop(key, None)
    return data


def _bench_dir(recipe: Recipe) -> Path:
    if recipe.data.path is not None:
        return Path(recipe.data.path)
    from radrbench.data.demo_cache import default_demo_dir

    return default_demo_dir(recipe.data.demo_studies, recipe.data.demo_seed)


def run_recipe(
    recipe: Recipe,
    *,
    out: Path | None = None,
    resume: bool = False,
    dry_run: bool = False,
    max_steps: int | None = None,
) -> TrainResult:
    """Train (or, with ``dry_run``, only build the trainer on the tiny model)."""
    if dry_run:  # TRL creates the output directory: keep the recipe's untouched
        with tempfile.TemporaryDirectory(prefix="radrbench-dry-run-") as scratch:
            return _run(recipe, Path(scratch), resume, True, max_steps)
    return _run(recipe, Path(out or recipe.output_dir), resume, False, max_steps)


def _run(
    recipe: Recipe, run_dir: Path, resume: bool, dry_run: bool, max_steps: int | None
) -> TrainResult:
    import torch
    from transformers import AutoProcessor

    from radrbench.tasks.prompts import get_profile
    from radrbench.training import data as training_data
    from radrbench.training.logs import MetricsCallback, plot_run

    notes: list[str] = []
    if max_steps is not None:
        recipe = recipe.model_copy(update={"trainer": {**recipe.trainer, "max_steps": max_steps}})
    last = None if dry_run else _check_run_dir(recipe, run_dir, resume)
    model_path = resolve_model_path(TINY_MODEL if dry_run else recipe.model.path)
    if dry_run and recipe.model.path != TINY_MODEL:
        notes.append(f"model {recipe.model.path} replaced by the tiny Qwen2-VL")
    cpu = not torch.cuda.is_available()
    args = trainer_args(recipe, run_dir, cpu=cpu, dry_run=dry_run)
    if dry_run and recipe.stage != "vision":
        args.model_init_kwargs["dtype"] = "float32"
        notes.append("dry run: bf16/fp16/tf32, vLLM and gradient checkpointing off, float32")
    processor_kwargs: dict[str, Any] = {}
    if recipe.model.image_size:
        pixels = recipe.model.image_size**2
        # Qwen2-VL's image processor reads min/max pixels from these ``size`` keys
        processor_kwargs = {"size": {"shortest_edge": pixels, "longest_edge": pixels}}
    processor = AutoProcessor.from_pretrained(  # type: ignore[no-untyped-call]
        model_path, revision=None if dry_run else recipe.model.revision, **processor_kwargs
    )
    profile = get_profile(recipe.data.prompt_profile)
    if dry_run and recipe.data.path is not None:
        notes.append(f"data {recipe.data.path} replaced by the phantom demo set")
        recipe_data = recipe.model_copy(
            update={"data": recipe.data.model_copy(update={"path": None})}
        )
        bench = _bench_dir(recipe_data)
    else:
        bench = _bench_dir(recipe)
    samples, root = training_data.load_training_samples(bench, recipe.data.split)
    chosen = training_data.select_samples(
        samples,
        tasks=recipe.data.tasks,
        sources=recipe.data.sources,
        require_reasoning=recipe.stage != "vision",
        limit=DRY_RUN_SAMPLES if dry_run else recipe.data.limit,
    )
    callbacks: list[Any] = []
    if not dry_run:
        callbacks.append(MetricsCallback(run_dir, resumed_from=_step_of(last)))
    vision_model = None
    if recipe.stage == "vision":
        trainer, vision_model = _vision_trainer(
            recipe, model_path, args, processor, chosen, root, bench, callbacks, dry_run
        )
    else:
        dataset = training_data.build_dataset(
            chosen, root, recipe.stage, profile, target=recipe.data.target
        )
        if recipe.eval.samples and not dry_run:
            callbacks.append(_eval_callback(recipe, bench, processor, profile, run_dir))
        trainer = _build_trainer(recipe, model_path, args, dataset, processor, callbacks)
    if recipe.model.freeze_vision:
        freeze_vision_encoder(trainer.model)
    settings = _settings(recipe, args)
    if dry_run:
        return TrainResult(run_dir, None, 0, settings=settings, notes=notes)
    if is_main_process():
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "recipe.yaml").write_text(dump_recipe(recipe), encoding="utf-8")
    trainer.train(resume_from_checkpoint=last)
    final = run_dir / "final"
    if vision_model is None:
        trainer.save_model(str(final))
    plots: list[Path] = []
    if trainer.is_world_process_zero():
        if vision_model is not None:
            _save_vision(vision_model, trainer, final)
        processor.save_pretrained(str(final))
        plots = plot_run(run_dir)
    return TrainResult(run_dir, final, trainer.state.global_step, plots, settings, notes)


def _eval_callback(recipe: Recipe, bench: Path, processor: Any, profile: Any, run_dir: Path) -> Any:
    """Generation on held-out samples at every checkpoint (outcome and RadRScore)."""
    from radrbench.training import data as training_data
    from radrbench.training.evaluate import EvalCallback

    held_out, held_root = training_data.load_training_samples(bench, recipe.eval.split)
    eval_samples = training_data.select_samples(
        held_out, tasks=recipe.eval.tasks or recipe.data.tasks, limit=recipe.eval.samples
    )
    return EvalCallback(
        run_dir,
        processor,
        eval_samples,
        held_root,
        profile,
        max_new_tokens=recipe.eval.max_new_tokens,
        batch_size=recipe.eval.batch_size,
        judge=recipe.eval.judge,
    )


def _vision_trainer(
    recipe: Recipe,
    model_path: str,
    args: Any,
    processor: Any,
    chosen: list[Any],
    root: Path,
    bench: Path,
    callbacks: list[Any],
    dry_run: bool,
) -> tuple[Any, Any]:
    """The vision stage's trainer (encoder + finding head) and the Qwen2-VL it trains."""
    from transformers import AutoModelForImageTextToText

    from radrbench.training import data as training_data
    from radrbench.training import vision

    dtype = "float32" if dry_run else recipe.model.dtype
    model = AutoModelForImageTextToText.from_pretrained(
        model_path, dtype=dtype, revision=None if dry_run else recipe.model.revision
    )
    labels = vision.label_vocabulary(chosen)
    size = int(recipe.model.image_size or 0)
    train = vision.ImageLabels(chosen, root, labels, processor, size)
    held_out = None
    if recipe.eval.samples and not dry_run:
        samples, held_root = training_data.load_training_samples(bench, recipe.eval.split)
        pool = training_data.select_samples(
            samples, tasks=recipe.eval.tasks or recipe.data.tasks, require_reasoning=False
        )
        held_out = vision.ImageLabels(
            pool, held_root, labels, processor, size, limit=recipe.eval.samples
        )
    trainer = vision.build_vision_trainer(model, processor, train, held_out, args, callbacks)
    return trainer, model


def _save_vision(model: Any, trainer: Any, final: Path) -> None:
    """The whole model with its trained encoder, and the labels it learned."""
    from radrbench.training.vision import write_labels

    model.save_pretrained(str(final))
    scores = [entry for entry in trainer.state.log_history if "eval_balanced_accuracy" in entry]
    held_out = None
    if scores:
        held_out = {
            key.removeprefix("eval_"): value
            for key, value in scores[-1].items()
            if key.startswith("eval_balanced_accuracy")
        }
    write_labels(final, trainer.train_dataset.labels, held_out)


def freeze_vision_encoder(model: Any) -> None:
    """Fix the vision encoder's weights, all but the merger's."""
    from radrbench.training.vision import encoder_of

    for name, parameter in encoder_of(model).named_parameters():
        if not name.startswith("merger."):
            parameter.requires_grad_(False)


def _step_of(checkpoint: str | None) -> int | None:
    return None if checkpoint is None else int(Path(checkpoint).name.rsplit("-", 1)[-1])


def _build_trainer(
    recipe: Recipe, model_path: str, args: Any, dataset: Any, processor: Any, callbacks: list[Any]
) -> Any:
    from trl.trainer.grpo_trainer import GRPOTrainer
    from trl.trainer.sft_trainer import SFTTrainer

    if recipe.stage == "sft":
        return SFTTrainer(
            model=model_path,
            args=args,
            train_dataset=dataset,
            processing_class=processor,
            callbacks=callbacks,
        )
    from radrbench.training.rewards import ProcessReward, trl_reward_functions

    rewards = recipe.reward_settings
    process = None if rewards.process is None else ProcessReward(rewards.process)
    functions, _ = trl_reward_functions(process, rewards.weights)
    return GRPOTrainer(
        model=model_path,
        reward_funcs=list[Any](functions),
        args=args,
        train_dataset=dataset.remove_columns(
            [c for c in ("completion",) if c in dataset.column_names]
        ),
        processing_class=processor,
        callbacks=callbacks,
    )


_SETTINGS = (
    "learning_rate",
    "lr_scheduler_type",
    "warmup_steps",
    "num_train_epochs",
    "max_steps",
    "per_device_train_batch_size",
    "gradient_accumulation_steps",
    "save_steps",
    "max_length",
    "num_generations",
    "beta",
    "max_completion_length",
    "temperature",
    "loss_type",
    "reward_weights",
    "use_vllm",
    "vllm_mode",
)


def _settings(recipe: Recipe, args: Any) -> dict[str, Any]:
    """The settings a reader checks against the paper, as the trainer got them."""
    values = {name: getattr(args, name) for name in _SETTINGS if hasattr(args, name)}
    values["stage"] = recipe.stage
    values["global_batch_size"] = recipe.global_batch_size
    values["processes"] = world_size()
    values["image_size"] = recipe.model.image_size
    values["use_vllm"] = recipe.trainer.get("use_vllm", values.get("use_vllm"))
    values["bf16"] = recipe.trainer.get("bf16", False)
    if recipe.global_batch_size is not None:
        per_device = int(recipe.trainer.get("per_device_train_batch_size", 8))
        values["gradient_accumulation_steps by processes"] = {
            n: gradient_accumulation(recipe, per_device, n)
            for n in (8, 16, 32)
            if not (recipe.global_batch_size * _generations(recipe)) % (per_device * n)
        }
    return {name: value for name, value in values.items() if value is not None}


def _generations(recipe: Recipe) -> int:
    return int(recipe.trainer.get("num_generations", 8)) if recipe.stage == "grpo" else 1
