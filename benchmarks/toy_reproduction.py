"""The toy reproduction's figures: ``radrbench train demo`` timed, with its table and deltas.

Runs (or continues, with the same ``--out``) the CPU demo: phantom benchmark, pretraining of
the random toy Qwen2-VL into the base, SFT, GRPO with the process reward, ``radrbench eval``
of base/SFT/GRPO on the same test binary questions. Reports as JSON (and ``OUT/figures.json``):

- wall time of the whole demo and of each training stage (TRL's ``train_runtime``), the CPU
  count and load average, so a time measured on a busy machine can be recognised;
- accuracy and RadRScore with 95% CIs per model, and the paired differences SFT - base and
  GRPO - SFT with their 95% CIs (whether each lies beyond its CI);
- the learning curves (accuracy at every checkpoint of SFT and GRPO);
- GRPO: the share of rollouts tripping a process-reward guard in the first and second half of
  the steps, and the reward computation's share of the step time (goal <= 5%).

Goals (issue): the whole demo <= 20 min on 2 cores; SFT >= 0.85 on binary questions and above
base beyond the CIs; GRPO not worse than SFT; guard share not rising; rewards <= 5% of a step.

Usage: python benchmarks/toy_reproduction.py [--out runs/train-demo] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from dataclasses import asdict
from pathlib import Path

from radrbench.training.demo import QUICK, DemoSettings, run_demo
from radrbench.training.logs import read_metrics


def _stage_seconds(run_dir: Path) -> float | None:
    values = read_metrics(run_dir).get("train_runtime", []) if run_dir.is_dir() else []
    return values[-1][1] if values else None


def _curve(run_dir: Path) -> list[tuple[int, float]]:
    return read_metrics(run_dir).get("eval/accuracy", []) if run_dir.is_dir() else []


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("runs/train-demo"))
    parser.add_argument("--quick", action="store_true", help="the smoke-sized demo")
    args = parser.parse_args()
    settings = QUICK if args.quick else DemoSettings()
    finished_before = (args.out / "eval" / "grpo" / "summary.json").is_file()
    started = time.perf_counter()
    result = run_demo(args.out, settings, say=lambda line: print(line, flush=True))
    seconds = time.perf_counter() - started
    grpo = result.grpo
    figures = {
        "settings": asdict(settings),
        "wall_seconds": round(seconds, 1),
        "wall_seconds_note": "a finished demo re-read: no training in this time"
        if finished_before
        else "the whole demo",
        "cpus": os.cpu_count(),
        "load_average": os.getloadavg(),
        "stage_seconds": {
            stage: _stage_seconds(args.out / stage)
            for stage in ("vision", "pretrain", "sft", "grpo")
        },
        "rows": [asdict(row) for row in result.rows],
        "differences": [
            {
                "name": c.name,
                "n": c.n,
                "accuracy": {**asdict(c.accuracy), "beyond_ci": c.accuracy.beyond_ci},
                "radrscore": None
                if c.radrscore is None
                else {**asdict(c.radrscore), "beyond_ci": c.radrscore.beyond_ci},
            }
            for c in result.comparisons
        ],
        "curves": {stage: _curve(args.out / stage) for stage in ("sft", "grpo")},
        "grpo": None
        if grpo is None
        else {**asdict(grpo), "reward_share_of_step_time": grpo.reward_share},
        "leaderboard": str(result.leaderboard),
    }
    text = json.dumps(figures, indent=2)
    (args.out / "figures.json").write_text(text + "\n", encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
