"""Offline judge throughput on new model outputs, with the reference side cached.

Every output is scored once (no re-scoring): the chains and reports are extracted first
(once per sample, as a run does for its first model), then the timed pass scores outputs
the judge has never seen. A cold pass (fresh judge, references extracted on the way) is
printed beside it. Outputs: the real ones of ../shared/data/openi_gpt4o_judgments.jsonl
when present, else paraphrased IU X-ray reports (torchxrayvision).

Usage: python benchmarks/offline_judge_speed.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import resource
import time
from pathlib import Path

from radrbench.metrics.agreement import load_judgments
from radrbench.metrics.iu_xray import load_reports
from radrbench.metrics.judges.offline import OfflineJudge
from radrbench.metrics.radrscore import ReferenceCache, ScoringItem, score_many
from radrbench.metrics.validity import paraphrase, split_sentences

JUDGMENTS = Path(__file__).resolve().parents[2] / "shared" / "data" / "openi_gpt4o_judgments.jsonl"


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _fresh(text: str, variant: int) -> str:
    """The text with a marker inside its reasoning, so the judge has never seen it."""
    marker = f"Pass {variant}. "
    return text.replace("<think>", f"<think>{marker}", 1) if "<think>" in text else marker + text


def _items(variant: int) -> list[ScoringItem]:
    """Outputs to score; ``variant`` makes each pass's texts new to the judge's caches."""
    if JUDGMENTS.is_file():
        records, _ = load_judgments(JUDGMENTS)
        return [
            ScoringItem(
                r.key,
                _fresh(
                    r.prediction if isinstance(r.prediction, str) else "\n".join(r.prediction),
                    variant,
                ),
                r.chain,
                r.report,
            )
            for r in records
        ]
    reports = load_reports()
    random.Random(0).shuffle(reports)
    items = []
    for report in reports[:1000]:
        chain = split_sentences(report.findings)
        if chain:
            output = "<think>" + " ".join(paraphrase(s) for s in chain) + "</think>"
            items.append(ScoringItem(report.report_id, _fresh(output, variant), chain, report.text))
    return items


async def _timed(
    judge: OfflineJudge, items: list[ScoringItem], cache: ReferenceCache
) -> tuple[float, float]:
    start, cpu = time.perf_counter(), _cpu_seconds()
    await score_many(judge, items, references=cache)
    return time.perf_counter() - start, _cpu_seconds() - cpu


async def main(repeat: int) -> None:
    items = _items(0)
    cold_judge = OfflineJudge()
    cold_wall, cold_cpu = await _timed(cold_judge, items, ReferenceCache())
    judge, cache = OfflineJudge(), ReferenceCache()
    for item in items:  # reference side, once per sample
        await cache.get(judge, item.chain, item.report)
    walls, cpus = [], []
    for variant in range(1, repeat + 1):
        wall, cpu = await _timed(judge, _items(variant), cache)
        walls.append(wall)
        cpus.append(cpu)
    n = len(items)
    source = "GPT-4o judgments file" if JUDGMENTS.is_file() else "IU X-ray paraphrases"
    print(f"offline judge ({judge.version}), {n} new outputs per pass from the {source}")
    print(
        f"  cold (references extracted on the way): {n / cold_wall:6.1f} samples/s wall, "
        f"{n / cold_cpu:6.1f} per CPU-second"
    )
    print(
        f"  references cached, best of {repeat}:      {n / min(walls):6.1f} samples/s wall, "
        f"{n / min(cpus):6.1f} per CPU-second"
    )
    print(
        f"  (one process, cpus={os.cpu_count()}, load average {os.getloadavg()[0]:.1f}; "
        "target: 25 samples/s)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    asyncio.run(main(parser.parse_args().repeat))
