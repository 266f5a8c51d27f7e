"""One JSON-returning chat call: a concurrency limit, a deadline, and bounded retries.

Retried: 429 and 5xx (waiting at least ``Retry-After``), timeouts, connection errors and
replies that do not parse. Not retried: other 4xx (the call gives ``None``), except 401, 403
and 404, which mean the judge is misconfigured and raise :class:`JudgeError`.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

import openai
from openai.types.chat import ChatCompletionMessageParam
from openai.types.shared_params import ResponseFormatJSONSchema
from pydantic import BaseModel, Field, ValidationError

from radrbench.errors import JudgeError

logger = logging.getLogger(__name__)

T = TypeVar("T")
MAX_JSON_CANDIDATES = 64
CONFIG_STATUSES = {401: "authentication failed", 403: "permission denied", 404: "not found"}


@dataclass
class CallStats:
    """What the judge's calls cost and how they failed (counts since creation)."""

    calls: int = 0
    """Judge calls (one per extraction, comparison or step labelling)."""
    requests: int = 0
    """HTTP requests sent, retries included."""
    retries: int = 0
    failures: int = 0
    """Calls that gave ``None`` after their retries."""
    errors: dict[str, int] = field(default_factory=dict)
    """Failed attempts by kind: rate_limited, server_error, timeout, connection, unparseable,
    rejected."""
    prompt_tokens: int = 0
    completion_tokens: int = 0


@dataclass(frozen=True)
class RetryPolicy:
    """Capped exponential backoff with jitter; a ``Retry-After`` is waited (up to the cap)."""

    max_retries: int = 4
    backoff: float = 0.5
    max_delay: float = 60.0

    def delay(self, retry: int, retry_after: float | None) -> float:
        """Seconds to wait before retry number ``retry`` (0-based)."""
        backoff = min(self.max_delay, self.backoff * 2.0**retry) * random.uniform(0.5, 1.0)
        return min(self.max_delay, max(backoff, retry_after or 0.0))


class _Message(BaseModel):
    content: str | None = None


class _Choice(BaseModel):
    message: _Message


class _Usage(BaseModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0


class _Completion(BaseModel):
    """The part of a chat completion the judge reads."""

    choices: list[_Choice] = Field(min_length=1)
    usage: _Usage | None = None


@dataclass(frozen=True)
class _Failure:
    kind: str
    retryable: bool = True
    retry_after: float | None = None


def retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds asked for by ``retry-after-ms`` or ``Retry-After`` (seconds or an HTTP date)."""
    try:
        if (milliseconds := headers.get("retry-after-ms")) is not None:
            return max(0.0, float(milliseconds) / 1000)
        if (value := headers.get("retry-after")) is None:
            return None
        try:
            return max(0.0, float(value))
        except ValueError:
            moment = email.utils.parsedate_to_datetime(value)
            return max(0.0, moment.timestamp() - time.time())
    except (ValueError, TypeError):
        return None


def json_objects(text: str) -> list[object]:
    """The top-level JSON objects in ``text`` (bare, in Markdown fences, or amid prose)."""
    decoder = json.JSONDecoder()
    found: list[object] = []
    position = text.find("{")
    for _ in range(MAX_JSON_CANDIDATES):
        if position == -1:
            break
        try:
            value, end = decoder.raw_decode(text, position)
        except ValueError:
            position = text.find("{", position + 1)
            continue
        found.append(value)
        position = text.find("{", end)
    return found


def parse_reply(text: str, parse: Callable[[object], T | None]) -> T | None:
    """The last JSON object in ``text`` that ``parse`` accepts (so an echoed example loses)."""
    for candidate in reversed(json_objects(text)):
        if (value := parse(candidate)) is not None:
            return value
    return None


class JSONCaller:
    """Sends chat requests that must return JSON, at most ``concurrency`` at a time.

    The client and the limit belong to the event loop that uses them: a caller used from
    another loop (a later ``asyncio.run``) gets fresh ones.
    """

    def __init__(
        self,
        connect: Callable[[], openai.AsyncOpenAI],
        model: str,
        *,
        concurrency: int,
        timeout: float,
        policy: RetryPolicy,
        seed: int,
        max_tokens: int,
        where: str,
    ) -> None:
        self.connect = connect
        self.model = model
        self.concurrency = concurrency
        self.timeout = timeout
        self.policy = policy
        self.seed = seed
        self.max_tokens = max_tokens
        self.where = where
        self.stats = CallStats()
        self._bound: tuple[asyncio.AbstractEventLoop, openai.AsyncOpenAI, asyncio.Semaphore] | None
        self._bound = None

    def _session(self) -> tuple[openai.AsyncOpenAI, asyncio.Semaphore]:
        loop = asyncio.get_running_loop()
        if self._bound is None or self._bound[0] is not loop:
            self._bound = (loop, self.connect(), asyncio.Semaphore(self.concurrency))
        return self._bound[1], self._bound[2]

    async def aclose(self) -> None:
        """Close the client of the running loop (a later call opens a new one)."""
        bound, self._bound = self._bound, None
        if bound is not None and bound[0] is asyncio.get_running_loop():
            await bound[1].close()

    async def call(
        self,
        messages: list[ChatCompletionMessageParam],
        response_format: ResponseFormatJSONSchema,
        parse: Callable[[object], T | None],
    ) -> T | None:
        """The parsed reply, or ``None`` once the retries are spent or the server refused."""
        self.stats.calls += 1
        attempts = self.policy.max_retries + 1
        for attempt in range(1, attempts + 1):
            outcome = await self._attempt(messages, response_format, parse)
            if not isinstance(outcome, _Failure):
                return outcome
            errors = self.stats.errors
            errors[outcome.kind] = errors.get(outcome.kind, 0) + 1
            if not outcome.retryable or attempt == attempts:
                logger.info("judge call failed (%s) after %d attempts", outcome.kind, attempt)
                break
            delay = self.policy.delay(attempt - 1, outcome.retry_after)
            logger.debug("judge call %s; retrying in %.2f s", outcome.kind, delay)
            self.stats.retries += 1
            await asyncio.sleep(delay)
        self.stats.failures += 1
        return None

    async def _attempt(
        self,
        messages: list[ChatCompletionMessageParam],
        response_format: ResponseFormatJSONSchema,
        parse: Callable[[object], T | None],
    ) -> T | _Failure:
        client, limit = self._session()
        async with limit:
            self.stats.requests += 1
            try:
                async with asyncio.timeout(self.timeout):
                    # The client's documented custom-request path: the request that
                    # chat.completions.create() sends, without its parameter transform and
                    # response model (about half of the client's CPU per call).
                    data = await client.post(
                        "/chat/completions",
                        cast_to=object,
                        body={
                            "model": self.model,
                            "messages": messages,
                            "temperature": 0,
                            "seed": self.seed,
                            "max_completion_tokens": self.max_tokens,
                            "response_format": response_format,
                        },
                    )
            except (TimeoutError, openai.APITimeoutError):
                return _Failure("timeout")
            except openai.APIStatusError as error:
                return self._status_failure(error)
            except openai.APIConnectionError:
                return _Failure("connection")
            except (openai.APIError, ValueError):  # a body that is not the JSON it claims
                return _Failure("unparseable")
        value = parse_reply(self._content(data), parse)
        return _Failure("unparseable") if value is None else value

    def _content(self, data: object) -> str:
        """The reply text of a chat completion ("" when the body is not one); counts tokens."""
        try:
            completion = _Completion.model_validate(data)
        except ValidationError:
            return ""
        if completion.usage is not None:
            self.stats.prompt_tokens += completion.usage.prompt_tokens
            self.stats.completion_tokens += completion.usage.completion_tokens
        return completion.choices[0].message.content or ""

    def _status_failure(self, error: openai.APIStatusError) -> _Failure:
        status = error.status_code
        if status in CONFIG_STATUSES:
            raise JudgeError(
                f"the judge server answered {status} ({CONFIG_STATUSES[status]})",
                where=self.where,
                hint="check OPENAI_API_KEY, the model name and the base URL",
            )
        if status == 429 or status >= 500:
            kind = "rate_limited" if status == 429 else "server_error"
            return _Failure(kind, retry_after=retry_after(error.response.headers))
        logger.warning("the judge server rejected a request with status %d", status)
        return _Failure("rejected", retryable=False)
