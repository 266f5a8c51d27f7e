"""Offline judge throughput on the first run of a model, and when embeddings are cached.

- first run: a fresh judge on a fresh embedding store scores one model's outputs, so every
  text is new to it: references are extracted, and the chain steps and the output steps the
  lexicon cannot settle are embedded with MiniLM (the first model scored on a benchmark).
- second model: a fresh judge on the store the first run left scores another model's outputs:
  the chain vectors are on disk, the output steps are new.
- re-run: a fresh judge (empty memory, as in a new process) on the first run's store scores
  the first model's outputs again: every vector is read from disk, none is computed.
- whole file: every output of the file in one run on a fresh store (both models; what
  ``radrbench judge-agreement`` does the first time).

Stores live in temporary folders, never in the user's cache; the model is loaded once, timed
apart. Outputs: the real ones of ../shared/data/openi_gpt4o_judgments.jsonl when present (the
file's first model, then the others), else paraphrased IU X-ray reports (first run and re-run
only). Each case runs ``--repeat`` times: the best rate, the range, and whether the per-sample
scores repeat bit for bit are printed.

Usage: python benchmarks/offline_judge_speed.py [--repeat 2]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import random
import resource
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from radrbench.metrics.agreement import load_judgments
from radrbench.metrics.iu_xray import load_reports
from radrbench.metrics.judges._embed import load_encoder
from radrbench.metrics.judges.offline import OfflineJudge
from radrbench.metrics.radrscore import ReferenceCache, SampleScore, ScoringItem, score_many
from radrbench.metrics.validity import paraphrase, split_sentences

JUDGMENTS = Path(__file__).resolve().parents[2] / "shared" / "data" / "openi_gpt4o_judgments.jsonl"


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)  # all threads, embedding workers too
    return usage.ru_utime + usage.ru_stime


def load_items() -> tuple[list[ScoringItem], list[ScoringItem], str]:
    """First model's outputs, the other models' outputs, and where they come from."""
    if JUDGMENTS.is_file():
        records, _ = load_judgments(JUDGMENTS)
        first = records[0].model
        groups: dict[bool, list[ScoringItem]] = {True: [], False: []}
        for r in records:
            output = r.prediction if isinstance(r.prediction, str) else "\n".join(r.prediction)
            groups[r.model == first].append(ScoringItem(r.key, output, r.chain, r.report))
        return groups[True], groups[False], "the GPT-4o judgments file"
    reports = load_reports()
    random.Random(0).shuffle(reports)
    items = []
    for report in reports[:1000]:
        chain = split_sentences(report.findings)
        if chain:
            output = "<think>" + " ".join(paraphrase(s) for s in chain) + "</think>"
            items.append(ScoringItem(report.report_id, output, chain, report.text))
    return items, [], "IU X-ray paraphrases"


@contextmanager
def embedding_store(folder: Path) -> Iterator[None]:
    """Judges made inside keep their embedding store in ``folder``."""
    before = os.environ.get("RADRBENCH_CACHE")
    os.environ["RADRBENCH_CACHE"] = str(folder)
    try:
        yield
    finally:
        if before is None:
            del os.environ["RADRBENCH_CACHE"]
        else:
            os.environ["RADRBENCH_CACHE"] = before


def scored(items: list[ScoringItem]) -> tuple[float, float, list[SampleScore]]:
    """Wall and CPU seconds a fresh judge takes to score ``items`` (references extracted on
    the way), and its scores."""
    judge = OfflineJudge()
    start, cpu = time.perf_counter(), _cpu_seconds()
    scores = asyncio.run(score_many(judge, items, references=ReferenceCache()))
    return time.perf_counter() - start, _cpu_seconds() - cpu, scores


def digest(scores: list[SampleScore]) -> str:
    values = [[s.factuality, s.completeness, s.effectiveness] for s in scores]
    return hashlib.sha256(json.dumps(values).encode()).hexdigest()[:16]


@dataclass
class Case:
    """One measured case: samples, wall and CPU seconds per run, score digests."""

    samples: int = 0
    walls: list[float] = field(default_factory=list)
    cpus: list[float] = field(default_factory=list)
    digests: set[str] = field(default_factory=set)

    def add(self, items: list[ScoringItem]) -> None:
        wall, cpu, scores = scored(items)
        self.samples = len(items)
        self.walls.append(wall)
        self.cpus.append(cpu)
        self.digests.add(digest(scores))

    def line(self, name: str) -> str:
        rates = sorted(self.samples / w for w in self.walls)
        span = f"{rates[0]:.1f}-{rates[-1]:.1f}" if len(rates) > 1 else f"{rates[0]:.1f}"
        return (
            f"  {name:<14} {rates[-1]:6.1f} samples/s wall (range {span}), "
            f"{self.samples / min(self.cpus):6.1f} per CPU-second, n={self.samples}"
        )


def measure(first: list[ScoringItem], second: list[ScoringItem], repeat: int) -> dict[str, Case]:
    """Each case ``repeat`` times, each time on new stores in a temporary folder."""
    cases = {"first run": Case(), "whole file": Case(), "second model": Case(), "re-run": Case()}
    for _ in range(repeat):
        with tempfile.TemporaryDirectory(prefix="radrbench-speed-") as folder:
            with embedding_store(Path(folder) / "models"):
                cases["first run"].add(first)
                cases["re-run"].add(first)
                if second:
                    cases["second model"].add(second)
            if second:
                with embedding_store(Path(folder) / "file"):
                    cases["whole file"].add(first + second)
    return {name: case for name, case in cases.items() if case.walls}


def main(repeat: int) -> None:
    start = time.perf_counter()
    loaded = load_encoder() is not None
    load_s = time.perf_counter() - start
    first, second, source = load_items()
    version = OfflineJudge().version
    cases = measure(first, second, repeat)
    print(f"offline judge ({version}), outputs from {source}")
    print(f"  model {'loaded' if loaded else 'NOT available'} in {load_s:.1f} s (once per process)")
    for name, case in cases.items():
        print(case.line(name))
    repeated = all(len(case.digests) == 1 for case in cases.values())
    cached_alike = cases["re-run"].digests == cases["first run"].digests
    print(
        f"  best of {repeat}; scores repeat bit for bit: {repeated}, "
        f"and read from the store as computed: {cached_alike}"
    )
    print(
        f"  (one process, cpus={os.cpu_count()}, load average {os.getloadavg()[0]:.1f}; "
        "target: 25 samples/s on the first run)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=2)
    main(parser.parse_args().repeat)
