"""``summary.json``: the one file of a run that the leaderboard reads.

Schema (``schema_version`` "1"; documented in docs/summary.md). Everything outside ``run``
depends only on the responses, the benchmark and the judge, so a resumed or retried run
has the same summary; ``run`` holds what naturally differs between executions (endpoint
address, wall-clock times, retries).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from radrbench import __version__
from radrbench.data.benchmark import read_manifest, sample_from_row
from radrbench.data.schema import Sample
from radrbench.eval.config import EvalConfig
from radrbench.eval.request_log import RequestLog
from radrbench.metrics.outcome import (
    OutcomeScore,
    OutcomeSummary,
    score_outcome,
    summarize_outcomes,
)
from radrbench.tasks.catalog import TASKS

SCHEMA_VERSION = "1"


class ModelInfo(BaseModel):
    name: str
    kind: str
    baseline: str | None = None
    revision: str | None = None
    engine: str | None = None
    prompt_profile: str


class BenchmarkInfo(BaseModel):
    name: str
    version: str
    data_dir: str
    n_samples: int
    limit: int | None = None
    task_hashes: dict[str, str] = Field(default_factory=dict)


class TaskResult(BaseModel):
    source: str
    family: str
    n: int
    parse_failed: int
    primary: str
    metrics: dict[str, Any]


class Failures(BaseModel):
    request_failures: int = 0
    parse_failures: int = 0
    judge_failures: int = 0


class Usage(BaseModel):
    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float | None = None


class Summary(BaseModel):
    schema_version: str = SCHEMA_VERSION
    run_id: str
    radrbench_version: str = __version__
    lm_eval_version: str
    model: ModelInfo
    benchmark: BenchmarkInfo
    tasks: dict[str, TaskResult]
    outcome: OutcomeSummary
    radrscore: dict[str, Any] | None = None
    judge: dict[str, Any] | None = None
    failures: Failures
    usage: Usage
    run: dict[str, Any] = Field(default_factory=dict)


def _lm_eval_version() -> str:
    try:
        return version("lm_eval")
    except PackageNotFoundError:
        return "unknown"


def generation_records(
    samples_by_task: dict[str, list[dict[str, Any]]],
) -> list[tuple[str, Sample, str]]:
    """(task, sample, model output) of lm-eval's per-sample records, by task and doc id."""
    records = []
    for task, task_samples in sorted(samples_by_task.items()):
        for record in sorted(task_samples, key=lambda r: int(r["doc_id"])):
            output = record["resps"][0][0] if record.get("resps") else ""
            records.append((task, sample_from_row(record["doc"]), str(output)))
    return records


def task_results(
    scored: Sequence[tuple[str, Sample, OutcomeScore]],
) -> tuple[OutcomeSummary, dict[str, TaskResult]]:
    """Outcome metrics with CIs of (task, sample, score) records, overall and per task."""
    outcome = summarize_outcomes((sample, score) for _, sample, score in scored)
    tasks: dict[str, TaskResult] = {}
    for task in sorted({task for task, _, _ in scored}):
        spec = TASKS[task]
        group = outcome.by_task[f"{spec.source}/{spec.family}"]
        tasks[task] = TaskResult(
            source=spec.source,
            family=spec.family,
            n=group.n,
            parse_failed=group.parse_failed,
            primary=group.primary,
            metrics={name: estimate.model_dump() for name, estimate in group.metrics.items()},
        )
    return outcome, tasks


def build_summary(
    config: EvalConfig,
    run_dir: Path,
    results: dict[str, Any],
    log: RequestLog,
    *,
    data_dir: Path,
    price_per_mtok: tuple[float, float] | None = None,
) -> Summary:
    """Score every output and aggregate with CIs (per task, family, source, finding)."""
    records = generation_records(results.get("samples", {}))
    scored: list[tuple[str, Sample, OutcomeScore]] = [
        (task, sample, score_outcome(sample, output)) for task, sample, output in records
    ]
    outcome, tasks = task_results(scored)
    done = [log.get(key) for key in log.done]
    entries = [entry for entry in done if entry is not None]
    usage = Usage(
        requests=len(records),
        prompt_tokens=sum(e.prompt_tokens for e in entries),
        completion_tokens=sum(e.completion_tokens for e in entries),
    )
    if price_per_mtok is not None:
        usage.cost_usd = round(
            usage.prompt_tokens * price_per_mtok[0] / 1e6
            + usage.completion_tokens * price_per_mtok[1] / 1e6,
            6,
        )
    manifest = read_manifest(data_dir)
    model = config.model
    return Summary(
        run_id=run_dir.name,
        lm_eval_version=_lm_eval_version(),
        model=ModelInfo(
            name=model.name,
            kind=model.kind,
            baseline=model.baseline,
            revision=model.revision,
            engine=model.engine,
            prompt_profile=config.prompt_profile,
        ),
        benchmark=BenchmarkInfo(
            name=manifest.name,
            version=manifest.version,
            data_dir=str(data_dir),
            n_samples=len(records),
            limit=config.limit,
            task_hashes=dict(sorted(results.get("task_hashes", {}).items())),
        ),
        tasks=tasks,
        outcome=outcome,
        failures=Failures(parse_failures=outcome.overall.parse_failed),
        usage=usage,
        run={
            "endpoint": model.base_url,
            "finished_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "timings_s": results.get("radrbench_timings", {}),
            "retries": sum(max(0, e.attempts - 1) for e in entries),
        },
    )
