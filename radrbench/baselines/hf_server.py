"""radrbench's own OpenAI-compatible server on ``transformers``, for models vLLM lacks.

    python -m radrbench.baselines.hf_server --model DIR_OR_REPO --served-model-name NAME \\
        --host 127.0.0.1 --port 8000 [--dtype float32] [--max-images 4] [--trust-remote-code]

Serves ``POST /v1/chat/completions`` (non-streaming; images as data URLs or local file URLs),
``GET /v1/models`` and ``GET /health``. Generation runs one request at a time (a lock), with
the model's own chat template and processor, greedy when temperature is 0 — the same path
lm-eval's ``hf-multimodal`` takes, so outputs match in-process evaluation.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import io
import logging
import threading
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from aiohttp import web
from PIL import Image

logger = logging.getLogger("radrbench.hf_server")
DTYPES = ("float32", "bfloat16", "float16", "auto")


class BadRequest(Exception):
    """A request the server cannot answer (HTTP 400)."""


def decode_image(url: str) -> Image.Image:
    """An RGB image from a ``data:`` URL or a ``file://`` path."""
    if url.startswith("data:"):
        _, _, payload = url.partition(",")
        data = base64.b64decode(payload)
    elif url.startswith("file://"):
        data = Path(url.removeprefix("file://")).read_bytes()
    else:
        raise BadRequest("images must be data: or file:// URLs (the server has no internet)")
    with Image.open(io.BytesIO(data)) as image:
        return image.convert("RGB")


def to_chat(messages: Sequence[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[Image.Image]]:
    """OpenAI messages → the processor's chat format and the images in order."""
    chat: list[dict[str, Any]] = []
    images: list[Image.Image] = []
    for message in messages:
        content = message.get("content")
        if isinstance(content, str):
            chat.append({"role": message["role"], "content": [{"type": "text", "text": content}]})
            continue
        parts: list[dict[str, Any]] = []
        for part in content or []:
            if part.get("type") == "text":
                parts.append({"type": "text", "text": part["text"]})
            elif part.get("type") == "image_url":
                images.append(decode_image(part["image_url"]["url"]))
                parts.append({"type": "image"})
            else:
                raise BadRequest(f"unsupported content part {part.get('type')!r}")
        chat.append({"role": message["role"], "content": parts})
    return chat, images


class Generator:
    """Loads the model once; generates one request at a time."""

    def __init__(
        self,
        model: str,
        *,
        revision: str | None,
        dtype: str,
        max_images: int,
        trust_remote_code: bool,
    ) -> None:
        import torch
        from transformers import AutoModelForImageTextToText, AutoProcessor

        self.torch = torch
        self.max_images = max_images
        kwargs: dict[str, Any] = {"revision": revision, "trust_remote_code": trust_remote_code}
        self.processor = AutoProcessor.from_pretrained(model, **kwargs)  # type: ignore[no-untyped-call]
        torch_dtype = "auto" if dtype == "auto" else getattr(torch, dtype)
        self.model = AutoModelForImageTextToText.from_pretrained(model, dtype=torch_dtype, **kwargs)
        self.model.eval()  # type: ignore[no-untyped-call]
        self.lock = threading.Lock()

    def generate(self, body: dict[str, Any]) -> tuple[str, int, int, str]:
        chat, images = to_chat(body.get("messages") or [])
        if not chat:
            raise BadRequest("messages is empty")
        if len(images) > self.max_images:
            raise BadRequest(f"at most {self.max_images} images per request (got {len(images)})")
        text = self.processor.apply_chat_template(chat, add_generation_prompt=True)
        inputs = self.processor(images=images or None, text=[text], return_tensors="pt")
        max_new = int(body.get("max_tokens") or body.get("max_completion_tokens") or 256)
        temperature = float(body.get("temperature") or 0.0)
        options: dict[str, Any] = {"max_new_tokens": max_new, "do_sample": temperature > 0}
        if temperature > 0:
            options.update(temperature=temperature, top_p=float(body.get("top_p") or 1.0))
        with self.lock, self.torch.inference_mode():
            if body.get("seed") is not None:
                self.torch.manual_seed(int(body["seed"]))
            output = self.model.generate(**inputs, **options)
        prompt_len = inputs["input_ids"].shape[1]
        new_tokens = output[0, prompt_len:]
        completion = self.processor.batch_decode([new_tokens], skip_special_tokens=True)[0]
        for stop in body.get("stop") or []:
            completion = completion.split(stop)[0]
        finish = "length" if len(new_tokens) >= max_new else "stop"
        return completion, int(prompt_len), len(new_tokens), finish


def build_app(generator: Generator, served_name: str) -> web.Application:
    async def completions(request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except ValueError:
            return _error(400, "request body is not JSON")
        if body.get("stream"):
            return _error(400, "streaming is not supported by this server")
        try:
            text, n_prompt, n_new, finish = await asyncio.to_thread(generator.generate, body)
        except BadRequest as error:
            return _error(400, str(error))
        return web.json_response(
            {
                "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": served_name,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": text},
                        "finish_reason": finish,
                    }
                ],
                "usage": {
                    "prompt_tokens": n_prompt,
                    "completion_tokens": n_new,
                    "total_tokens": n_prompt + n_new,
                },
            }
        )

    async def models(_: web.Request) -> web.Response:
        return web.json_response(
            {
                "object": "list",
                "data": [{"id": served_name, "object": "model", "owned_by": "radrbench"}],
            }
        )

    async def health(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app = web.Application(client_max_size=256 * 1024 * 1024)
    app.router.add_post("/v1/chat/completions", completions)
    app.router.add_get("/v1/models", models)
    app.router.add_get("/health", health)
    return app


def _error(status: int, message: str) -> web.Response:
    return web.json_response(
        {"error": {"message": message, "type": "invalid_request_error"}}, status=status
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m radrbench.baselines.hf_server", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--model", required=True, help="local directory or hub repo id")
    parser.add_argument("--revision", default=None)
    parser.add_argument("--served-model-name", default=None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--dtype", choices=DTYPES, default="float32")
    parser.add_argument("--max-images", type=int, default=4)
    parser.add_argument("--trust-remote-code", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    served = args.served_model_name or args.model
    logger.info("loading %s", args.model)
    generator = Generator(
        args.model,
        revision=args.revision,
        dtype=args.dtype,
        max_images=args.max_images,
        trust_remote_code=args.trust_remote_code,
    )
    logger.info("serving %s on http://%s:%d/v1", served, args.host, args.port)
    web.run_app(
        build_app(generator, served), host=args.host, port=args.port, access_log=None, print=None
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
