"""Send chat-completion requests to an OpenAI-compatible endpoint, at most C in flight.

Retries what can succeed on a second try (429 honouring Retry-After, 408/409/425/5xx,
connection errors, timeouts, truncated or malformed bodies) with capped exponential backoff;
other 4xx fail at once. Each finished request is appended to the run's request log as soon
as it completes. After a request finally fails no new request starts, the ones in flight
are finished and logged, and ``ServerError`` says how to resume.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import random
import time
from collections.abc import Iterable, Iterator
from typing import Any

import aiohttp

from radrbench.baselines.guard import redact
from radrbench.errors import ServerError
from radrbench.eval.endpoint import Endpoint
from radrbench.eval.request_log import LogEntry, RequestLog
from radrbench.eval.requests import ChatRequest

logger = logging.getLogger(__name__)

RETRYABLE_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})


class _Retry(Exception):
    def __init__(self, reason: str, after: float | None = None):
        super().__init__(reason)
        self.reason = reason
        self.after = after


class _Final(Exception):
    pass


def _retry_after(headers: Any) -> float | None:
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value)
        return max(0.0, float(parsed.timestamp()) - time.time()) if parsed else None


def _error_text(raw: bytes) -> str:
    """The start of a server's error reply, with anything that looks like a key masked."""
    text = redact(raw.decode(errors="replace").strip().replace("\n", " "))
    return text[:200] + ("…" if len(text) > 200 else "")


def _parse_completion(raw: bytes) -> dict[str, Any]:
    try:
        payload = json.loads(raw)
        choice = payload["choices"][0]
        text = choice["message"].get("content")
    except (ValueError, KeyError, IndexError, TypeError, AttributeError) as error:
        raise _Retry(f"malformed response body ({type(error).__name__})") from error
    usage = payload.get("usage") or {}
    return {
        "text": text if isinstance(text, str) else "",
        "finish_reason": choice.get("finish_reason"),
        "prompt_tokens": int(usage.get("prompt_tokens") or 0),
        "completion_tokens": int(usage.get("completion_tokens") or 0),
    }


class RequestRunner:
    """Runs a batch of requests against one endpoint and records them in the log."""

    def __init__(
        self,
        endpoint: Endpoint,
        log: RequestLog,
        seed: int = 0,
    ):
        self.endpoint = endpoint
        self.log = log
        self._rng = random.Random(seed)
        self._stop = False
        self._failure: LogEntry | None = None

    def _backoff(self, attempt: int, hint: float | None) -> float:
        if hint is not None:
            return min(hint, self.endpoint.max_backoff_s)
        base = min(self.endpoint.max_backoff_s, 0.5 * 2.0 ** (attempt - 1))
        return base * (0.5 + self._rng.random() / 2)

    async def _attempt(
        self, session: aiohttp.ClientSession, request: ChatRequest
    ) -> dict[str, Any]:
        try:
            async with session.post(
                self.endpoint.url, data=request.body, headers=self.endpoint.headers()
            ) as response:
                status, headers, raw = response.status, response.headers, await response.read()
        except TimeoutError as error:
            raise _Retry(f"timed out after {self.endpoint.timeout_s:g} s") from error
        except aiohttp.ClientError as error:
            reason = f"connection error ({type(error).__name__}: {error})"
            raise _Retry(redact(reason)) from error
        if status == 200:
            return _parse_completion(raw)
        reason = f"HTTP {status}: {_error_text(raw)}"
        if status in RETRYABLE_STATUS or status >= 500:
            raise _Retry(reason, _retry_after(headers))
        raise _Final(reason)

    async def _one(self, client: aiohttp.ClientSession, request: ChatRequest) -> None:
        started_wall, started = time.time(), time.monotonic()
        faults: list[str] = []
        attempt = 0
        while True:
            attempt += 1
            try:
                outcome: dict[str, Any] = {"status": "ok", **await self._attempt(client, request)}
                break
            except (_Retry, _Final) as problem:
                reason = problem.reason if isinstance(problem, _Retry) else str(problem)
                faults.append(reason)
                retry = isinstance(problem, _Retry) and attempt <= self.endpoint.max_retries
                if retry and not self._stop:
                    delay = self._backoff(
                        attempt, problem.after if isinstance(problem, _Retry) else None
                    )
                    logger.info(
                        "request %s: %s; retrying in %.2f s", request.sample_id, reason, delay
                    )
                    await asyncio.sleep(delay)
                    continue
                outcome = {"status": "failed", "error": reason}
                self._stop = True
                break
        entry = LogEntry(
            key=request.key,
            task=request.task,
            sample_id=request.sample_id,
            attempts=attempt,
            faults=faults,
            latency_s=time.monotonic() - started,
            started=started_wall,
            finished=time.time(),
            **outcome,
        )
        if entry.status == "failed" and self._failure is None:
            self._failure = entry
        self.log.append(entry)

    async def run(self, requests: Iterable[ChatRequest]) -> None:
        """Send every request whose key is not in the log yet; raise on a final failure."""
        pending: Iterator[ChatRequest] = (r for r in requests if r.key not in self.log)
        timeout = aiohttp.ClientTimeout(
            total=self.endpoint.timeout_s, connect=min(30.0, self.endpoint.timeout_s)
        )
        connector = aiohttp.TCPConnector(limit=self.endpoint.concurrency)

        async def worker(session: aiohttp.ClientSession) -> None:
            while not self._stop:
                request = next(pending, None)
                if request is None:
                    return
                await self._one(session, request)

        async with aiohttp.ClientSession(
            connector=connector, timeout=timeout, trust_env=False
        ) as session:
            await asyncio.gather(*(worker(session) for _ in range(self.endpoint.concurrency)))
        self.log.sync()
        if self._failure is not None:
            failure = self._failure
            raise ServerError(
                f"request for sample {failure.sample_id!r} ({failure.task}) failed after "
                f"{failure.attempts} attempts: {failure.error}; {len(self.log.done)} responses "
                f"are saved in {self.log.path}",
                where=self.endpoint.base_url,
                hint="fix the server, then run the same command again to resume",
            )
