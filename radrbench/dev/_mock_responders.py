"""What the mock server says: built-in responders, scripted replies and Python hooks."""

from __future__ import annotations

import hashlib
import importlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from radrbench.dev._mock_config import Responder
from radrbench.errors import ConfigError

Reply = Callable[[dict[str, Any], int], str]
"""A built responder: (request JSON, attempt number of this request body) → reply text."""

_OPTION = re.compile(r"^\s*\(?([A-Z])[).:]\s", re.MULTILINE)
IMAGE_TOKENS = 85  # a low-detail image, as OpenAI counts it


class NoScriptedReply(LookupError):
    """No line of the reply script matches the last user message."""


def message_text(message: Any) -> str:
    """The text of one chat message: a string, or the text parts of a list of parts."""
    content = message.get("content") if isinstance(message, dict) else None
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            part["text"]
            for part in content
            if isinstance(part, dict) and isinstance(part.get("text"), str)
        )
    return ""


def _messages(request: dict[str, Any]) -> list[Any]:
    messages = request.get("messages")
    return messages if isinstance(messages, list) else []


def last_user_text(request: dict[str, Any]) -> str:
    """The text of the last ``user`` message ("" when there is none)."""
    users = [m for m in _messages(request) if isinstance(m, dict) and m.get("role") == "user"]
    return message_text(users[-1]) if users else ""


def estimate_tokens(text: str) -> int:
    """A cheap, deterministic token count: four characters a token."""
    return (len(text) + 3) // 4


def prompt_tokens(request: dict[str, Any]) -> int:
    """Estimated prompt tokens: the text of every message plus a flat cost per image."""
    total = 0
    for message in _messages(request):
        total += estimate_tokens(message_text(message))
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, list):
            total += IMAGE_TOKENS * sum(
                isinstance(part, dict) and part.get("type") in ("image_url", "image")
                for part in content
            )
    return total


def echo_reply(request: dict[str, Any], attempt: int) -> str:
    """A reasoning-shaped reply whose answer letter is a function of the messages alone."""
    digest = hashlib.sha256(
        json.dumps(_messages(request), sort_keys=True).encode("utf-8")
    ).hexdigest()
    letters = list(dict.fromkeys(_OPTION.findall(last_user_text(request))))
    answer = letters[int(digest[:8], 16) % len(letters)] if letters else "none"
    considered = ", ".join(letters) or "no lettered options"
    return (
        f"<think>Mock reasoning {digest[:12]}: the image was reviewed and {considered} "
        f"were considered.</think><answer>{answer}</answer>"
    )


@dataclass(frozen=True)
class _ScriptLine:
    match: str
    replies: tuple[str, ...]


class ScriptedResponder:
    """Replies from a JSONL file: ``{"match": SUBSTRING, "reply": TEXT}`` or ``"replies": [...]``.

    The first line whose ``match`` occurs in the last user message wins (``""`` matches
    anything); with ``replies``, attempt *k* of a request body gets item *k* (the last repeats).
    """

    def __init__(self, path: Path) -> None:
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except OSError as error:
            raise ConfigError(f"cannot read reply script: {error}", where=str(path)) from None
        self.lines = [self._parse(path, n, line) for n, line in enumerate(lines, 1) if line.strip()]

    @staticmethod
    def _parse(path: Path, number: int, line: str) -> _ScriptLine:
        where = f"{path}:{number}"
        try:
            item = json.loads(line)
        except ValueError as error:
            raise ConfigError(f"not JSON: {error}", where=where) from None
        replies = item.get("replies", [item.get("reply")]) if isinstance(item, dict) else None
        if (
            not isinstance(item, dict)
            or not isinstance(item.get("match"), str)
            or not isinstance(replies, list)
            or not replies
            or not all(isinstance(reply, str) for reply in replies)
        ):
            raise ConfigError(
                "expected an object with a string 'match' and 'reply' (or a list 'replies')",
                where=where,
            )
        return _ScriptLine(item["match"], tuple(replies))

    def __call__(self, request: dict[str, Any], attempt: int) -> str:
        text = last_user_text(request)
        for line in self.lines:
            if line.match in text:
                return line.replies[min(attempt, len(line.replies) - 1)]
        raise NoScriptedReply("no line of the reply script matches the last user message")


def _hook(spec: str) -> Responder:
    module_name, _, attribute = spec.partition(":")
    try:
        function = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as error:
        raise ConfigError(f"cannot load responder hook: {error}", where=spec) from None
    if not callable(function):
        raise ConfigError("responder hook is not callable", where=spec)
    return function  # type: ignore[no-any-return]


def build_responder(spec: str | Responder) -> Reply:
    """Turn a responder spec (see :class:`~radrbench.dev.mock_openai.MockConfig`) into a reply."""
    if callable(spec):
        hook = spec
    elif spec == "echo":
        return echo_reply
    elif spec.startswith("fixed:"):
        text = spec.removeprefix("fixed:")
        return lambda request, attempt: text
    elif spec.startswith("script:"):
        return ScriptedResponder(Path(spec.removeprefix("script:")))
    elif ":" in spec:
        hook = _hook(spec)
    else:
        raise ConfigError(
            f"unknown responder {spec!r}",
            where="mock server",
            hint="use echo, fixed:TEXT, script:PATH or module:function",
        )
    return lambda request, attempt: hook(request)
