"""The mining prompt templates (``metrics/prompts/mining/``), reply schemas and version hash."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
from openai.types.chat import ChatCompletionMessageParam
from openai.types.shared_params import ResponseFormatJSONSchema
from pydantic import BaseModel, ConfigDict, Field

from radrbench.errors import ConfigError
from radrbench.resources import resource_dir

STEPS = ("plan", "reason", "refine")


class PlanReply(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    plan: list[str] = Field(min_length=1)


class StepsReply(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    steps: list[str] = Field(min_length=1)


def _strings(name: str) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {name: {"type": "array", "items": {"type": "string"}}},
        "required": [name],
        "additionalProperties": False,
    }


SCHEMAS: dict[str, dict[str, Any]] = {
    "plan": _strings("plan"),
    "reason": _strings("steps"),
    "refine": _strings("steps"),
}


@dataclass(frozen=True)
class MiningPrompts:
    """Loaded templates and the version hash of templates, schemas and sampling settings."""

    system: str
    templates: dict[str, jinja2.Template]
    version: str

    def messages(self, step: str, **values: Any) -> list[ChatCompletionMessageParam]:
        return [
            {"role": "system", "content": self.system},
            {"role": "user", "content": self.templates[step].render(**values).strip()},
        ]

    def response_format(self, step: str) -> ResponseFormatJSONSchema:
        return {
            "type": "json_schema",
            "json_schema": {"name": f"mine_{step}", "schema": SCHEMAS[step], "strict": True},
        }


def load_mining_prompts(folder: Path | None, settings: dict[str, Any]) -> MiningPrompts:
    """Read ``system.md``, ``plan.md``, ``reason.md`` and ``refine.md`` from ``folder``.

    ``settings`` (temperature, seed) enter the version: changing them invalidates the cache.
    """
    folder = folder or resource_dir("metrics") / "prompts" / "mining"
    texts: dict[str, str] = {}
    for name in ("system", *STEPS):
        path = folder / f"{name}.md"
        try:
            texts[name] = path.read_text(encoding="utf-8")
        except OSError as error:
            raise ConfigError(
                f"cannot read mining prompt: {error.strerror}", where=str(path)
            ) from None
    environment = jinja2.Environment(
        undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=True
    )
    templates: dict[str, jinja2.Template] = {}
    for step in STEPS:
        try:
            templates[step] = environment.from_string(texts[step])
        except jinja2.TemplateSyntaxError as error:
            raise ConfigError(
                f"bad template: {error.message}", where=f"{folder / step}.md:{error.lineno}"
            ) from None
    material = json.dumps(
        {"texts": texts, "schemas": SCHEMAS, "settings": settings}, sort_keys=True
    )
    version = hashlib.sha256(material.encode("utf-8")).hexdigest()[:16]
    return MiningPrompts(texts["system"].strip(), templates, version)
