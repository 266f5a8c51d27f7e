"""Agreement of a judge with the released GPT-4o RadRScore judgments.

Per sub-score: per-sample Spearman correlation with GPT-4o's sub-scores on all records, on
the development part and on the held-out part (split by study); for every pair of models on
the same task, GPT-4o's difference of means with its bootstrap 95% CI (paired over shared
items) and this judge's difference: the pairs GPT-4o separates (CI excludes 0) and how many
of those this judge orders the same way; the system means and whether both judges rank the
models alike.

Usage: python benchmarks/offline_judge_agreement.py [--judge offline] [--file PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from radrbench.metrics.agreement import AgreementPart, PairAgreement, judge_agreement
from radrbench.metrics.judges import get_judge
from radrbench.metrics.radrscore import SUB_SCORES

DEFAULT_FILE = (
    Path(__file__).resolve().parents[2] / "shared" / "data" / "openi_gpt4o_judgments.jsonl"
)


def _row(name: str, part: AgreementPart) -> str:
    cells = []
    for sub_score in SUB_SCORES:
        value = part.sub_scores[sub_score].spearman
        cells.append(f"{value:13.3f}" if value is not None else f"{'-':>13}")
    return f"{name:<12}{part.n:>6} " + " ".join(cells)


async def main(spec: str, path: Path) -> None:
    if not path.is_file():
        sys.exit(f"judgments file not found: {path} (it lives in ../shared/data/)")
    judge = get_judge(spec)
    report = await judge_agreement(path, judge)
    await judge.aclose()
    print(
        f"judge {report.judge.spec} ({report.judge.version}) vs GPT-4o; "
        f"{report.skipped} records skipped"
    )
    print(f"{'Spearman':<12}{'n':>6} " + " ".join(f"{s:>13}" for s in SUB_SCORES))
    for name in ("all", "development", "held_out"):
        print(_row(name, getattr(report, name)))
    print("pairs separated by GPT-4o (95% CI excludes 0) / ordered alike by this judge:")
    print(f"{'':<12}{'pairs':>6} " + " ".join(f"{s:>13}" for s in SUB_SCORES))
    for name in ("all", "development", "held_out"):
        print(_pairs_row(name, getattr(report, name)))
    print("same-task system pairs, difference of means (GPT-4o [95% CI] / this judge):")
    for sub_score in SUB_SCORES:
        print(f"  {sub_score}:")
        for name in ("all", "development", "held_out"):
            for pair in getattr(report, name).sub_scores[sub_score].pairs:
                print(f"    {name:<12}{_pair(pair)}")
    print("system means (this judge / GPT-4o):")
    for sub_score in SUB_SCORES:
        agreement = report.all.sub_scores[sub_score]
        means = ", ".join(f"{s} {a:.3f}/{b:.3f}" for s, (a, b) in agreement.system_means.items())
        print(f"  {sub_score}: {means}")
        print(f"    models ordered alike: {agreement.models_ordered_alike}")


def _pairs_row(name: str, part: AgreementPart) -> str:
    agreements = [part.sub_scores[sub_score] for sub_score in SUB_SCORES]
    pairs = len(agreements[0].pairs)
    cells = [f"{a.separated_pairs} / {a.separated_ordered_alike}" for a in agreements]
    return f"{name:<12}{pairs:>6} " + " ".join(f"{cell:>13}" for cell in cells)


def _pair(pair: PairAgreement) -> str:
    x, y = pair.systems
    how = f"paired n={pair.n[0]}" if pair.paired else f"unpaired n={pair.n[0]}/{pair.n[1]}"
    ci = "-" if pair.ci_low is None else f"[{pair.ci_low:+.3f}, {pair.ci_high:+.3f}]"
    verdict = "separated" if pair.separated else "not separated"
    alike = "ordered alike" if pair.ordered_alike else "ordered differently"
    return (
        f"{x} - {y} ({how}): {pair.reference_difference:+.3f} {ci} / "
        f"{pair.judge_difference:+.3f}  {verdict}, {alike}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--judge", default="offline")
    parser.add_argument("--file", type=Path, default=DEFAULT_FILE)
    args = parser.parse_args()
    asyncio.run(main(args.judge, args.file))
