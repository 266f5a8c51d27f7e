"""Mining throughput against a latency-controlled local server, as a share of the bound.

The mock OpenAI server (a separate process) plays the mining LLM with a fixed latency L and one
fixed reply that serves as plan and as chain (``--responder scripted`` plays the scripted miner
instead, whose report parsing costs the server CPU); ``radrbench mine`` keeps at most C requests in
flight, so no run can exceed C / L requests per second. Mines the phantom demo set (its chains
set aside) and prints the request rate the server saw, first arrival to last completion, over
C / L (goal >= 0.9), plus samples per second and the share of chains accepted. Side by side,
the bare client (``chat.completions.create`` under a semaphore of C, as many plan requests)
against the same server shows what the machine allows right now.

    python benchmarks/mining_throughput.py --studies 80 --latency 0.2 --concurrency 16
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
from pathlib import Path

from radrbench.data.benchmark import load_samples, read_manifest, write_benchmark
from radrbench.data.phantom import generate_demo
from radrbench.dev.mock_openai import MockConfig, MockProcess, start_mock_process
from radrbench.mining.miner import MiningOptions, mine_benchmark
from radrbench.mining.prompts import load_mining_prompts

MINER = "radrbench.dev.scripted_miner:reply"
FIXED = "fixed:" + json.dumps(
    {
        "plan": ["Check the lungs and pleura."],
        "steps": ["There is no pneumothorax.", "Therefore, the answer is B) No."],
    }
)


def load() -> str:
    one, five, fifteen = Path("/proc/loadavg").read_text().split()[:3]
    return f"load average {one} / {five} / {fifteen} on {os.cpu_count()} CPUs"


def unmined(bench: Path, studies: int) -> Path:
    """The phantom set with its chains removed (what a freshly built benchmark looks like)."""
    generate_demo(bench, studies=studies, seed=0)
    manifest = read_manifest(bench)
    samples = [s.model_copy(update={"reasoning": None}) for s in load_samples(bench)]
    write_benchmark(bench, samples, name=manifest.name, version=manifest.version)
    return bench


async def bare_client(server: MockProcess, requests: int, concurrency: int) -> float:
    """``requests`` plan requests through the bare client; return requests per second."""
    import openai

    prompts = load_mining_prompts(None, {})
    client = openai.AsyncOpenAI(base_url=server.base_url, api_key="no-key", max_retries=0)
    limit = asyncio.Semaphore(concurrency)

    async def one(index: int) -> None:
        messages = prompts.messages("plan", question=f"Question {index}?", answer="A) Yes")
        async with limit:
            await client.chat.completions.create(model="m", messages=messages, temperature=0)

    server.reset()
    try:
        await asyncio.gather(*(one(index) for index in range(requests)))
    finally:
        await client.close()
    stats = server.stats()
    assert stats.first_arrival is not None and stats.last_completion is not None
    return stats.count / (stats.last_completion - stats.first_arrival)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--studies", type=int, default=80)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--responder", choices=["fixed", "scripted"], default="fixed")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        bench = unmined(Path(tmp) / "bench", args.studies)
        print(load())
        with start_mock_process(
            MockConfig(
                responder=MINER if args.responder == "scripted" else FIXED, latency=args.latency
            )
        ) as server:
            started = time.perf_counter()
            summary = mine_benchmark(
                bench,
                f"openai:scripted@{server.base_url}",
                MiningOptions(concurrency=args.concurrency),
            )
            wall = time.perf_counter() - started
            stats = server.stats()
            bare = asyncio.run(bare_client(server, stats.count, args.concurrency))
    assert stats.first_arrival is not None and stats.last_completion is not None
    span = stats.last_completion - stats.first_arrival
    rate = stats.count / span
    bound = args.concurrency / args.latency
    print(
        f"{summary.targets} samples, {stats.count} requests ({summary.cache_hits} replies from "
        f"the cache), max {stats.max_in_flight} in flight"
    )
    print(f"requests/s {rate:.1f} of bound {bound:.1f} (C={args.concurrency}, L={args.latency}s)")
    print(f"throughput / bound: {rate / bound:.3f} (goal >= 0.9)")
    print(f"bare client, same server and requests: {bare / bound:.3f} of the bound")
    print(
        f"samples/s {summary.targets / wall:.1f} end to end ({wall:.1f} s, checks and writing "
        f"included); accepted {summary.accepted}/{summary.targets}, rejected {summary.rejected}"
    )
    print(load())


if __name__ == "__main__":
    main()
