"""Chat-completion requests: messages, images as data URLs, payloads and stable keys."""

from __future__ import annotations

import base64
import hashlib
import io
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any

from PIL import Image

from radrbench.data.images import DEFAULT_MAX_PIXELS, open_image, resize_for_model
from radrbench.tasks.prompts import strip_placeholders

_PASSTHROUGH_FORMATS = {"PNG": "image/png", "JPEG": "image/jpeg"}


@dataclass(frozen=True)
class Generation:
    """Decoding settings, normalised from lm-eval ``gen_kwargs`` to OpenAI parameters."""

    max_tokens: int = 2048
    temperature: float = 0.0
    stop: tuple[str, ...] = ()
    seed: int | None = 1234

    @classmethod
    def from_gen_kwargs(cls, gen_kwargs: Mapping[str, Any], seed: int | None = 1234) -> Generation:
        until = gen_kwargs.get("until") or ()
        if isinstance(until, str):
            until = (until,)
        do_sample = bool(gen_kwargs.get("do_sample", False))
        temperature = float(gen_kwargs.get("temperature", 0.0)) if do_sample else 0.0
        return cls(
            max_tokens=int(gen_kwargs.get("max_gen_toks", gen_kwargs.get("max_tokens", 2048))),
            temperature=temperature,
            stop=tuple(until)[:4],
            seed=seed,
        )

    def payload_fields(self) -> dict[str, Any]:
        fields: dict[str, Any] = {"max_tokens": self.max_tokens, "temperature": self.temperature}
        if self.stop:
            fields["stop"] = list(self.stop)
        if self.seed is not None:
            fields["seed"] = self.seed
        return fields


@lru_cache(maxsize=4096)
def image_data_url(path: str, max_pixels: int = DEFAULT_MAX_PIXELS) -> str:
    """A data URL for an image file: its own bytes when small enough, else resized PNG."""
    file = Path(path)
    with Image.open(file) as probe:
        fmt, (width, height) = probe.format, probe.size
    if fmt in _PASSTHROUGH_FORMATS and width * height <= max_pixels:
        data, mime = file.read_bytes(), _PASSTHROUGH_FORMATS[fmt]
    else:  # same pixels as doc_to_image gives in-process models; fast PNG compression
        buffer = io.BytesIO()
        resize_for_model(open_image(file), max_pixels).save(buffer, format="PNG", compress_level=1)
        data, mime = buffer.getvalue(), "image/png"
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


def pil_data_url(image: Image.Image) -> str:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return f"data:image/png;base64,{base64.b64encode(buffer.getvalue()).decode()}"


@dataclass(frozen=True)
class ChatRequest:
    """A request: its key, where it comes from, and its JSON body (built on first use).

    The key needs only the images' identities, so a request whose response is already
    logged never reads or encodes its images.
    """

    key: str
    task: str
    sample_id: str
    build_body: Callable[[], bytes] = field(repr=False, compare=False)

    @cached_property
    def body(self) -> bytes:
        return self.build_body()


def request_key(
    model: str, system: str | None, prompt: str, images: Sequence[str], generation: Generation
) -> str:
    """Stable identity of a request: same key ⇔ same model, text, images and decoding."""
    identity = {
        "model": model,
        "system": system,
        "prompt": strip_placeholders(prompt),
        "images": list(images),
        "generation": generation.payload_fields(),
    }
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:32]


def build_request(
    *,
    model: str,
    task: str,
    sample_id: str,
    prompt: str,
    image_ids: Sequence[str],
    system: str | None,
    generation: Generation,
    image_urls: Callable[[], Sequence[str]] | None = None,
) -> ChatRequest:
    """Images first (prior before current), then the question text, as one user turn.

    ``image_ids`` are image file paths (sent via :func:`image_data_url`) unless
    ``image_urls`` gives the data URLs.
    """

    def body() -> bytes:
        urls = image_urls() if image_urls else [image_data_url(f) for f in image_ids]
        return _body(model, system, prompt, urls, generation)

    return ChatRequest(
        key=request_key(model, system, prompt, image_ids, generation),
        task=task,
        sample_id=sample_id,
        build_body=body,
    )


def _body(
    model: str,
    system: str | None,
    prompt: str,
    image_urls: Sequence[str],
    generation: Generation,
) -> bytes:
    # Data URLs are base64 (nothing to escape in JSON): splice them into the serialised body
    # instead of making json.dumps copy and scan hundreds of kilobytes per request.
    tokens = [f"@@radrbench-image-{index}@@" for index in range(len(image_urls))]
    content: list[dict[str, Any]] = [
        {"type": "image_url", "image_url": {"url": token}} for token in tokens
    ]
    content.append({"type": "text", "text": strip_placeholders(prompt)})
    messages: list[dict[str, Any]] = []
    if system:
        messages.append({"role": "system", "content": system})
    messages.append({"role": "user", "content": content})
    text = json.dumps(
        {"model": model, "messages": messages, **generation.payload_fields()}, ensure_ascii=False
    )
    for token, url in zip(tokens, image_urls, strict=True):
        text = text.replace(token, url, 1)
    return text.encode()
