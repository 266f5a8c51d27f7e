"""Phantom demo generation rate: studies per second for the whole ``generate_demo`` call.

Usage: python benchmarks/phantom_generation.py [--studies 400] [--workers N]
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from pathlib import Path

from radrbench.data.phantom import generate_demo


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--studies", type=int, default=400)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=None, help="default: as generate_demo")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "phantom"
        start, cpu_start = time.perf_counter(), _cpu_seconds()
        manifest = generate_demo(out, studies=args.studies, seed=args.seed, workers=args.workers)
        elapsed, cpu = time.perf_counter() - start, _cpu_seconds() - cpu_start
        pngs = sum(1 for _ in out.glob("images/*/*.png"))
        megabytes = sum(p.stat().st_size for p in out.rglob("*") if p.is_file()) / 1e6
    print(
        f"{args.studies} studies, {pngs} PNGs, {manifest.n_samples} samples, {megabytes:.1f} MB "
        f"in {elapsed:.2f} s: {args.studies / elapsed:.1f} studies/s; "
        f"{cpu:.2f} CPU-s = {args.studies / cpu:.1f} studies per CPU-second "
        f"(cpus={os.cpu_count()}, load average {os.getloadavg()[0]:.1f})"
    )


if __name__ == "__main__":
    main()
