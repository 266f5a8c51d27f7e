"""Agreement of a judge with the released GPT-4o RadRScore judgments.

Per sub-score: per-sample Spearman correlation with GPT-4o's sub-scores on all records, on
the development part and on the held-out part (split by study), and the system means
(models, model/task groups) with the share of system pairs ordered alike.

Usage: python benchmarks/offline_judge_agreement.py [--judge offline] [--file PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from radrbench.metrics.agreement import AgreementPart, judge_agreement
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
    print("system means (this judge / GPT-4o):")
    for sub_score in SUB_SCORES:
        agreement = report.all.sub_scores[sub_score]
        means = ", ".join(f"{s} {a:.3f}/{b:.3f}" for s, (a, b) in agreement.system_means.items())
        share = agreement.system_pairs_agreeing
        print(f"  {sub_score}: {means}")
        print(f"    models ordered alike: {agreement.models_ordered_alike}", end="")
        print(f"; system pairs ordered alike: {share:.2f}" if share is not None else "")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--judge", default="offline")
    parser.add_argument("--file", type=Path, default=DEFAULT_FILE)
    args = parser.parse_args()
    asyncio.run(main(args.judge, args.file))
