"""The baseline registry: one YAML file per model in the top-level ``baselines/`` folder.

A file's name is the baseline's name. It says where the weights come from (repo id and
revision), which engine serves them and with which arguments, how to prompt the model and
with which generation defaults, its licence, the hardware it needs, its price for API models,
and the shell commands a user runs. :meth:`Baseline.server_command` turns an entry into the
command line that ``radrbench serve`` starts.
"""

from __future__ import annotations

import json
import re
import sys
from datetime import date
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from radrbench.errors import ConfigError
from radrbench.resources import resource_dir
from radrbench.tasks.prompts import PROFILES

Engine = Literal["vllm", "transformers", "openai"]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_MAX_IMAGES = 4
VLLM_SERVER_MODULE = "vllm.entrypoints.openai.api_server"
# radrbench's OpenAI-compatible server on transformers, for architectures vLLM lacks.
TRANSFORMERS_SERVER_MODULE = "radrbench.baselines.hf_server"

_REVISION = re.compile(r"^[0-9a-f]{40}$")


class _Entry(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class EngineArgs(_Entry):
    """Server arguments; each is the vLLM flag of the same name (``_`` becomes ``-``).

    The transformers server reads ``dtype``, the image limit and ``trust_remote_code`` only.
    """

    limit_mm_per_prompt: dict[str, int] = Field(
        default_factory=lambda: {"image": DEFAULT_MAX_IMAGES},
        description="items per prompt; images: 2 for temporal pairs, up to 4 for multi-view",
    )
    max_model_len: int | None = Field(None, gt=0)
    dtype: Literal["auto", "bfloat16", "float16", "float32"] = "auto"
    tensor_parallel_size: int = Field(1, ge=1)
    data_parallel_size: int = Field(1, ge=1)
    trust_remote_code: bool = False
    gpu_memory_utilization: float | None = Field(None, gt=0, le=1)
    max_num_seqs: int | None = Field(None, gt=0)
    mm_processor_kwargs: dict[str, int] | None = None
    extra_args: list[str] = Field(default_factory=list, description="appended verbatim")

    @field_validator("limit_mm_per_prompt")
    @classmethod
    def _two_images_at_least(cls, value: dict[str, int]) -> dict[str, int]:
        if value.get("image", 0) < 2:
            raise ValueError("allow at least 2 images per prompt (temporal samples have two)")
        return value

    def vllm_flags(self) -> list[str]:
        """These arguments as vLLM server flags."""
        flags = [] if self.max_model_len is None else ["--max-model-len", str(self.max_model_len)]
        flags += ["--limit-mm-per-prompt", json.dumps(self.limit_mm_per_prompt)]
        flags += ["--tensor-parallel-size", str(self.tensor_parallel_size)]
        if self.data_parallel_size > 1:
            flags += ["--data-parallel-size", str(self.data_parallel_size)]
        if self.trust_remote_code:
            flags.append("--trust-remote-code")
        if self.gpu_memory_utilization is not None:
            flags += ["--gpu-memory-utilization", str(self.gpu_memory_utilization)]
        if self.max_num_seqs is not None:
            flags += ["--max-num-seqs", str(self.max_num_seqs)]
        if self.mm_processor_kwargs:
            flags += ["--mm-processor-kwargs", json.dumps(self.mm_processor_kwargs)]
        return flags + self.extra_args


class Generation(_Entry):
    """Generation defaults sent with every request."""

    max_tokens: int = Field(2048, gt=0)
    temperature: float = Field(0.0, ge=0)


class Hardware(_Entry):
    gpu_count: int = Field(ge=0)
    gpu_memory_gb: int | None = Field(None, gt=0, description="per GPU")
    notes: str = ""


class Prices(_Entry):
    """What an API provider charges, in USD per million tokens."""

    input_usd_per_mtok: float = Field(ge=0)
    output_usd_per_mtok: float = Field(ge=0)
    source: str
    as_of: date


class Api(_Entry):
    """How to reach a model that a provider serves (engine ``openai``)."""

    base_url: str | None = Field(None, description="None: given with --endpoint")
    api_key_env: str | None = "OPENAI_API_KEY"
    public: bool | None = Field(
        None, description="a public third-party API; None: the data-use guard decides by host"
    )
    notes: str = ""


class PaperReported(_Entry):
    """Numbers the ChestX-Reasoner paper reports for this model."""

    source: str = Field(description="paper version and table")
    metrics: dict[str, float]


class Baseline(_Entry):
    """One baseline model: how to obtain, serve and prompt it."""

    name: str
    description: str
    repo_id: str | None = Field(None, description="None: a local model (see commands)")
    revision: str | None = Field(None, description="full commit hash; None: not pinned yet")
    engine: Engine
    alt_engines: tuple[Engine, ...] = Field((), description="other engines --engine accepts")
    engine_args: EngineArgs | None = None
    served_model_name: str | None = Field(None, description="None: given with --model")
    prompt_profile: str = "radrbench"
    generation: Generation = Field(default_factory=Generation)
    licence: str
    hardware: Hardware
    prices: Prices | None = None
    api: Api | None = None
    server_env: dict[str, str] = Field(default_factory=dict)
    paper_reported: PaperReported | None = None
    commands: list[str] = Field(min_length=1)
    notes: str = ""

    @field_validator("prompt_profile")
    @classmethod
    def _known_profile(cls, value: str) -> str:
        if value not in PROFILES:
            raise ValueError(f"unknown prompt profile {value!r} (known: {', '.join(PROFILES)})")
        return value

    @field_validator("revision")
    @classmethod
    def _full_hash(cls, value: str | None) -> str | None:
        if value is not None and not _REVISION.match(value):
            raise ValueError("pin a full 40-character commit hash, or leave it null")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Baseline:
        served = self.engine != "openai"
        if (self.api is None) == (not served):
            raise ValueError("engine 'openai' needs an 'api' section; served engines have none")
        if served and (self.engine_args is None or self.served_model_name is None):
            raise ValueError(f"engine {self.engine!r} needs engine_args and served_model_name")
        if self.engine in self.alt_engines or "openai" in self.alt_engines:
            raise ValueError("alt_engines lists other serving engines (vllm, transformers)")
        return self

    @property
    def engines(self) -> tuple[Engine, ...]:
        return (self.engine, *self.alt_engines)

    @property
    def max_images(self) -> int:
        """Images per request the server accepts."""
        if self.engine_args is None:
            return DEFAULT_MAX_IMAGES
        return self.engine_args.limit_mm_per_prompt["image"]

    def server_command(
        self,
        port: int,
        model_path: str | None = None,
        *,
        engine: Engine | None = None,
        host: str = DEFAULT_HOST,
        python: str | None = None,
    ) -> list[str]:
        """The command line that serves this baseline on ``host:port``.

        ``model_path`` replaces the repo id (a local copy, or the tiny model's directory);
        ``engine`` picks one of :attr:`engines`; ``python`` is the interpreter that has the
        engine installed (default: this one).
        """
        engine = engine or self.engine
        if engine == "openai" or self.engine_args is None or self.served_model_name is None:
            raise ConfigError(
                f"baseline {self.name!r} is served by its API provider; there is nothing to start",
                hint=f"run 'radrbench eval --baseline {self.name}'",
            )
        if engine not in self.engines:
            raise ConfigError(
                f"baseline {self.name!r} cannot be served with {engine!r}",
                hint=f"choose one of {', '.join(self.engines)}",
            )
        model = model_path or self.repo_id
        if model is None:
            raise ConfigError(
                f"baseline {self.name!r} has no repo id: give the model directory",
                hint=f"see the commands in baselines/{self.name}.yaml",
            )
        args = self.engine_args
        module = VLLM_SERVER_MODULE if engine == "vllm" else TRANSFORMERS_SERVER_MODULE
        command = [python or sys.executable, "-m", module, "--model", model]
        if model_path is None and self.revision:
            command += ["--revision", self.revision]
        command += ["--served-model-name", self.served_model_name]
        command += ["--host", host, "--port", str(port), "--dtype", args.dtype]
        if engine == "transformers":
            command += ["--max-images", str(self.max_images)]
            return command + (["--trust-remote-code"] if args.trust_remote_code else [])
        return command + args.vllm_flags()


def _read_entry(path: Path) -> Baseline:
    try:
        raw: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or type(error).__name__
        raise ConfigError(f"not valid YAML{line}: {problem}", where=str(path)) from None
    if not isinstance(raw, dict):
        raise ConfigError("a baseline file must be a YAML mapping", where=str(path))
    if raw.get("name", path.stem) != path.stem:
        raise ConfigError(f"name {raw['name']!r} differs from the file name", where=f"{path}: name")
    try:
        return Baseline.model_validate({**raw, "name": path.stem})
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "(entry)"
        more = f" (and {error.error_count() - 1} more)" if error.error_count() > 1 else ""
        raise ConfigError(
            f"{first['msg']}{more}",
            where=f"{path}: {field}",
            hint="see docs/baselines.md for the fields of a baseline entry",
        ) from None


def load_baselines(directory: Path | None = None) -> dict[str, Baseline]:
    """Every baseline in ``directory`` (default: the ``baselines/`` folder), by name."""
    folder = directory or resource_dir("baselines")
    return {path.stem: _read_entry(path) for path in sorted(folder.glob("*.yaml"))}


def get_baseline(name: str, directory: Path | None = None) -> Baseline:
    """The named baseline; a :class:`ConfigError` listing the known names otherwise."""
    baselines = load_baselines(directory)
    try:
        return baselines[name]
    except KeyError:
        raise ConfigError(
            f"unknown baseline {name!r}",
            hint=f"known baselines: {', '.join(baselines) or 'none'}",
        ) from None
