"""The dataset card of a pushed leaderboard and the README of its Space."""

from __future__ import annotations

from radrbench import __version__
from radrbench.hub.provenance import run_provenance
from radrbench.leaderboard.results import Entry


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _source(source: dict[str, object] | None) -> str:
    hub = (source or {}).get("hub")
    if isinstance(hub, dict):
        return f"{hub.get('repo_id')}@{str(hub.get('commit'))[:12]}"
    if source and "seed" in source:
        return f"phantom demo, seed {source['seed']}"
    return "-"


def _row(entry: Entry) -> str:
    s = entry.summary
    record = run_provenance(entry)
    overall = s.outcome.overall
    primary = overall.metrics.get(overall.primary)
    outcome = "-" if primary is None or primary.value is None else f"{primary.value:.3f}"
    radr = s.radrscore.overall.radrscore.value if s.radrscore and s.radrscore.overall else None
    judge = f"{s.judge.spec} ({s.judge.version})" if s.judge else "not judged"
    cells = [
        entry.path.name,
        s.model.name,
        f"{s.benchmark.name} {s.benchmark.version}",
        _source(record["benchmark"]["source"]),
        judge,
        f"{overall.primary} {outcome}",
        "-" if radr is None else f"{radr:.3f}",
        s.radrbench_version,
    ]
    return "| " + " | ".join(_cell(cell) for cell in cells) + " |"


def dataset_card(entries: list[Entry], repo_id: str) -> str:
    """README.md of the results dataset: what it holds, where the numbers came from."""
    benchmarks = sorted(
        {f"{e.summary.benchmark.name} {e.summary.benchmark.version}" for e in entries}
    )
    judges = sorted(
        {f"{e.summary.judge.spec} ({e.summary.judge.version})" for e in entries if e.summary.judge}
    )
    lines = [
        "---",
        "pretty_name: radrbench leaderboard results",
        "tags: [radrbench, leaderboard, chest-x-ray, medical-imaging, evaluation]",
        "---",
        "",
        "# radrbench leaderboard results",
        "",
        f"{len(entries)} runs of the radrbench chest X-ray reasoning benchmark, pushed with "
        f"radrbench {__version__} (`radrbench leaderboard push`).",
        "",
        f"- Benchmark: {', '.join(benchmarks)}",
        f"- Judges (RadRScore): {', '.join(judges) or 'none'}",
        "- Metrics: accuracy (choice tasks) and micro label-set F1 (`multi_open`) with "
        "bootstrap 95% CIs; RadRScore = mean of factuality, completeness and effectiveness "
        "of the reasoning, as graded by the judge.",
        "",
        "| run | model | benchmark | benchmark source | judge (version) | outcome | "
        "RadRScore | radrbench |",
        "|---|---|---|---|---|---|---|---|",
        *(_row(entry) for entry in entries),
        "",
        "## Files",
        "",
        "`results/<run>/` per run: `summary.json` (the run summary), `config.json` (its "
        "resolved configuration), `outcomes.json` (per-sample outcomes by sample id), "
        "`judgments/*.json` (per-sample sub-scores of every judge) and `provenance.json` "
        "(radrbench and lm-eval versions, benchmark version and revision, judge spec and "
        "prompt version, the commands that reproduce the run). No images, questions, reports "
        "or model outputs are included: the credentialed sources (MIMIC-CXR, CheXpert, "
        "MS-CXR-T) stay with their licence holders.",
        "",
        "## Rebuild the leaderboard",
        "",
        "```bash",
        f"radrbench leaderboard pull --repo {repo_id} --results results",
        "radrbench leaderboard build --results results --out site",
        "```",
        "",
    ]
    return "\n".join(lines)


def space_readme(space_id: str) -> str:
    """README.md of a static Space serving the built site."""
    return "\n".join(
        [
            "---",
            f"title: {space_id.split('/')[-1]}",
            "sdk: static",
            "app_file: index.html",
            "pinned: false",
            "---",
            "",
            f"The radrbench leaderboard, built with radrbench {__version__}. Where each "
            "number came from is in `provenance.json`.",
            "",
        ]
    )
