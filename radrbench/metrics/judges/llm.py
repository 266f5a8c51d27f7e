"""The ``openai:<model>[@<base_url>]`` judge: any OpenAI-compatible chat endpoint grades reasoning.

OpenAI, Azure OpenAI (its v1 endpoint, ``https://RESOURCE.openai.azure.com/openai/v1``) or a
local vLLM server. The key comes from ``OPENAI_API_KEY`` (a local server needs none), the base
URL from the spec or ``OPENAI_BASE_URL``. Temperature 0, a fixed seed, strict JSON-schema
replies (a JSON object inside prose or Markdown fences is accepted too, for servers that ignore
``response_format``). ``version`` hashes the templates in ``metrics/prompts/``, the schemas and
the sampling settings. Three calls per (model output, sample) once the reference is extracted.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit, urlunsplit

import openai
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from radrbench.errors import JudgeError, RadrbenchError
from radrbench.metrics.judges._llm_client import CallStats, JSONCaller, RetryPolicy
from radrbench.metrics.judges._llm_prompts import (
    ComparisonReply,
    FindingsReply,
    Prompts,
    StepsReply,
    load_prompts,
)
from radrbench.metrics.judges.base import (
    Finding,
    FindingComparison,
    Judge,
    ReferenceFindings,
    StepJudgment,
)

__all__ = ["CallStats", "LLMJudge", "LLMJudgeOptions", "parse_spec", "public_url"]

R = TypeVar("R", bound=BaseModel)
_SPEC = re.compile(r"^openai:(?P<model>[^@\s]+)(?:@(?P<url>https?://\S+))?$")
_NO_LOCATION = frozenset({"", "-", "none", "null", "n/a", "unspecified"})
LOCAL_API_KEY = "no-key"  # sent to servers other than api.openai.com when no key is set
OPENAI_HOST = "api.openai.com"


def openai_connector(
    base_url: str | None, timeout: float, missing_key: RadrbenchError
) -> Callable[[], openai.AsyncOpenAI]:
    """A factory of async OpenAI clients for ``base_url`` (None: ``OPENAI_BASE_URL`` or OpenAI).

    The key comes from ``OPENAI_API_KEY``; without one, other servers get a placeholder key and
    api.openai.com raises ``missing_key``. The clients never retry (the caller does).
    """
    url = base_url or os.environ.get("OPENAI_BASE_URL") or None
    api_key = None  # the client reads OPENAI_API_KEY itself
    if not os.environ.get("OPENAI_API_KEY"):
        if url is None or urlsplit(url).hostname == OPENAI_HOST:
            raise missing_key
        api_key = LOCAL_API_KEY

    def connect() -> openai.AsyncOpenAI:
        return openai.AsyncOpenAI(
            api_key=api_key,
            base_url=base_url,
            max_retries=0,
            timeout=timeout,
            http_client=openai.DefaultAioHttpClient(),  # less CPU per request than httpx
        )

    return connect


class LLMJudgeOptions(BaseModel):
    """How the LLM judge talks to its server (none of this enters the spec)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    concurrency: int = Field(16, ge=1, le=1024)
    """Requests in flight at most."""
    timeout: float = Field(120.0, gt=0)
    """Seconds one request may take, from sending to the parsed reply."""
    max_retries: int = Field(4, ge=0, le=20)
    backoff: float = Field(0.5, ge=0)
    """First retry delay in seconds; doubled at each retry, capped at ``max_delay``."""
    max_delay: float = Field(60.0, ge=0)
    seed: int = 0
    max_tokens: int = Field(4096, ge=1)
    prompts_dir: Path | None = None
    """Another template folder (default: ``metrics/prompts``)."""


def parse_spec(spec: str) -> tuple[str, str | None]:
    """``openai:<model>[@<base_url>]`` → (model, base URL or ``None``)."""
    match = _SPEC.match(spec.strip())
    if match is None:
        raise JudgeError(
            f"bad LLM judge spec {public_url(spec)!r}",
            where="--judge",
            hint="use openai:<model> or openai:<model>@http://host:port/v1",
        )
    return match["model"], match["url"]


def public_url(url: str) -> str:
    """``url`` without user, password, query and fragment (where credentials may hide)."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, host, parts.path.rstrip("/"), "", ""))


def _validate(model: type[R], data: object) -> R | None:
    try:
        return model.model_validate(data)
    except ValidationError:
        return None


def _findings(data: object) -> list[Finding] | None:
    reply = _validate(FindingsReply, data)
    if reply is None:
        return None
    return [
        Finding(
            observation=item.observation,
            status=item.status,
            location=None if (item.location or "").lower() in _NO_LOCATION else item.location,
        )
        for item in reply.findings
    ]


def _flags(items: Sequence[tuple[int, bool]], count: int) -> tuple[bool, ...] | None:
    """One flag per number 1..count (repeats must agree), or ``None``."""
    flags: dict[int, bool] = {}
    for number, flag in items:
        if flags.setdefault(number, flag) != flag:
            return None
    if set(flags) != set(range(1, count + 1)):
        return None
    return tuple(flags[number] for number in range(1, count + 1))


def _comparison(data: object, references: int, findings: int) -> FindingComparison | None:
    reply = _validate(ComparisonReply, data)
    if reply is None:
        return None
    recalled = _flags([(item.reference, item.recalled) for item in reply.recall], references)
    consistent = _flags([(item.finding, item.consistent) for item in reply.consistency], findings)
    if recalled is None or consistent is None:
        return None
    return FindingComparison(recalled=recalled, consistent=consistent)


def _steps(data: object) -> list[StepJudgment] | None:
    reply = _validate(StepsReply, data)
    if reply is None:
        return None
    return [StepJudgment(text=step.text, label=step.label) for step in reply.steps]


class LLMJudge(Judge):
    """A RadRScore judge behind an OpenAI-compatible chat endpoint."""

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        options: LLMJudgeOptions | None = None,
    ) -> None:
        options = options or LLMJudgeOptions()
        url = base_url or os.environ.get("OPENAI_BASE_URL") or None
        self.spec = f"openai:{model}" + (f"@{public_url(url)}" if url else "")
        connect = openai_connector(
            base_url,
            options.timeout,
            JudgeError(
                "no API key for the OpenAI judge", where=self.spec, hint="set OPENAI_API_KEY"
            ),
        )

        self._prompts: Prompts = load_prompts(
            options.prompts_dir, {"temperature": 0, "seed": options.seed}
        )
        self.version = self._prompts.version
        self._caller = JSONCaller(
            connect,
            model,
            concurrency=options.concurrency,
            timeout=options.timeout,
            policy=RetryPolicy(options.max_retries, options.backoff, options.max_delay),
            seed=options.seed,
            max_tokens=options.max_tokens,
            where=self.spec,
        )

    @classmethod
    def from_spec(cls, spec: str, options: LLMJudgeOptions | None = None) -> LLMJudge:
        """Build the judge an ``openai:<model>[@<base_url>]`` spec names."""
        model, base_url = parse_spec(spec)
        return cls(model, base_url=base_url, options=options)

    @property
    def stats(self) -> CallStats:
        """Calls, requests, retries, failures by kind and tokens so far."""
        return self._caller.stats

    async def extract_findings(self, text: str) -> list[Finding] | None:
        if not text.strip():
            return []
        task = "extract_findings"
        messages = self._prompts.messages(task, text=text.strip())
        return await self._caller.call(messages, self._prompts.response_format(task), _findings)

    async def compare_findings(
        self, findings: Sequence[Finding], reference: ReferenceFindings
    ) -> FindingComparison | None:
        references = len(reference.chain_findings)
        if not findings:
            return FindingComparison(recalled=(False,) * references, consistent=())
        task = "compare_findings"
        messages = self._prompts.messages(
            task,
            reference_findings=reference.chain_findings,
            model_findings=findings,
            report=reference.report.strip(),
        )
        return await self._caller.call(
            messages,
            self._prompts.response_format(task),
            lambda data: _comparison(data, references, len(findings)),
        )

    async def label_steps(
        self, reasoning: str, reference: ReferenceFindings
    ) -> list[StepJudgment] | None:
        if not reasoning.strip():
            return []
        task = "label_steps"
        messages = self._prompts.messages(task, chain=reference.chain, reasoning=reasoning.strip())
        return await self._caller.call(messages, self._prompts.response_format(task), _steps)

    async def aclose(self) -> None:
        await self._caller.aclose()
