"""The mock server's aiohttp application: OpenAI-shaped replies, latency and injected faults."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import socket
import struct
import time
from dataclasses import asdict
from typing import Any

from aiohttp import web

from radrbench.dev._mock_config import MockConfig, decide
from radrbench.dev._mock_responders import (
    NoScriptedReply,
    build_responder,
    estimate_tokens,
    prompt_tokens,
)
from radrbench.dev._mock_stats import RequestRecord, StatsRecorder

logger = logging.getLogger("radrbench.dev.mock_openai")

HOST = "127.0.0.1"
SLOW_PIECES = 8  # a slow non-streamed body arrives in this many pieces
SHUTDOWN_TIMEOUT = 0.5  # seconds requests still running get when the server stops


def _settle(record: RequestRecord, status: int) -> None:
    record.status = status
    record.outcome = "fault" if record.fault else "ok" if status == 200 else "error"


def _error(
    record: RequestRecord,
    status: int,
    message: str,
    kind: str,
    headers: dict[str, str] | None = None,
) -> web.Response:
    _settle(record, status)
    body = {"error": {"message": message, "type": kind, "param": None, "code": None}}
    return web.json_response(body, status=status, headers=headers)


def _close(request: web.Request, *, reset: bool) -> None:
    """Close the connection: with a TCP reset, or after flushing what was written."""
    transport = request.transport
    if transport is None:
        return
    if reset:
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()
    else:
        transport.close()


def _limit(text: str, body: dict[str, Any]) -> tuple[str, str]:
    """Apply the request's ``stop`` and ``max_tokens``; return the content and finish reason."""
    stop = body.get("stop")
    stops = [stop] if isinstance(stop, str) else stop if isinstance(stop, list) else []
    cuts = [text.find(s) for s in stops if isinstance(s, str) and s and s in text]
    if cuts:
        text = text[: min(cuts)]
    limit = body.get("max_completion_tokens") or body.get("max_tokens")
    if isinstance(limit, int) and limit > 0 and estimate_tokens(text) > limit:
        return text[: 4 * limit], "length"
    return text, "stop"


class MockApp:
    """Request handlers sharing one configuration, responder and recorder."""

    def __init__(self, config: MockConfig) -> None:
        self.config = config
        self.reply = build_responder(config.responder)
        self.recorder = StatsRecorder()
        self.created = int(time.time())

    def application(self) -> web.Application:
        """The aiohttp application with every route."""
        app = web.Application(client_max_size=256 * 1024**2)  # images travel as data URLs
        app.router.add_post("/v1/chat/completions", self.chat)
        app.router.add_get("/v1/models", self.models)
        app.router.add_get("/health", self.health)
        app.router.add_get("/stats", self.stats)
        app.router.add_get("/stats/records", self.records)
        app.router.add_post("/stats/reset", self.reset)
        return app

    async def health(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def models(self, request: web.Request) -> web.Response:
        model = {"id": self.config.model, "object": "model", "created": self.created}
        return web.json_response({"object": "list", "data": [{**model, "owned_by": "radrbench"}]})

    async def stats(self, request: web.Request) -> web.Response:
        return web.json_response(asdict(self.recorder.summary()))

    async def records(self, request: web.Request) -> web.Response:
        return web.json_response({"records": [asdict(r) for r in self.recorder.records]})

    async def reset(self, request: web.Request) -> web.Response:
        self.recorder.reset()
        return web.json_response({"status": "ok"})

    async def chat(self, request: web.Request) -> web.StreamResponse:
        record = self.recorder.begin()
        try:
            return await self._chat(request, record)
        except asyncio.CancelledError:
            record.outcome = "disconnected"
            raise
        finally:
            self.recorder.finish(record)

    async def _chat(self, request: web.Request, record: RequestRecord) -> web.StreamResponse:
        raw = await request.read()
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
            message = "the body must be a JSON object with a 'messages' list"
            return _error(record, 400, message, "invalid_request_error")
        self.recorder.identify(record, hashlib.sha256(raw).hexdigest()[:16])
        record.model = str(body.get("model") or self.config.model)
        record.stream = bool(body.get("stream"))
        decision = decide(self.config, record.body_sha256, record.attempt)
        record.fault, record.latency = decision.fault, decision.latency
        logger.log(
            logging.INFO if decision.fault else logging.DEBUG,
            "request %d body %s attempt %d: fault=%s latency=%.3fs",
            record.index,
            record.body_sha256,
            record.attempt,
            decision.fault,
            decision.latency,
        )
        if decision.fault == "timeout":
            await asyncio.sleep(self.config.hang_seconds)
            return _error(record, 504, "injected timeout", "timeout")
        await asyncio.sleep(decision.latency)
        if decision.fault == "429":
            wait = self.config.retry_after
            headers = {"Retry-After": f"{wait:g}", "retry-after-ms": str(round(wait * 1000))}
            return _error(record, 429, "injected rate limit", "rate_limit_error", headers)
        if decision.fault == "500":
            return _error(record, 500, "injected server error", "server_error")
        if decision.fault == "reset":
            record.outcome = "fault"
            _close(request, reset=True)
            return web.Response()  # never sent: the connection is gone
        return await self._answer(request, record, body)

    async def _answer(
        self, request: web.Request, record: RequestRecord, body: dict[str, Any]
    ) -> web.StreamResponse:
        try:
            text = self.reply(body, record.attempt)
        except NoScriptedReply as error:
            return _error(record, 400, str(error), "invalid_request_error")
        except Exception:
            logger.exception("responder failed on request %d", record.index)
            return _error(record, 500, "the mock responder failed", "server_error")
        if not isinstance(text, str):
            return _error(record, 500, "the mock responder did not return text", "server_error")
        content, finish = _limit(text, body)
        record.prompt_tokens = prompt_tokens(body)
        record.completion_tokens = estimate_tokens(content)
        usage = {
            "prompt_tokens": record.prompt_tokens,
            "completion_tokens": record.completion_tokens,
            "total_tokens": record.prompt_tokens + record.completion_tokens,
        }
        head = {
            "id": f"chatcmpl-{record.body_sha256}-{record.attempt}",
            "created": int(time.time()),
            "model": record.model,
        }
        if record.stream:
            options = body.get("stream_options")
            with_usage = isinstance(options, dict) and bool(options.get("include_usage"))
            parts = self._events(head, content, finish, usage if with_usage else None)
            return await self._send(request, record, "text/event-stream", parts)
        choice = {
            "index": 0,
            "message": {"role": "assistant", "content": content},
            "logprobs": None,
            "finish_reason": finish,
        }
        completion = {**head, "object": "chat.completion", "choices": [choice], "usage": usage}
        encoded = json.dumps(completion).encode("utf-8")
        step = -(-len(encoded) // SLOW_PIECES)
        parts = [encoded[i : i + step] for i in range(0, len(encoded), step)]
        return await self._send(request, record, "application/json", parts)

    def _events(
        self, head: dict[str, Any], content: str, finish: str, usage: dict[str, int] | None
    ) -> list[bytes]:
        """The SSE events of a streamed completion, ``[DONE]`` included."""

        def event(choices: list[dict[str, Any]], **extra: Any) -> bytes:
            chunk = {**head, "object": "chat.completion.chunk", "choices": choices, **extra}
            return b"data: " + json.dumps(chunk).encode("utf-8") + b"\n\n"

        def delta(fields: dict[str, str], reason: str | None = None) -> list[dict[str, Any]]:
            return [{"index": 0, "delta": fields, "logprobs": None, "finish_reason": reason}]

        size = self.config.stream_chunk_chars
        events = [event(delta({"role": "assistant", "content": ""}))]
        pieces = [content[i : i + size] for i in range(0, len(content), size)]
        events += [event(delta({"content": piece})) for piece in pieces]
        events.append(event(delta({}, finish)))
        if usage is not None:
            events.append(event([], usage=usage))
        return [*events, b"data: [DONE]\n\n"]

    async def _send(
        self, request: web.Request, record: RequestRecord, content_type: str, parts: list[bytes]
    ) -> web.StreamResponse:
        """Send a 200 body; apply the ``truncate``, ``malformed`` or ``slow_stream`` fault."""
        whole = b"".join(parts)
        headers = {"Cache-Control": "no-cache"}
        _settle(record, 200)
        if record.fault not in ("truncate", "slow_stream"):  # one write: headers and body
            body = whole[: len(whole) // 2] if record.fault == "malformed" else whole
            return web.Response(body=body, content_type=content_type, headers=headers)
        response = web.StreamResponse(headers={**headers, "Content-Type": content_type})
        response.content_length = len(whole)
        await response.prepare(request)
        if record.fault == "truncate":  # half of what the headers promise, then hang up
            await response.write(whole[: len(whole) // 2])
            _close(request, reset=False)
            return response
        for part in parts:
            await asyncio.sleep(self.config.slow_seconds / len(parts))
            await response.write(part)
        await response.write_eof()
        return response


async def start_site(config: MockConfig) -> tuple[web.AppRunner, int]:
    """Serve ``config`` on 127.0.0.1 in the running loop; return the runner and bound port."""
    runner = web.AppRunner(
        MockApp(config).application(),
        handler_cancellation=True,  # a client that gives up frees its slot (in-flight count)
        access_log=None,
        shutdown_timeout=SHUTDOWN_TIMEOUT,
    )
    await runner.setup()
    site = web.TCPSite(runner, HOST, config.port, backlog=1024)
    try:
        await site.start()
    except OSError:
        await runner.cleanup()
        raise
    port: int = runner.addresses[0][1]
    return runner, port
