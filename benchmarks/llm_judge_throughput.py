"""LLM-judge stage throughput against a latency-controlled local server, and calls per sample.

The mock OpenAI server (a separate process) plays the judge with a fixed latency L; the judge
keeps at most C requests in flight, so no stage can exceed C / L requests per second. Side by
side in one run: a bare client (``chat.completions.create`` under a semaphore of C, the same
extraction request 3N times), model A scored on N fresh samples (reference extraction + 3 calls
each), then model B on the same samples with the reference side cached. Prints achieved / bound
(target >= 0.95; the bare client shows what the machine allows right now) and judge calls per
new (model, sample) once the reference is cached (target <= 3).

    python benchmarks/llm_judge_throughput.py --items 300 --latency 0.2 --concurrency 16
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from pathlib import Path

import openai

from radrbench.dev.mock_openai import MockConfig, MockProcess, start_mock_process
from radrbench.metrics.judges._llm_prompts import load_prompts
from radrbench.metrics.judges.cache import CACHE_FILE, CachedJudge, JudgeCache
from radrbench.metrics.judges.llm import LLMJudge, LLMJudgeOptions
from radrbench.metrics.radrscore import ScoringItem, score_many

CHAIN = [
    "The left costophrenic angle is blunted.",
    "There is a left pleural effusion.",
    "No pneumothorax is seen.",
]
REPORT = "Small left pleural effusion. No pneumothorax. Heart size is normal."
THINK = {
    "A": "There is a left pleural effusion. No pneumothorax. Look for cardiomegaly.",
    "B": "There is no pleural effusion. There is a right pneumothorax. The heart is normal.",
}


def load() -> str:
    one, five, fifteen = Path("/proc/loadavg").read_text().split()[:3]
    return f"load average {one} / {five} / {fifteen} on {os.cpu_count()} CPUs"


def items(model: str, count: int) -> list[ScoringItem]:
    return [
        ScoringItem(
            f"s{i}",
            f"<think>Study {i}. {THINK[model]}</think><answer>A</answer>",
            [f"Study {i}.", *CHAIN],
            f"Study {i}. {REPORT}",
        )
        for i in range(count)
    ]


async def bare_client(server: MockProcess, args: argparse.Namespace) -> tuple[int, float]:
    """3N extraction requests through the bare client; return (requests, seconds)."""
    prompts = load_prompts(None, {})
    client = openai.AsyncOpenAI(base_url=server.base_url, max_retries=0)
    limit = asyncio.Semaphore(args.concurrency)

    async def one(index: int) -> None:
        messages = prompts.messages("extract_findings", text=f"Study {index}. {THINK['A']}")
        async with limit:
            await client.chat.completions.create(
                model="judge",
                messages=messages,
                temperature=0,
                seed=0,
                response_format=prompts.response_format("extract_findings"),
            )

    server.reset()
    started = time.monotonic()
    try:
        await asyncio.gather(*(one(index) for index in range(3 * args.items)))
    finally:
        await client.close()
    return server.stats().count, time.monotonic() - started


async def stage(
    server: MockProcess, cache: JudgeCache, model: str, args: argparse.Namespace
) -> tuple[int, float, float, int]:
    """Score model ``model``; return (requests, client seconds, server seconds, failures)."""
    options = LLMJudgeOptions(concurrency=args.concurrency, timeout=30.0)
    judge = CachedJudge(LLMJudge("judge", base_url=server.base_url, options=options), cache)
    server.reset()
    started = time.monotonic()
    try:
        window = args.items_in_flight or 4 * args.concurrency
        scores = await score_many(judge, items(model, args.items), concurrency=window)
    finally:
        await judge.aclose()
    elapsed = time.monotonic() - started
    stats = server.stats()
    assert stats.max_in_flight <= args.concurrency, stats
    span = (stats.last_completion or 0.0) - (stats.first_arrival or 0.0)
    return stats.count, elapsed, span, sum(bool(score.failures) for score in scores)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=300, help="samples per model (N)")
    parser.add_argument("--latency", type=float, default=0.2, help="server latency L (s)")
    parser.add_argument("--concurrency", type=int, default=16, help="judge concurrency C")
    parser.add_argument(
        "--items-in-flight", type=int, default=0, help="score_many concurrency (default 4C)"
    )
    args = parser.parse_args()
    os.environ.setdefault("OPENAI_API_KEY", "sk-benchmark-not-a-key")
    bound = args.concurrency / args.latency
    print(f"before: {load()}")
    print(f"N={args.items} L={args.latency:g}s C={args.concurrency}: bound C/L = {bound:g} req/s")
    config = MockConfig(latency=args.latency, responder="radrbench.dev.scripted_judge:respond")
    with (
        tempfile.TemporaryDirectory() as folder,
        start_mock_process(config) as server,
        JudgeCache(Path(folder) / CACHE_FILE) as cache,
    ):
        count, elapsed = asyncio.run(bare_client(server, args))
        print(
            f"bare client: {count} requests in {elapsed:.2f}s; "
            f"throughput/bound {count / elapsed / bound:.3f}"
        )
        for model, label in (("A", "cold cache"), ("B", "warm reference cache")):
            count, elapsed, span, failed = asyncio.run(stage(server, cache, model, args))
            print(
                f"model {model} ({label}): {count} requests in {elapsed:.2f}s, "
                f"{count / args.items:.2f} calls/sample, failed samples {failed}; "
                f"throughput/bound {count / elapsed / bound:.3f} (client), "
                f"{count / span / bound:.3f} (server span)"
            )
    print(f"after: {load()}")


if __name__ == "__main__":
    main()
