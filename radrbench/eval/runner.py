"""``radrbench eval``: run the tasks through lm-eval into a run directory, resumably.

Run directory (DESIGN §7): ``config.json`` (resolved config), ``requests.jsonl`` (request
log), lm-eval's ``results_*.json`` and ``samples_*.jsonl`` as lm-eval writes them, and
``summary.json``.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from radrbench.errors import RunError
from radrbench.eval.config import EvalConfig
from radrbench.eval.endpoint import Endpoint
from radrbench.eval.request_log import RequestLog
from radrbench.eval.requests import Generation
from radrbench.tasks.catalog import TaskSpec, expand_tasks
from radrbench.tasks.data import resolve_data_dir
from radrbench.tasks.prompts import get_profile

logger = logging.getLogger(__name__)

CONFIG_FILE = "config.json"
REQUEST_LOG = "requests.jsonl"
SUMMARY_FILE = "summary.json"
DEFAULT_MAX_TOKENS = 2048  # as tasks/_radrbench_template.yaml; radrbench always passes its own


@dataclass
class RunTimings:
    started: float = field(default_factory=time.time)
    marks: dict[str, float] = field(default_factory=dict)

    def mark(self, name: str) -> None:
        self.marks[name] = round(time.time() - self.started, 3)


def prepare_run_dir(run_dir: Path, config: EvalConfig) -> None:
    """Create the run directory, or check that an existing one holds the same run."""
    path = run_dir / CONFIG_FILE
    if path.exists():
        try:
            previous = EvalConfig.model_validate_json(path.read_text("utf-8"))
        except ValueError as error:
            raise RunError(f"unreadable {CONFIG_FILE} ({error})", where=str(path)) from error
        if previous.identity() != config.identity():
            changed = sorted(
                key
                for key, value in config.identity().items()
                if previous.identity().get(key) != value
            )
            raise RunError(
                f"this run directory holds a different run (differs in: {', '.join(changed)})",
                where=str(run_dir),
                hint="resume with the same options, or choose a new --out directory",
            )
        logger.info("resuming run in %s", run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(config.model_dump_json(indent=2) + "\n", "utf-8")


def endpoint_for(config: EvalConfig) -> Endpoint:
    spec = config.model
    assert spec.base_url is not None
    return Endpoint(
        base_url=spec.base_url,
        model=spec.name,
        api_key_env=spec.api_key_env,
        concurrency=config.concurrency,
        timeout_s=config.timeout_s,
        max_retries=config.max_retries,
    )


def generation_for(config: EvalConfig) -> Generation:
    max_tokens = config.max_tokens or DEFAULT_MAX_TOKENS
    return Generation.from_gen_kwargs({"max_gen_toks": max_tokens}, seed=config.seed)


def _data_dirs(config: EvalConfig, specs: list[TaskSpec]) -> dict[str, Path]:
    return {spec.name: resolve_data_dir(config.data_dir, spec.source) for spec in specs}


def planned_total(config: EvalConfig, specs: list[TaskSpec], data_dirs: dict[str, Path]) -> int:
    """How many generations the run makes (``limit`` samples per task at most)."""
    from radrbench.tasks.data import task_samples

    return sum(
        min(len(task_samples(data_dirs[s.name], s.source, s.family, "test")), config.limit or 10**9)
        for s in specs
    )


def run_eval(
    config: EvalConfig,
    run_dir: Path,
    *,
    on_plan: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Generate (or resume) every response of the run and write the run directory.

    ``on_plan(total)`` is told the number of generations once requests are under way.
    Returns lm-eval's results dict (with per-sample records under ``samples``).
    """
    timings = RunTimings()
    specs = expand_tasks(config.tasks)
    data_dirs = _data_dirs(config, specs)
    if len(set(data_dirs.values())) > 1:
        raise RunError(
            "tasks of one run must read one benchmark directory",
            hint="run the demo group and the official group separately",
        )
    prepare_run_dir(run_dir, config)
    log_path = run_dir / REQUEST_LOG
    profile = get_profile(config.prompt_profile)
    prefetch = None
    if config.model.kind == "endpoint":
        from radrbench.eval import prefetch as prefetching

        plan = prefetching.Plan(specs, data_dirs, profile, generation_for(config), config.limit)
        prefetch = prefetching.start(plan, endpoint_for(config), log_path)
    timings.mark("prefetch_started")
    if on_plan is not None:
        on_plan(planned_total(config, specs, data_dirs))
    try:
        results = _evaluate(config, specs, data_dirs, run_dir, log_path, prefetch, timings)
    finally:
        if prefetch is not None:
            prefetch.stop()
    timings.mark("finished")
    results["radrbench_timings"] = timings.marks
    return results


def _evaluate(
    config: EvalConfig,
    specs: list[TaskSpec],
    data_dirs: dict[str, Path],
    run_dir: Path,
    log_path: Path,
    prefetch: Any,
    timings: RunTimings,
) -> dict[str, Any]:
    os.environ.setdefault("TQDM_DISABLE", "1")  # radrbench shows its own progress bar
    # lm-eval PNG-encodes every image to hash it into its sample logs (seconds per hundred
    # images); the docs already name the image files, so radrbench turns that off.
    os.environ.setdefault("LMEVAL_HASHMM", "0")
    import lm_eval
    import lm_eval.evaluator
    from lm_eval.loggers import EvaluationTracker
    from lm_eval.tasks import TaskManager

    from radrbench.resources import resource_dir

    timings.mark("lm_eval_imported")
    if not logger.isEnabledFor(logging.INFO):
        logging.getLogger("lm_eval").setLevel(logging.ERROR)
    # lm-eval's environment report shells out to git (outside a checkout git prints "fatal:
    # not a git repository") and imports torch (seconds) even for API models. radrbench
    # records its own versions in summary.json, so it skips that report.
    lm_eval.evaluator.get_git_commit_hash = lambda: None
    lm_eval.evaluator.add_env_info = lambda results: None
    task_manager = TaskManager(
        include_path=str(resource_dir("tasks")),
        include_defaults=False,
        metadata={
            "data_dir": str(next(iter(data_dirs.values()))),
            "prompt_profile": config.prompt_profile,
            "judge": "none",  # radrbench judges after generation ('radrbench score')
            # radrbench's chat model sends the image files itself: lm-eval decodes nothing
            "images": "pil" if config.model.kind == "hf" else "paths",
        },
    )
    log = RequestLog(log_path)
    lm: Any
    if config.model.kind == "endpoint":
        from radrbench.eval.lm import RadrbenchChatLM

        lm = RadrbenchChatLM(
            endpoint_for(config),
            log,
            system=get_profile(config.prompt_profile).system,
            seed=config.seed,
            wait_for_prefetch=prefetch.wait_for if prefetch is not None else None,
        )
    else:
        from radrbench.eval.local import LoggedLocalLM

        lm = LoggedLocalLM(config, log)
    tracker = EvaluationTracker(output_path=str(run_dir / "results.json"))
    # The prefetcher planned requests with these settings: pass them, whatever the YAML says.
    gen_kwargs = {"max_gen_toks": generation_for(config).max_tokens}
    in_process = config.model.kind == "hf"
    results = lm_eval.simple_evaluate(
        model=lm,
        tasks=[spec.name for spec in specs],
        task_manager=task_manager,
        limit=config.limit,
        log_samples=True,
        bootstrap_iters=0,
        gen_kwargs=gen_kwargs,
        evaluation_tracker=tracker,
        # radrbench-chat builds the chat itself; in-process models need their template.
        apply_chat_template=in_process,
        system_instruction=get_profile(config.prompt_profile).system if in_process else None,
        random_seed=config.seed,
        numpy_random_seed=config.seed,
        torch_random_seed=config.seed if in_process else None,  # no torch import for APIs
        fewshot_random_seed=config.seed,
    )
    timings.mark("generated")
    if results is None:
        raise RunError("lm-eval returned no results", where=str(run_dir))
    samples = results.get("samples", {})
    tracker.save_results_aggregated(results=results, samples=samples)
    for task_name, task_samples in samples.items():
        tracker.save_results_samples(task_name=task_name, samples=task_samples)
    return dict(results)


def write_json(path: Path, payload: Any) -> None:
    """Write JSON atomically (a killed run never leaves half a file)."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", "utf-8")
    tmp.replace(path)
