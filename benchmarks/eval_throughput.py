"""Throughput of `radrbench eval` against a latency-controlled OpenAI-compatible server
(`radrbench.dev.latency_server`: answers after exactly L seconds, does not parse bodies).

Measures, side by side in one run against the same mock server process (N requests,
latency L, concurrency C; ideal = N * L / C):
  * request phase (server: first arrival → last completion) / ideal, at C=32, L=0.05 s;
  * whole command wall time / ideal, at C=32, L=0.2 s;
  * time from command start to the first request the server sees;
  * the maximum number of requests in flight seen by the server (must be ≤ C);
for `radrbench eval` and for stock `lm-eval run --model local-chat-completions`, both
generating only (RadRScore judging is a separate stage: `--judge none`).

    .venv/bin/python benchmarks/eval_throughput.py [--n 256] [--repeats 1]

Ratios are "ideal / measured" (1.0 = no overhead). Prints a table; not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from radrbench.data.benchmark import load_samples
from radrbench.dev.latency_server import latency_server, read_stats

FAMILIES = ("binary", "single", "multi", "multi_open")
BIN = Path(sys.executable).parent


def make_benchmark(workdir: Path, per_task: int) -> Path:
    studies = 100
    while True:
        bench = workdir / f"bench-{studies}"
        if not bench.exists():  # in a subprocess: this process must stay idle while measuring
            subprocess.run(
                [
                    str(BIN / "radrbench"),
                    "data",
                    "demo",
                    "--out",
                    str(bench),
                    "--studies",
                    str(studies),
                ],
                check=True,
                capture_output=True,
            )
        counts = {f: 0 for f in FAMILIES}
        for s in load_samples(bench, split="test"):
            if s.source == "phantom" and s.task in counts:
                counts[s.task] += 1
        if min(counts.values()) >= per_task:
            return bench
        studies *= 2


def run_radrbench(url: str, bench: Path, out: Path, per_task: int, c: int) -> None:
    tasks = ",".join(f"radrbench_phantom_{f}" for f in FAMILIES)
    subprocess.run(
        [
            str(BIN / "radrbench"),
            "eval",
            "--endpoint",
            url,
            "--model",
            "latency-model",
            "--tasks",
            tasks,
            "--data",
            str(bench),
            "--limit",
            str(per_task),
            "--concurrency",
            str(c),
            "--out",
            str(out),
            "--judge",
            "none",
        ],
        check=True,
        capture_output=True,
    )


def run_lm_eval(url: str, bench: Path, out: Path, per_task: int, c: int) -> None:
    tasks = ",".join(f"radrbench_phantom_{f}" for f in FAMILIES)
    subprocess.run(
        [
            str(BIN / "lm-eval"),
            "run",
            "--model",
            "local-chat-completions",
            "--model_args",
            f"base_url={url}/chat/completions,model=latency-model,"
            f"num_concurrent={c},max_images=2,tokenizer_backend=none,max_retries=3",
            "--apply_chat_template",
            "--include_path",
            str(Path(__file__).parents[1] / "tasks"),
            "--tasks",
            tasks,
            "--limit",
            str(per_task),
            "--metadata",
            json.dumps({"data_dir": str(bench), "judge": "none"}),
            "--output_path",
            str(out),
        ],
        check=True,
        capture_output=True,
        env={**os.environ, "TQDM_DISABLE": "1"},
    )


def measure(
    tool: str, latency: float, n: int, c: int, bench: Path, workdir: Path
) -> dict[str, float]:
    per_task = n // len(FAMILIES)
    ideal = n * latency / c
    with latency_server(latency) as base_url:
        out = workdir / f"{tool}-{latency}"
        shutil.rmtree(out, ignore_errors=True)
        runner = run_radrbench if tool == "radrbench" else run_lm_eval
        started, started_mono = time.time(), time.monotonic()
        runner(base_url, bench, out, per_task, c)
        finished = time.time()
        stats = read_stats(base_url)
    phase = stats["last_completion"] - stats["first_arrival"]
    return {
        "requests": stats["count"],
        "max_in_flight": stats["max_in_flight"],
        "first_request_s": stats["first_arrival"] - started_mono,
        "request_phase_ratio": ideal / phase,
        "command_ratio": ideal / (finished - started),
        "command_s": finished - started,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=256)
    parser.add_argument("--c", type=int, default=32)
    parser.add_argument("--tools", default="radrbench,lm-eval", help="comma-separated")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="radrbench-bench-"))
    try:
        bench = make_benchmark(workdir, args.n // len(FAMILIES))
        print(f"load: {os.getloadavg()[0]:.2f}  N={args.n} C={args.c}")
        print(
            f"{'tool':10} {'L':>5} {'reqs':>5} {'maxfly':>6} {'first_req_s':>11} "
            f"{'phase/ideal':>11} {'cmd/ideal':>9} {'cmd_s':>6}"
        )
        for latency in (0.05, 0.2):
            for tool in args.tools.split(","):
                m = measure(tool, latency, args.n, args.c, bench, workdir)
                print(
                    f"{tool:10} {latency:5.2f} {m['requests']:5.0f} {m['max_in_flight']:6.0f} "
                    f"{m['first_request_s']:11.2f} {m['request_phase_ratio']:11.3f} "
                    f"{m['command_ratio']:9.3f} {m['command_s']:6.2f}"
                )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
