"""Phantom demo generation rate: studies per second for the whole ``generate_demo`` call.

Usage: python benchmarks/phantom_generation.py [--studies 400] [--workers N]
           [--report-style openi|archive|mix]
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from pathlib import Path

from radrbench.data.phantom import REPORT_STYLES, generate_demo


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--studies", type=int, default=400)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=None, help="default: as generate_demo")
    parser.add_argument("--report-style", choices=REPORT_STYLES, default="openi")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "phantom"
        start, cpu_start = time.perf_counter(), _cpu_seconds()
        manifest = generate_demo(
            out,
            studies=args.studies,
            seed=args.seed,
            workers=args.workers,
            report_style=args.report_style,
        )
        elapsed, cpu = time.perf_counter() - start, _cpu_seconds() - cpu_start
        pngs = sum(1 for _ in out.glob("images/*/*.png"))
        megabytes = sum(p.stat().st_size for p in out.rglob("*") if p.is_file()) / 1e6
    print(
        f"{args.report_style} reports: {args.studies} studies, {pngs} PNGs, "
        f"{manifest.n_samples} samples, {megabytes:.1f} MB "
        f"in {elapsed:.2f} s: {args.studies / elapsed:.1f} studies/s; "
        f"{cpu:.2f} CPU-s = {args.studies / cpu:.1f} studies per CPU-second "
        f"(cpus={os.cpu_count()}, load average {os.getloadavg()[0]:.1f})"
    )


if __name__ == "__main__":
    main()
