"""What the leaderboard reads of a run's ``summary.json`` (schema version 1, docs/summary.md).

These models are a reader of the schema ``radrbench eval`` writes
(:class:`radrbench.eval.summary.Summary`), not a second definition of it: they keep only what
the leaderboard shows and ignore the rest, so the leaderboard neither imports the evaluation
stack (1.3 s) nor breaks on fields added later. A test keeps them in step with the writer.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from radrbench.errors import RunError

SCHEMA_VERSIONS = ("1",)
SUB_SCORES = ("factuality", "completeness", "effectiveness")
RADRSCORE_PARTS = ("radrscore", *SUB_SCORES)


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class Estimate(_Model):
    """A metric value with its 95% CI and n (``None`` values: nothing to estimate)."""

    value: float | None
    ci_low: float | None = None
    ci_high: float | None = None
    n: int = Field(ge=0)


class ModelInfo(_Model):
    name: str = Field(min_length=1)
    kind: str
    baseline: str | None = None
    revision: str | None = None
    engine: str | None = None
    prompt_profile: str


class BenchmarkInfo(_Model):
    name: str = Field(min_length=1)
    version: str = Field(min_length=1)
    n_samples: int = Field(ge=1)
    limit: int | None = None
    task_hashes: dict[str, str] = Field(default_factory=dict)


class TaskResult(_Model):
    source: str
    family: str
    n: int = Field(ge=1)
    parse_failed: int = Field(ge=0)
    primary: str
    metrics: dict[str, Estimate]


class OutcomeGroup(_Model):
    n: int = Field(ge=0)
    parse_failed: int = Field(ge=0)
    primary: str
    metrics: dict[str, Estimate]


class Outcome(_Model):
    overall: OutcomeGroup


class RadrScoreGroup(_Model):
    n: int = Field(ge=0)
    judge_failures: int = Field(ge=0)
    factuality: Estimate
    completeness: Estimate
    effectiveness: Estimate
    radrscore: Estimate


class RadrScore(_Model):
    overall: RadrScoreGroup | None = None
    by_task: dict[str, RadrScoreGroup] = Field(default_factory=dict)


class JudgeInfo(_Model):
    spec: str = Field(min_length=1)
    version: str = Field(min_length=1)
    judgments: str | None = None


class Failures(_Model):
    request_failures: int = Field(default=0, ge=0)
    parse_failures: int = Field(default=0, ge=0)
    judge_failures: int = Field(default=0, ge=0)


class Usage(_Model):
    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float | None = None


class RunSummary(_Model):
    """The parts of ``summary.json`` the leaderboard shows."""

    schema_version: str
    run_id: str = Field(min_length=1)
    radrbench_version: str
    lm_eval_version: str
    model: ModelInfo
    benchmark: BenchmarkInfo
    tasks: dict[str, TaskResult] = Field(min_length=1)
    outcome: Outcome
    radrscore: RadrScore | None = None
    judge: JudgeInfo | None = None
    failures: Failures
    usage: Usage = Field(default_factory=Usage)
    run: dict[str, Any] = Field(default_factory=dict)

    @property
    def date(self) -> str:
        """The day the run finished (``YYYY-MM-DD``), or ``""``."""
        finished = self.run.get("finished_at")
        return finished[:10] if isinstance(finished, str) else ""

    @property
    def judged(self) -> bool:
        return self.judge is not None and self.radrscore is not None


def parse_summary(payload: Any, where: str) -> RunSummary:
    """Validate a summary; a :class:`RunError` names the first field it cannot place."""
    if not isinstance(payload, dict):
        raise RunError("summary.json is not a JSON object", where=where)
    version = payload.get("schema_version")
    if version not in SCHEMA_VERSIONS:
        raise RunError(
            f"field schema_version: {version!r} is not a summary schema this radrbench reads "
            f"({', '.join(SCHEMA_VERSIONS)})",
            where=where,
            hint="add it with the radrbench version that wrote it, or re-run the evaluation",
        )
    try:
        summary = RunSummary.model_validate(payload)
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "(root)"
        raise RunError(f"field {field}: {first['msg']}", where=where) from error
    for task, result in summary.tasks.items():
        if result.primary not in result.metrics:
            raise RunError(
                f"field tasks.{task}.metrics: no value of its primary metric {result.primary!r}",
                where=where,
            )
    if summary.radrscore is not None and summary.judge is None:
        raise RunError("field judge: RadRScore without the judge that gave it", where=where)
    return summary


def read_summary(path: Path) -> RunSummary:
    where = str(path)
    if not path.is_file():
        raise RunError(
            "no summary.json here",
            where=str(path.parent),
            hint="pass a run directory written by 'radrbench eval --out DIR'",
        )
    try:
        payload = json.loads(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise RunError(f"cannot read it as JSON ({error})", where=where) from error
    return parse_summary(payload, where)
