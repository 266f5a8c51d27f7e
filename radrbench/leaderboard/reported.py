"""Rows reported by papers (``leaderboard/reported.yaml``): shown apart, never ranked.

A paper's number was computed by its authors with their protocol, data split and judge; the
leaderboard shows it with its citation, its metric definition and the judge used, in a
table of its own, and never ranks it with the rows radrbench computed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from radrbench.errors import ConfigError

REPORTED_FILE = "reported.yaml"
Metric = Literal["accuracy", "label_f1", "radrscore", "factuality", "completeness", "effectiveness"]


class ReportedRow(BaseModel):
    """One model's numbers as a paper reports them."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: str = Field(min_length=1)
    citation: str = Field(min_length=1, description="Who reports it, where (paper, table).")
    url: str | None = None
    benchmark: str = Field(
        min_length=1, description="The benchmark and split as the paper names it."
    )
    judge: str | None = Field(description="The judge behind the reasoning scores; null if none.")
    metric_definition: str = Field(min_length=1, description="How the paper computes its metrics.")
    note: str | None = None
    overall: dict[Metric, float] = Field(default_factory=dict)
    tasks: dict[str, dict[Metric, float]] = Field(default_factory=dict)


class ReportedFile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    reported: list[ReportedRow] = Field(default_factory=list)


def load_reported(path: Path | None) -> list[ReportedRow]:
    """The rows of a reported.yaml (none when ``path`` is None or absent)."""
    if path is None or not path.is_file():
        return []
    try:
        payload = yaml.safe_load(path.read_text("utf-8")) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise ConfigError(f"cannot read it as YAML ({error})", where=str(path)) from error
    try:
        return list(ReportedFile.model_validate(payload).reported)
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "(root)"
        raise ConfigError(f"field {field}: {first['msg']}", where=str(path)) from error
