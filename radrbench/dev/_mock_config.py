"""Configuration of the mock OpenAI server, its command line, and the per-attempt fault draw."""

from __future__ import annotations

import argparse
import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from radrbench.errors import ConfigError

# The order matters: a request's uniform draw is compared with the cumulative rates in this order.
FAULT_KINDS = ("429", "500", "reset", "timeout", "truncate", "malformed", "slow_stream")
MAX_HANG_SECONDS = 300.0

Responder = Callable[[dict[str, Any]], str]
"""A Python hook: the parsed request JSON in, the assistant's reply text out."""


@dataclass(frozen=True)
class MockConfig:
    """How the mock server answers.

    ``responder``: ``echo``, ``fixed:<text>``, ``script:<jsonl path>``, ``module:function``, or
    (in-process only) a callable. ``faults``: kind → rate, kinds from :data:`FAULT_KINDS`.
    The first ``fault_first_n`` attempts of each distinct request body get ``fault_first_kind``.
    """

    port: int = 0
    model: str = "mock-model"
    latency: float = 0.0
    jitter: float = 0.0
    seed: int = 0
    responder: str | Responder = "echo"
    faults: Mapping[str, float] = field(default_factory=dict)
    fault_first_n: int = 0
    fault_first_kind: str = "500"
    retry_after: float = 1.0
    hang_seconds: float = 30.0
    slow_seconds: float = 2.0
    stream_chunk_chars: int = 16

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ConfigError(f"port {self.port} is not in 0..65535", where="mock server")
        for name in ("latency", "jitter", "retry_after", "slow_seconds"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must be >= 0", where="mock server")
        if not 0 < self.hang_seconds <= MAX_HANG_SECONDS:
            raise ConfigError(f"hang_seconds must be in (0, {MAX_HANG_SECONDS:g}]", where="mock")
        if self.fault_first_n < 0 or self.stream_chunk_chars < 1:
            raise ConfigError("fault_first_n must be >= 0, stream_chunk_chars >= 1", where="mock")
        for kind in (*self.faults, self.fault_first_kind):
            if kind not in FAULT_KINDS:
                raise ConfigError(
                    f"unknown fault {kind!r}", where="mock server", hint=f"use {FAULT_KINDS}"
                )
        if (
            any(not 0 <= rate <= 1 for rate in self.faults.values())
            or sum(self.faults.values()) > 1 + 1e-9
        ):
            raise ConfigError("fault rates must be in [0, 1] and sum to <= 1", where="mock server")


@dataclass(frozen=True)
class Decision:
    """What happens to one request attempt."""

    fault: str | None
    latency: float


def _uniforms(*key: object) -> tuple[float, float]:
    """Two uniforms in [0, 1) that are a pure function of ``key`` (cheaper than seeding a PRNG)."""
    digest = hashlib.sha256(":".join(map(str, key)).encode("utf-8")).digest()
    return int.from_bytes(digest[:8]) / 2**64, int.from_bytes(digest[8:16]) / 2**64


def decide(config: MockConfig, digest: str, attempt: int) -> Decision:
    """Draw latency and fault from (seed, body digest, attempt): independent of arrival order."""
    jitter, draw = _uniforms(config.seed, digest, attempt)
    latency = config.latency + config.jitter * jitter
    if attempt < config.fault_first_n:
        return Decision(config.fault_first_kind, latency)
    cumulative = 0.0
    for kind in FAULT_KINDS:
        cumulative += config.faults.get(kind, 0.0)
        if draw < cumulative:
            return Decision(kind, latency)
    return Decision(None, latency)


def parse_faults(spec: str) -> dict[str, float]:
    """``"429=0.05,reset=0.03"`` → ``{"429": 0.05, "reset": 0.03}``."""
    faults: dict[str, float] = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        kind, sep, rate = item.partition("=")
        try:
            if not sep:
                raise ValueError(item)
            faults[kind.strip()] = float(rate)
        except ValueError:
            raise ConfigError(
                f"bad fault item {item!r}", where="--faults", hint="use KIND=RATE"
            ) from None
    return faults


def build_parser() -> argparse.ArgumentParser:
    """The ``python -m radrbench.dev.mock_openai`` command line."""
    parser = argparse.ArgumentParser(
        prog="python -m radrbench.dev.mock_openai",
        description="OpenAI-compatible mock server on 127.0.0.1 with latency and fault injection.",
    )
    add = parser.add_argument
    add("--port", type=int, default=0, help="port to bind (0: a free one)")
    add("--model", default="mock-model", help="model id listed by /v1/models")
    add("--latency", type=float, default=0.0, help="seconds before each response")
    add("--jitter", type=float, default=0.0, help="extra seconds, uniform in [0, jitter)")
    add("--seed", type=int, default=0, help="seed of the latency and fault draws")
    add("--responder", default="echo", help="echo | fixed:TEXT | script:PATH | module:function")
    add("--faults", default="", help="e.g. 429=0.05,500=0.05,reset=0.03,timeout=0.02")
    add("--fault-first-n", type=int, default=0, help="fail the first K attempts of each request")
    add("--fault-first-kind", default="500", help="fault used by --fault-first-n")
    add("--retry-after", type=float, default=1.0, help="Retry-After seconds sent with 429")
    add("--hang-seconds", type=float, default=30.0, help="how long a 'timeout' fault hangs")
    add("--slow-seconds", type=float, default=2.0, help="how long a 'slow_stream' dribbles")
    add("--stream-chunk-chars", type=int, default=16, help="characters per SSE content chunk")
    add("--ready-file", type=Path, help="write the bound port here once listening")
    add("--exit-with-parent", action="store_true", help="stop when the parent process exits")
    add("--log-level", default="INFO", help="logging level of the fault decisions (stderr)")
    return parser


def config_from_args(args: argparse.Namespace) -> MockConfig:
    """The :class:`MockConfig` a parsed command line describes."""
    values = {item.name: getattr(args, item.name) for item in fields(MockConfig)}
    return MockConfig(**{**values, "faults": parse_faults(args.faults)})


def config_to_argv(config: MockConfig) -> list[str]:
    """The command-line arguments that reproduce ``config`` in another process."""
    if not isinstance(config.responder, str):
        raise ConfigError(
            "a callable responder cannot cross a process boundary",
            where="mock server",
            hint="use 'module:function' or serve_mock() in-process",
        )
    argv = []
    for item in fields(config):
        value = getattr(config, item.name)
        if item.name == "faults":
            value = ",".join(f"{kind}={rate}" for kind, rate in value.items())
        argv.append(f"--{item.name.replace('_', '-')}={value}")
    return argv
