"""The mining LLM: the judge's JSON caller (concurrency limit, deadline, retries) on a spec."""

from __future__ import annotations

import os

from radrbench.errors import ConfigError, JudgeError
from radrbench.metrics.judges._llm_client import JSONCaller, RetryPolicy
from radrbench.metrics.judges.llm import openai_connector, parse_spec, public_url

DEFAULT_BASE_URL = "https://api.openai.com/v1"


def resolve_spec(spec: str) -> tuple[str, str | None, str]:
    """``openai:<model>[@<base_url>]`` → (model, base URL or None, the recorded spec)."""
    try:
        model, base_url = parse_spec(spec)
    except JudgeError as error:
        raise ConfigError(error.message, where="--llm", hint=error.hint) from None
    url = base_url or os.environ.get("OPENAI_BASE_URL") or None
    return model, base_url, f"openai:{model}" + (f"@{public_url(url)}" if url else "")


def endpoint_of(base_url: str | None) -> str:
    """The URL requests go to (for the data-use guard)."""
    return base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL


def make_caller(
    spec: str,
    *,
    concurrency: int,
    timeout: float,
    max_retries: int,
    seed: int,
    max_tokens: int,
) -> JSONCaller:
    """A JSON caller for the model the spec names (key from ``OPENAI_API_KEY``)."""
    model, base_url, recorded = resolve_spec(spec)
    connect = openai_connector(
        endpoint_of(base_url),
        timeout,
        ConfigError("no API key for the mining LLM", where=recorded, hint="set OPENAI_API_KEY"),
    )

    return JSONCaller(
        connect,
        model,
        concurrency=concurrency,
        timeout=timeout,
        policy=RetryPolicy(max_retries),
        seed=seed,
        max_tokens=max_tokens,
        where=recorded,
    )
