"""``radrbench-chat``: an lm-eval model that talks to any OpenAI-compatible chat endpoint.

Unlike lm-eval's own API models it keeps a per-run request log (a killed run resumes
without re-sending finished requests), sends benchmark images as the original files when
they are small enough (no re-encoding), and can pick up responses that a prefetcher
already requested while lm-eval was still starting up.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from lm_eval.api.instance import Instance
from lm_eval.api.model import LM
from lm_eval.api.registry import register_model

from radrbench.errors import ConfigError
from radrbench.eval.endpoint import Endpoint
from radrbench.eval.request_log import RequestLog
from radrbench.eval.requests import (
    ChatRequest,
    Generation,
    build_request,
    pil_data_url,
)

logger = logging.getLogger(__name__)


def request_for_instance(
    instance: Instance, endpoint: Endpoint, system: str | None, seed: int | None
) -> ChatRequest:
    """The chat request for one lm-eval generation instance."""
    context, gen_kwargs = instance.args[0], instance.args[1]
    doc: dict[str, Any] = instance.doc or {}
    files: Sequence[str] = doc.get("image_files") or ()
    urls: Callable[[], list[str]] | None = None
    if not files:  # in-memory images: their PNG bytes are their identity
        visuals = instance.args[2].get("visual", []) if len(instance.args) > 2 else []
        encoded = [pil_data_url(image) for image in visuals]
        files, urls = [url[-64:] for url in encoded], lambda: encoded
    return build_request(
        model=endpoint.model,
        task=instance.task_name or "",
        sample_id=str(doc.get("id", instance.doc_id)),
        prompt=str(context),
        image_ids=files,
        image_urls=urls,
        system=system,
        generation=Generation.from_gen_kwargs(gen_kwargs, seed),
    )


def prepare_scoring(requests: Sequence[Instance]) -> None:
    """Score each radrbench doc against an empty answer while the prefetched responses are
    still arriving: per-sample answer patterns and label tables are built now, not after
    the last response (a bad doc is reported by the real scoring, not here)."""
    from radrbench.data.benchmark import sample_from_row
    from radrbench.errors import RadrbenchError
    from radrbench.metrics.outcome import score_outcome

    for request in requests:
        if request.doc and "answer" in request.doc:
            try:
                score_outcome(sample_from_row(request.doc), "")
            except (RadrbenchError, KeyError, ValueError):
                continue


@register_model("radrbench-chat")
class RadrbenchChatLM(LM):  # type: ignore[misc]
    """Generation-only lm-eval model backed by an OpenAI-compatible ``/chat/completions``."""

    MULTIMODAL = True

    def __init__(
        self,
        endpoint: Endpoint,
        log: RequestLog,
        *,
        system: str | None = None,
        seed: int | None = 1234,
        wait_for_prefetch: Callable[[set[str]], None] | None = None,
    ) -> None:
        super().__init__()
        self.endpoint = endpoint
        self.log = log
        self.system = system
        self.seed = seed
        self.wait_for_prefetch = wait_for_prefetch

    def generate_until(self, requests: list[Instance], disable_tqdm: bool = False) -> list[str]:
        import asyncio

        chat = [request_for_instance(r, self.endpoint, self.system, self.seed) for r in requests]
        if self.wait_for_prefetch is not None:
            prepare_scoring(requests)
            self.wait_for_prefetch({c.key for c in chat})
        self.log.refresh()
        if any(c.key not in self.log for c in chat):
            from radrbench.eval.client import RequestRunner

            asyncio.run(RequestRunner(self.endpoint, self.log).run(chat))
        texts = []
        for request in chat:
            entry = self.log.get(request.key)
            assert entry is not None, "every request is in the log after a successful run"
            texts.append(entry.text or "")
        return texts

    def loglikelihood(self, requests: list[Instance]) -> list[tuple[float, bool]]:
        raise ConfigError(
            "radrbench-chat only generates text; loglikelihood tasks need an in-process model"
        )

    def loglikelihood_rolling(self, requests: list[Instance]) -> list[float]:
        raise ConfigError(
            "radrbench-chat only generates text; loglikelihood tasks need an in-process model"
        )
