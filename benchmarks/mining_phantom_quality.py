"""Chains mined from the phantom reports, scored against the phantom's own chains.

The phantom set's ground-truth chains are written from each study's structured truth; its
reports from the same truth. The scripted miner (served by the mock OpenAI server) paraphrases
the report into a chain; this script mines the set with its chains set aside, then scores each
accepted mined chain as a model's reasoning against the ground-truth chain and report under
the offline judge. Prints mean completeness and factuality (goal >= 0.9 each), effectiveness,
and the chains the checks rejected, by reason. Side by side: the report text itself scored the
same way (what a verbatim restatement of the report reaches), the share of the chain findings
the report states at all that the mined chains recall, and the ground-truth chain findings the
mined chains miss most often.

    python benchmarks/mining_phantom_quality.py --studies 60
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
from collections import Counter
from pathlib import Path
from statistics import mean

from radrbench.data.benchmark import load_samples, read_manifest, write_benchmark
from radrbench.data.phantom import generate_demo
from radrbench.dev.mock_openai import MockConfig, start_mock_process
from radrbench.metrics.judges.offline import OfflineJudge
from radrbench.metrics.radrscore import ScoringItem, score_many
from radrbench.mining.miner import MiningOptions, mine_benchmark

MINER = "radrbench.dev.scripted_miner:reply"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--studies", type=int, default=60)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        bench = Path(tmp) / "bench"
        generate_demo(bench, studies=args.studies, seed=0)
        truth = {s.id: s for s in load_samples(bench)}
        manifest = read_manifest(bench)
        bare = [s.model_copy(update={"reasoning": None}) for s in truth.values()]
        write_benchmark(bench, bare, name=manifest.name, version=manifest.version)
        with start_mock_process(MockConfig(responder=MINER)) as server:
            summary = mine_benchmark(bench, f"openai:scripted@{server.base_url}", MiningOptions())
        mined = [s for s in load_samples(bench) if s.reasoning]
        rejected = (bench / "mining" / "rejected.jsonl").read_text().splitlines()
    items = [
        ScoringItem(
            s.id,
            "\n".join(s.reasoning or []),
            truth[s.id].reasoning or [],
            s.report or "",
            s.question,
        )
        for s in mined
    ]
    judge = OfflineJudge()
    scores = asyncio.run(score_many(judge, items))
    verbatim = asyncio.run(
        score_many(judge, [ScoringItem(i.sample_id, i.report, i.chain, i.report) for i in items])
    )
    print(
        f"{summary.targets} phantom samples mined: {summary.accepted} accepted, "
        f"{summary.rejected} rejected {dict(summary.reasons)}"
    )
    for name in ("completeness", "factuality", "effectiveness"):
        values = [getattr(score, name) for score in scores if getattr(score, name) is not None]
        report = mean(getattr(score, name) or 0.0 for score in verbatim)
        print(
            f"{name}: mined {mean(values):.3f} over {len(values)} chains; the report verbatim "
            f"{report:.3f} (goal >= 0.9 for completeness and factuality)"
        )
    # A paraphrase can only recall what the report states: the chain findings the report text
    # itself recalls are what mining can reach; how many of those the mined chain recalls.
    reachable = recovered = 0
    for score, own in zip(scores, verbatim, strict=True):
        for hit, stated in zip(score.recalled or (), own.recalled or (), strict=True):
            reachable += stated
            recovered += hit and stated
    print(
        f"of the chain findings the report states ({reachable}, "
        f"{reachable / max(1, sum(len(s.chain_findings or ()) for s in scores)):.3f} of all), "
        f"the mined chains recall {recovered / max(1, reachable):.3f}"
    )
    missed = Counter(
        (finding.code, finding.status)
        for score in scores
        for finding, hit in zip(score.chain_findings or (), score.recalled or (), strict=True)
        if not hit
    )
    print(f"chain findings missed most often (lexicon code, status): {missed.most_common(8)}")
    tasks = {s.id: s.task for s in mined}
    for task in sorted(set(tasks.values())):
        own = [score for score in scores if tasks[score.sample_id] == task]
        print(
            f"  {task}: {len(own)} chains, completeness "
            f"{mean(score.completeness or 0.0 for score in own):.3f}, factuality "
            f"{mean(score.factuality or 0.0 for score in own):.3f}"
        )
    for line in rejected[:3]:
        entry = json.loads(line)
        print(f"  rejected {entry['id']}: {entry['reasons'][:2]}")


if __name__ == "__main__":
    main()
