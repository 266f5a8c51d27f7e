"""Metric-validity suite: ordering accuracy and paraphrase stability per sub-score and source.

Controlled variants of real IU X-ray reports and of archive-style (MIMIC-CXR-like) phantom
studies (see radrbench.metrics.validity); targets on IU X-ray: ordering accuracy >= 0.95
for each sub-score, paraphrase stability >= 0.9. For phantom sources it also prints how well
the judge's extraction from the reports matches their truth and, with --examples, which
phrasings the judge misreads (sentence by sentence, grouped by failure and phrasing).

Usage: python benchmarks/metric_validity.py [--judge offline] [--reports 200] [--seed 0]
           [--sources iu-xray,phantom-archive] [--phantom-reports N] [--examples 3]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections import defaultdict

from radrbench.data.phantom import phantom_cases
from radrbench.metrics.judges import get_judge
from radrbench.metrics.judges.base import Judge
from radrbench.metrics.validity import (
    SentenceFailure,
    TruthCheck,
    run_validity_suite,
    sentence_failures,
)


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _truth_line(name: str, check: TruthCheck) -> str:
    statuses = ", ".join(
        f"{status} {count.correct}/{count.findings}" for status, count in check.by_status.items()
    )
    return (
        f"{name}: {check.n_reports} reports, {check.truth_findings} findings: found "
        f"{_number(check.recall)}, right status {_number(check.correct_rate)} ({statuses}), "
        f"right side {_number(check.located_rate)} of {check.sided}; judge findings "
        f"{check.judge_findings}: spurious {_number(check.spurious_rate)}, contradicting "
        f"{_number(check.contradicting_rate)}; unlabelled {check.unlabeled}"
    )


async def _examples(judge: Judge, style: str, reports: int, seed: int, per_group: int) -> None:
    cases = phantom_cases("archive" if style == "phantom-archive" else "openi", reports, seed)
    failures, seen = await sentence_failures(judge, cases)
    groups: dict[tuple[str, str], list[SentenceFailure]] = defaultdict(list)
    for failure in failures:
        groups[(failure.kind, failure.form)].append(failure)
    print(f"\n{style}: sentences the judge misreads (failures / sentences of that phrasing)")
    for (kind, form), found in sorted(groups.items(), key=lambda item: -len(item[1])):
        print(f"  {kind:<13}{form:<44}{len(found):>5}/{seen[form]}")
        unique = {(f.sentence, f.truth, f.extracted): f for f in found}
        for failure in list(unique.values())[:per_group]:
            print(f"      [{failure.section}] {failure.sentence}")
            print(f"          truth: {failure.truth} | judge: {failure.extracted}")


async def main(args: argparse.Namespace) -> None:
    judge = get_judge(args.judge)
    sources = [s.strip() for s in args.sources.split(",") if s.strip()]
    start = time.perf_counter()
    report = await run_validity_suite(
        judge,
        n_reports=args.reports,
        seed=args.seed,
        sources=sources,
        phantom_reports=args.phantom_reports,
    )
    elapsed = time.perf_counter() - start
    print(
        f"judge {report.judge.spec} ({report.judge.version}), seed {report.seed}, {elapsed:.1f} s"
    )
    print(
        f"{'source':<17}{'reports':>8} {'sub-score':<15}{'pairs':>7}{'ordered':>9}"
        f"{'accuracy':>10}{'failed':>8}{'paraphrase stability':>22}"
    )
    for source, validity in report.by_source.items():
        for name, ordering in validity.ordering.items():
            print(
                f"{source:<17}{validity.n_reports:>8} {name:<15}{ordering.pairs:>7}"
                f"{ordering.correct:>9}{_number(ordering.accuracy):>10}{ordering.failed:>8}"
                f"{_number(validity.paraphrase_stability[name]):>22}"
            )
    if report.truth:
        print("\nextraction from the reports against their truth")
        for source, check in report.truth.items():
            print(_truth_line(source, check))
    if args.examples:
        for source in report.truth:
            count = args.phantom_reports or args.reports
            await _examples(judge, source, count, args.seed, args.examples)
    await judge.aclose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--judge", default="offline")
    parser.add_argument("--reports", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sources", default="iu-xray,phantom-archive")
    parser.add_argument("--phantom-reports", type=int, default=None)
    parser.add_argument(
        "--examples", type=int, default=0, help="misread sentences to show per failure group"
    )
    asyncio.run(main(parser.parse_args()))
