"""Leaderboard build time and page weight: ``radrbench leaderboard build`` of 50 runs x 21 tasks.

Writes synthetic finished runs (``radrbench.leaderboard.synthetic``: per-sample records and
judgments as ``radrbench eval``/``score`` write them; a fifth of the runs scored by a second
judge, so the judge-stability tables are built too), adds them, then times the build as a
user runs it (the CLI in a fresh process: interpreter start, imports, bootstraps for every
rank, tables, plots, pages) and in-process. Then weighs the overall page: the HTML and every
file it loads (inline CSS and script, plot images), and checks it loads nothing from
elsewhere. Goals: build <= 5 s on 2 cores; overall page <= 300 KB with 50 models.

Usage: python benchmarks/leaderboard_build.py [--runs 50] [--tasks 21] [--samples 100]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from html.parser import HTMLParser
from pathlib import Path

from radrbench.leaderboard import add_runs, build_leaderboard
from radrbench.leaderboard.synthetic import many_tasks, write_run

GPT = ("openai:gpt-4o-2024-08-06", "prompts-1")
OFFLINE = ("offline", "lexicon-1")


class _Loads(HTMLParser):
    """What a page loads (src of img/script/iframe, href of stylesheets) and links to."""

    def __init__(self) -> None:
        super().__init__()
        self.loads: list[str] = []
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag in ("img", "script", "iframe", "audio", "video", "source", "embed") and values.get(
            "src"
        ):
            self.loads.append(str(values["src"]))
        if tag == "link" and values.get("href"):
            self.loads.append(str(values["href"]))
        if tag == "a" and values.get("href"):
            self.links.append(str(values["href"]))


def page_weight(page: Path) -> tuple[int, list[str], list[str]]:
    html = page.read_text("utf-8")
    parser = _Loads()
    parser.feed(html)
    external = [  # data: URIs are inline (the empty favicon), not requests
        url
        for url in parser.loads
        if re.match(r"^[a-z]+:|^//", url, re.IGNORECASE) and not url.startswith("data:")
    ] + re.findall(r"url\(\s*['\"]?(?:https?:)?//", html)
    size = len(html.encode())
    files = []
    for url in parser.loads:
        target = (page.parent / url).resolve()
        if target.is_file():
            size += target.stat().st_size
            files.append(url)
    return size, files, external


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--tasks", type=int, default=21)
    parser.add_argument("--samples", type=int, default=100, help="samples per task")
    args = parser.parse_args()
    tasks = many_tasks(args.tasks)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        start = time.perf_counter()
        runs = [
            write_run(
                root / "runs" / f"run-{i:02d}",
                model=f"model-{i:02d}",
                tasks=tasks,
                n=args.samples,
                skill=0.3 + 0.6 * i / max(args.runs - 1, 1),
                reasoning=0.2 + 0.6 * ((i * 7) % args.runs) / max(args.runs - 1, 1),
                judges=[GPT, OFFLINE] if i % 5 == 0 else [OFFLINE],
                seed=i,
            )
            for i in range(args.runs)
        ]
        written = time.perf_counter() - start
        start = time.perf_counter()
        add_runs(runs, root / "results")
        added = time.perf_counter() - start

        cli = [sys.executable, "-m", "radrbench", "leaderboard", "build"]
        start = time.perf_counter()
        subprocess.run(
            [*cli, "--results", str(root / "results"), "--out", str(root / "site")],
            check=True,
            capture_output=True,
        )
        cli_seconds = time.perf_counter() - start
        report = build_leaderboard(root / "results", root / "site-again")
        start = time.perf_counter()
        build_leaderboard(root / "results", root / "site-no-plots", plots=False)
        no_plots = time.perf_counter() - start

        site = root / "site"
        index = site / "index.html"
        weight, files, external = page_weight(index)
        html_bytes = index.stat().st_size
        pages = list(site.rglob("*.html"))
        every_external = [url for page in pages for url in page_weight(page)[2]]
        total = sum(p.stat().st_size for p in site.rglob("*") if p.is_file())

    samples = args.runs * args.tasks * args.samples
    print(
        f"{args.runs} runs x {args.tasks} tasks x {args.samples} samples ({samples} per-sample "
        f"records; runs written in {written:.1f} s, added in {added:.1f} s)"
    )
    print(
        f"build (CLI, fresh process): {cli_seconds:.2f} s (goal <= 5 s); in-process: "
        f"{report.seconds:.2f} s; without plots: {no_plots:.2f} s; {report.tables} tables, "
        f"{len(pages)} pages, {total / 1e6:.1f} MB in all"
    )
    print(
        f"overall page: {weight / 1024:.0f} KB (goal <= 300 KB): HTML {html_bytes / 1024:.0f} "
        f"KB with inline CSS and script, plus {len(files)} plot image(s) "
        f"{(weight - html_bytes) / 1024:.0f} KB; external requests: {len(external)} on the "
        f"overall page, {len(every_external)} on all {len(pages)} pages"
    )
    print(f"(cpus={os.cpu_count()}, load average {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
