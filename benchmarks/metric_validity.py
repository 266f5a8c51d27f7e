"""Metric-validity suite: ordering accuracy and paraphrase stability per sub-score.

Controlled variants of real IU X-ray reports (see radrbench.metrics.validity); targets:
ordering accuracy >= 0.95 for each sub-score, paraphrase stability >= 0.9.

Usage: python benchmarks/metric_validity.py [--judge offline] [--reports 200] [--seed 0]
"""

from __future__ import annotations

import argparse
import asyncio
import time

from radrbench.metrics.judges import get_judge
from radrbench.metrics.validity import run_validity_suite


async def main(spec: str, reports: int, seed: int) -> None:
    judge = get_judge(spec)
    start = time.perf_counter()
    report = await run_validity_suite(judge, n_reports=reports, seed=seed)
    elapsed = time.perf_counter() - start
    await judge.aclose()
    print(
        f"judge {report.judge.spec} ({report.judge.version}), {report.n_reports} IU X-ray "
        f"reports, seed {report.seed}, {elapsed:.1f} s"
    )
    print(
        f"{'sub-score':<15}{'pairs':>7}{'ordered':>9}{'accuracy':>10}{'failed':>8}"
        f"{'paraphrase stability':>22}"
    )
    for name, ordering in report.ordering.items():
        accuracy = ordering.accuracy
        stability = report.paraphrase_stability[name]
        print(
            f"{name:<15}{ordering.pairs:>7}{ordering.correct:>9}"
            f"{accuracy if accuracy is not None else float('nan'):>10.3f}{ordering.failed:>8}"
            f"{stability if stability is not None else float('nan'):>22.3f}"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--judge", default="offline")
    parser.add_argument("--reports", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    asyncio.run(main(args.judge, args.reports, args.seed))
