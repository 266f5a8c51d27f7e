"""The LLM judge's prompt templates (``metrics/prompts/``), reply schemas and version hash."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import jinja2
from openai.types.chat import ChatCompletionMessageParam
from openai.types.shared_params import ResponseFormatJSONSchema
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from radrbench.errors import JudgeError
from radrbench.metrics.judges.base import FindingStatus, StepLabel
from radrbench.resources import resource_dir

SYSTEM = "system"
TASKS = ("extract_findings", "compare_findings", "label_steps")


def _lower(value: object) -> object:
    """Accept ``"Present"`` or ``" absent "`` from lenient local servers."""
    return value.strip().lower() if isinstance(value, str) else value


class _Reply(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", str_strip_whitespace=True)


class FindingReply(_Reply):
    observation: str = Field(min_length=1)
    status: Annotated[FindingStatus, BeforeValidator(_lower)]
    location: str | None = None


class FindingsReply(_Reply):
    findings: list[FindingReply]


class RecallReply(_Reply):
    reference: int
    recalled: bool


class ConsistencyReply(_Reply):
    finding: int
    consistent: bool


class ComparisonReply(_Reply):
    recall: list[RecallReply]
    consistency: list[ConsistencyReply]


class StepReply(_Reply):
    text: str = Field(min_length=1)
    label: Annotated[StepLabel, BeforeValidator(_lower)]


class StepsReply(_Reply):
    steps: list[StepReply]


def _object(**properties: dict[str, Any]) -> dict[str, Any]:
    """A strict JSON-schema object: every property required, nothing else allowed."""
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }


def _array(items: dict[str, Any]) -> dict[str, Any]:
    return {"type": "array", "items": items}


_STRING = {"type": "string"}
_BOOLEAN = {"type": "boolean"}
_INTEGER = {"type": "integer"}

SCHEMAS: dict[str, dict[str, Any]] = {
    "extract_findings": _object(
        findings=_array(
            _object(
                observation=_STRING,
                status={"type": "string", "enum": ["present", "absent", "uncertain"]},
                location={"type": ["string", "null"]},
            )
        )
    ),
    "compare_findings": _object(
        recall=_array(_object(reference=_INTEGER, recalled=_BOOLEAN)),
        consistency=_array(_object(finding=_INTEGER, consistent=_BOOLEAN)),
    ),
    "label_steps": _object(
        steps=_array(
            _object(
                text=_STRING,
                label={"type": "string", "enum": ["supported", "contradicted", "unsupported"]},
            )
        )
    ),
}


@dataclass(frozen=True)
class Prompts:
    """The loaded templates and the version hash of templates, schemas and sampling settings."""

    system: str
    templates: dict[str, jinja2.Template]
    version: str

    def messages(self, task: str, **values: Any) -> list[ChatCompletionMessageParam]:
        """The chat messages of one judge call."""
        return [
            {"role": "system", "content": self.system},
            {"role": "user", "content": self.templates[task].render(**values).strip()},
        ]

    def response_format(self, task: str) -> ResponseFormatJSONSchema:
        """The ``response_format`` asking for the task's strict JSON schema."""
        return {
            "type": "json_schema",
            "json_schema": {"name": task, "schema": SCHEMAS[task], "strict": True},
        }


def load_prompts(folder: Path | None, settings: dict[str, Any]) -> Prompts:
    """Read ``system.md`` and ``<task>.md`` for each task from ``folder`` (``metrics/prompts``).

    ``settings`` (temperature, seed, ...) enter the version: changing them invalidates caches.
    """
    folder = folder or resource_dir("metrics") / "prompts"
    texts: dict[str, str] = {}
    for name in (SYSTEM, *TASKS):
        path = folder / f"{name}.md"
        try:
            texts[name] = path.read_text(encoding="utf-8")
        except OSError as error:
            message = f"cannot read prompt template: {error.strerror}"
            raise JudgeError(message, where=str(path)) from None
    environment = jinja2.Environment(
        undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=True
    )
    templates: dict[str, jinja2.Template] = {}
    for task in TASKS:
        try:
            templates[task] = environment.from_string(texts[task])
        except jinja2.TemplateSyntaxError as error:
            where = f"{folder / task}.md:{error.lineno}"
            raise JudgeError(f"bad template: {error.message}", where=where) from None
    material = json.dumps(
        {"texts": texts, "schemas": SCHEMAS, "settings": settings}, sort_keys=True
    )
    version = hashlib.sha256(material.encode("utf-8")).hexdigest()[:16]
    return Prompts(texts[SYSTEM].strip(), templates, version)
