"""In-process models (lm-eval ``hf-multimodal``) with the same request log as endpoints."""

from __future__ import annotations

import time
from typing import Any

from lm_eval.api.instance import Instance
from lm_eval.api.model import LM
from lm_eval.api.registry import get_model

from radrbench.eval.config import EvalConfig
from radrbench.eval.request_log import LogEntry, RequestLog
from radrbench.eval.requests import Generation, request_key
from radrbench.tasks.prompts import get_profile

CHUNK = 8  # generations per batch (one call into the model); the log is written after each batch


class LoggedLocalLM(LM):  # type: ignore[misc]
    """Wraps lm-eval's ``hf-multimodal``: finished generations go to the request log."""

    MULTIMODAL = True

    def __init__(self, config: EvalConfig, log: RequestLog) -> None:
        super().__init__()
        assert config.model.path is not None
        self.config = config
        self.log = log
        self.system = get_profile(config.prompt_profile).system
        self.inner = get_model("hf-multimodal").create_from_arg_obj(
            {
                "pretrained": config.model.path,
                "revision": config.model.revision or "main",
                "max_images": config.max_images,
                "interleave": True,
                "dtype": "float32",
                "device": "cpu",
                "batch_size": CHUNK,
            }
        )

    def _key(self, instance: Instance) -> str:
        doc: dict[str, Any] = instance.doc or {}
        return request_key(
            self.config.model.path or "",
            self.system,
            str(instance.args[0]),
            list(doc.get("image_files") or []),
            Generation.from_gen_kwargs(instance.args[1], self.config.seed),
        )

    def generate_until(self, requests: list[Instance], disable_tqdm: bool = False) -> list[str]:
        keys = [self._key(r) for r in requests]
        todo = [i for i, key in enumerate(keys) if key not in self.log]
        for start in range(0, len(todo), CHUNK):
            chunk = todo[start : start + CHUNK]
            began = time.time()
            outputs = self.inner.generate_until([requests[i] for i in chunk], disable_tqdm=True)
            for i, text in zip(chunk, outputs, strict=True):
                doc = requests[i].doc or {}
                self.log.append(
                    LogEntry(
                        key=keys[i],
                        status="ok",
                        task=requests[i].task_name or "",
                        sample_id=str(doc.get("id", requests[i].doc_id)),
                        text=text,
                        latency_s=(time.time() - began) / len(chunk),
                        started=began,
                        finished=time.time(),
                    )
                )
        self.log.sync()
        return [(self.log.get(key) or LogEntry(key=key, status="ok")).text or "" for key in keys]

    def loglikelihood(self, requests: list[Instance]) -> list[tuple[float, bool]]:
        return list(self.inner.loglikelihood(requests))

    def loglikelihood_rolling(self, requests: list[Instance]) -> list[float]:
        return list(self.inner.loglikelihood_rolling(requests))

    def apply_chat_template(
        self, chat_history: list[dict[str, str]], add_generation_prompt: bool = True
    ) -> str:
        return str(self.inner.apply_chat_template(chat_history, add_generation_prompt))

    def chat_template(self, chat_template: bool | str = False) -> str | None:
        result = self.inner.chat_template(chat_template)
        return None if result is None else str(result)

    @property
    def tokenizer_name(self) -> str:
        return str(self.inner.tokenizer_name)
