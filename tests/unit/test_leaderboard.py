"""The leaderboard: adding runs (and refusing what cannot be placed), comparable groups, shared
ranks from paired bootstraps, judge stability, paper rows apart, and escaping in every format."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from radrbench.cli import main
from radrbench.errors import ConfigError, RunError
from radrbench.leaderboard import add_runs, build_leaderboard, load_results
from radrbench.leaderboard.board import judge_stability, make_groups
from radrbench.leaderboard.ranking import (
    Contender,
    accuracy_statistic,
    kendall_tau,
    shared_ranks,
)
from radrbench.leaderboard.reported import load_reported
from radrbench.leaderboard.synthetic import DEMO_TASKS, write_run
from radrbench.leaderboard.tables import latex_text, md_text, to_csv

EVIL = '<script>alert(1)</script> | $x$ & {co} _#%~^\\ "q", =1+1 [a]'
GPT = ("openai:gpt-4o-2024-08-06", "prompts-1")
OFFLINE = ("offline", "lexicon-1")


def _runs(tmp_path: Path, specs: dict[str, dict[str, Any]]) -> list[Path]:
    return [write_run(tmp_path / "runs" / name, **spec) for name, spec in specs.items()]


def _results(tmp_path: Path, specs: dict[str, dict[str, Any]]) -> Path:
    results = tmp_path / "results"
    add_runs(_runs(tmp_path, specs), results)
    return results


def _cli(*args: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# --- add ---------------------------------------------------------------------------------


def test_add_copies_what_the_leaderboard_needs(tmp_path: Path) -> None:
    (run,) = _runs(tmp_path, {"a": {"model": "m", "judges": [GPT, OFFLINE]}})
    results = tmp_path / "results"
    (added,) = add_runs([run], results)
    assert not added.updated and added.path == results / "a"
    files = sorted(str(p.relative_to(added.path)) for p in added.path.rglob("*") if p.is_file())
    assert files == [
        "config.json",
        "judgments/offline.json",
        "judgments/openai_gpt-4o-2024-08-06.json",
        "outcomes.json",
        "summary.json",
    ]
    assert json.loads((added.path / "summary.json").read_text()) == json.loads(
        (run / "summary.json").read_text()
    )
    (entry,) = load_results(results)
    assert set(entry.judgments) == {GPT, OFFLINE} and entry.judge_key == OFFLINE
    assert entry.outcomes["radrbench_phantom_multi_open"].kind == "labels"
    assert len(entry.outcomes["radrbench_phantom_binary"].ids) == 20
    # Adding the same run again (e.g. after re-scoring) replaces it; another run of that name
    # is refused.
    (again,) = add_runs([run], results)
    assert again.updated
    other = write_run(tmp_path / "elsewhere" / "a", model="another model")
    with pytest.raises(RunError, match="already holds another run named 'a'"):
        add_runs([other], results)


def _edit(path: Path, change: Any) -> None:
    payload = json.loads(path.read_text())
    change(payload)
    path.write_text(json.dumps(payload))


def _set(keys: str, value: Any) -> Any:
    def change(payload: dict[str, Any]) -> None:
        *parents, last = keys.split(".")
        for key in parents:
            payload = payload[key]
        if value is KeyError:
            del payload[last]
        else:
            payload[last] = value

    return change


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (_set("schema_version", "2"), "field schema_version: '2' is not a summary schema"),
        (_set("model.name", KeyError), "field model.name: Field required"),
        (_set("benchmark.version", ""), "field benchmark.version"),
        (_set("tasks", {}), "field tasks"),
        (_set("failures.request_failures", 3), "field failures.request_failures: 3 requests"),
        (
            _set("tasks.radrbench_phantom_binary.metrics.accuracy.value", 0.123),
            "field tasks.radrbench_phantom_binary.metrics.accuracy: 0.123, but the run's "
            "per-sample records give",
        ),
        (_set("tasks.radrbench_phantom_binary.n", 7), "field tasks.radrbench_phantom_binary.n: 7"),
        (
            _set("radrscore.overall.radrscore.value", 0.999),
            "field radrscore.overall.radrscore: 0.999, but the run's judgments give",
        ),
        (_set("judge.version", "other"), "field judge: no per-sample judgments of offline"),
    ],
)
def test_add_refuses_what_it_cannot_place(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], change: Any, message: str
) -> None:
    good, bad = _runs(tmp_path, {"good": {"model": "g"}, "bad": {"model": "b"}})
    _edit(bad / "summary.json", change)
    results = tmp_path / "results"
    code, _, err = _cli(
        "leaderboard", "add", str(good), str(bad), "--results", str(results), capsys=capsys
    )
    assert code == 2
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1, err
    assert str(bad / "summary.json") in " ".join(err.split()) or "summary.json" in err
    assert message in " ".join(err.split())
    assert not results.exists()  # nothing written unless every run can be placed


def test_add_refuses_missing_records(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (run,) = _runs(tmp_path, {"r": {"model": "m"}})
    next(run.glob("samples_radrbench_phantom_single_*.jsonl")).unlink()
    code, _, err = _cli(
        "leaderboard", "add", str(run), "--results", str(tmp_path / "res"), capsys=capsys
    )
    assert code == 2 and "field tasks.radrbench_phantom_single: the run has no per-sample" in err
    code, _, err = _cli("leaderboard", "add", str(tmp_path / "nope"), capsys=capsys)
    assert code == 2 and "not a run directory" in err


def test_reader_models_follow_the_summary_writer(tmp_path: Path) -> None:
    """The leaderboard's reader of summary.json names only fields the writer has, and the
    synthetic runs the tests use are valid summaries for the writer."""
    from pydantic import BaseModel

    from radrbench.eval.summary import Summary
    from radrbench.leaderboard import summary as reader

    def fields(model: type[BaseModel]) -> set[str]:
        return set(model.model_fields)

    pairs: list[tuple[type[BaseModel], type[BaseModel]]] = [(reader.RunSummary, Summary)]
    for name in ("model", "benchmark", "failures", "usage"):
        pairs.append(
            (reader.RunSummary.model_fields[name].annotation, Summary.model_fields[name].annotation)  # type: ignore[list-item]
        )
    for ours, theirs in pairs:
        assert fields(ours) <= fields(theirs), (ours, fields(ours) - fields(theirs))
    (run,) = _runs(tmp_path, {"r": {"model": "m"}})
    Summary.model_validate_json((run / "summary.json").read_text())


# --- ranks -------------------------------------------------------------------------------


def _contender(key: str, correct: np.ndarray, ids: tuple[str, ...] | None = None) -> Contender:
    n = len(correct)
    return Contender(
        key,
        float(correct.mean()),
        ids=ids or tuple(f"s{i}" for i in range(n)),
        columns=correct.astype(float).reshape(n, 1),
    )


def test_paired_bootstrap_separates_what_an_unpaired_one_cannot() -> None:
    rng = np.random.default_rng(0)
    a = (rng.random(200) < 0.5).astype(float)
    b = a.copy()
    b[np.flatnonzero(a == 0)[:10]] = 1.0  # b = a plus 10 more right answers: +0.05
    paired = shared_ranks([_contender("a", a), _contender("b", b)], accuracy_statistic, scope="t")
    assert (paired["b"].rank, paired["a"].rank) == (1, 2)
    assert paired["a"].method == "paired" and not paired["a"].tied
    other_ids = tuple(f"x{i}" for i in range(200))
    unpaired = shared_ranks(
        [_contender("a", a), _contender("b", b, other_ids)], accuracy_statistic, scope="t"
    )
    assert unpaired["a"].rank == unpaired["b"].rank == 1 and unpaired["a"].tied
    assert unpaired["a"].method == "unpaired"


def test_ranks_share_places_and_fall_back_to_intervals() -> None:
    rng = np.random.default_rng(1)
    strong = (rng.random(300) < 0.9).astype(float)
    tied = [(rng.random(300) < 0.5).astype(float) for _ in range(2)]
    ranks = shared_ranks(
        [
            _contender("strong", strong),
            _contender("t1", tied[0]),
            _contender("t2", tied[1]),
            Contender("no-records", 0.2, 0.1, 0.3),
            Contender("no-value", None),
        ],
        accuracy_statistic,
        scope="s",
    )
    assert ranks["strong"].rank == 1 and not ranks["strong"].tied
    assert ranks["t1"].rank == ranks["t2"].rank == 2 and ranks["t1"].tied
    assert ranks["no-records"].rank == 4 and "CI" in ranks["no-records"].method
    assert "no-value" not in ranks
    # Deterministic: the same inputs give the same ranks and intervals.
    again = shared_ranks(
        [_contender("strong", strong), _contender("t1", tied[0]), _contender("t2", tied[1])],
        accuracy_statistic,
        scope="s",
    )
    assert again["t1"].interval == ranks["t1"].interval


def test_rank_decisions_equal_the_percentile_interval_of_each_difference() -> None:
    """The counting shortcut decides exactly what np.quantile of every difference says,
    ties and values on the interpolation edge included."""
    from radrbench.leaderboard.ranking import _higher_beyond

    rng = np.random.default_rng(3)
    separated = 0
    for _ in range(20):
        stats = np.round(rng.normal(0.5, 0.02, size=(25, 1000)), 2) + rng.normal(0, 0.03, (25, 1))
        higher = _higher_beyond(stats, 0.025)
        for i in range(25):
            expected = np.quantile(stats - stats[i], 0.025, axis=1) > 0
            expected[i] = False
            assert (higher[i] == expected).all()
        separated += int(higher.sum())
    assert separated > 100  # the data exercise both outcomes


def test_kendall_tau_b_matches_scipy() -> None:
    from scipy.stats import kendalltau

    rng = np.random.default_rng(2)
    for _ in range(20):
        x = rng.integers(0, 5, size=12).astype(float)
        y = x + rng.integers(-2, 3, size=12)
        expected = kendalltau(x, y).statistic
        assert kendall_tau(x.tolist(), y.tolist()) == pytest.approx(expected)
    assert kendall_tau([1.0], [2.0]) is None
    assert kendall_tau([1.0, 1.0], [1.0, 2.0]) is None


# --- groups, judge stability, reported rows ------------------------------------------------


def test_runs_that_are_not_comparable_get_tables_of_their_own(tmp_path: Path) -> None:
    three_tasks = {k: v for k, v in DEMO_TASKS.items() if k != "radrbench_phantom_single"}
    results = _results(
        tmp_path,
        {
            "a": {"model": "a", "judges": [OFFLINE]},
            "b": {"model": "b", "judges": [OFFLINE], "skill": 0.3},
            "v2": {"model": "c", "judges": [OFFLINE], "benchmark": ("radrbench-phantom", "2.0")},
            "gpt": {"model": "d", "judges": [GPT]},
            "few": {"model": "e", "judges": [OFFLINE], "tasks": three_tasks},
            "lim": {"model": "f", "judges": [OFFLINE], "limit": 5},
            "nojudge": {"model": "g", "judges": []},
        },
    )
    groups = make_groups(load_results(results))
    assert sorted(e.slug for e in groups[0].entries) == ["a", "b"]
    reasons = {g.entries[0].slug: " ".join(g.reasons) for g in groups[1:]}
    assert reasons == {
        "v2": "benchmark radrbench-phantom 2.0 (Table 1: radrbench-phantom 1.0)",
        "gpt": "judge openai:gpt-4o-2024-08-06 (Table 1: offline)",
        "few": "task set: 3 tasks (Table 1: 4), without radrbench_phantom_single",
        "lim": "at most 5 samples per task (Table 1: all samples)",
        "nojudge": "not judged: no RadRScore",
    }
    assert groups[0].ranks[("overall", "accuracy")]["a"].rank == 1
    assert groups[0].ranks[("overall", "accuracy")]["b"].rank == 2


def test_judge_stability_ranks_under_each_judge(tmp_path: Path) -> None:
    specs = {
        f"r{i}": {"model": f"m{i}", "reasoning": 0.2 + 0.15 * i, "judges": [GPT, OFFLINE]}
        for i in range(4)
    }
    specs["only-offline"] = {"model": "x", "reasoning": 0.5, "judges": [OFFLINE]}
    entries = load_results(_results(tmp_path, specs))
    (stability,) = judge_stability(entries)
    assert stability.judges == [OFFLINE, GPT]  # the judge that scored most runs first
    assert [stability.ranks[GPT][f"r{i}"].rank for i in range(4)] == [4, 3, 2, 1]
    assert "only-offline" not in stability.ranks[GPT]
    ((a, b, n, taus),) = stability.taus
    assert (a, b, n) == (OFFLINE, GPT, 4)
    assert taus["radrscore"] == pytest.approx(1.0)
    values = stability.values
    expected = kendall_tau(
        [values[OFFLINE][f"r{i}"][1] for i in range(4)],  # type: ignore[misc]
        [values[GPT][f"r{i}"][1] for i in range(4)],  # type: ignore[misc]
    )
    assert taus["factuality"] == pytest.approx(expected)


def test_reported_rows_are_validated(tmp_path: Path) -> None:
    path = tmp_path / "reported.yaml"
    path.write_text("reported:\n  - model: X\n    citation: a paper\n    benchmark: b\n")
    with pytest.raises(ConfigError, match=r"field reported\.0\.judge: Field required"):
        load_reported(path)
    assert load_reported(tmp_path / "absent.yaml") == []
    from radrbench.resources import resource_dir

    shipped = resource_dir("leaderboard") / "reported.yaml"
    assert shipped.is_file()
    load_reported(shipped)


# --- escaping and the build ----------------------------------------------------------------


def test_escaping_helpers() -> None:
    assert md_text("a|b <i>x</i> *y* $z$ \\") == "a\\|b \\<i\\>x\\</i\\> \\*y\\* \\$z\\$ \\\\"
    assert latex_text("50% & $5 #1 _x_ {y} ~^\\ <>|") == (
        r"50\% \& \$5 \#1 \_x\_ \{y\} \textasciitilde{}\textasciicircum{}\textbackslash{} "
        r"\textless{}\textgreater{}\textbar{}"
    )
    assert latex_text("[x] Größe 模型") == "{[}x{]} Gro?e ??"  # folded to ASCII


def _write_reported(path: Path) -> None:
    path.write_text(
        "reported:\n"
        f"  - model: {json.dumps('Paper ' + EVIL)}\n"
        "    citation: Someone et al. 2025, Table 2\n"
        "    url: 'javascript:alert(2)'\n"
        "    benchmark: RadRBench-CXR test\n"
        "    judge: GPT-4o\n"
        "    metric_definition: accuracy over all tasks\n"
        "    overall: {accuracy: 0.71, radrscore: 0.62}\n"
        "    tasks: {radrbench_phantom_binary: {accuracy: 0.8}}\n"
    )


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("board")
    specs: dict[str, dict[str, Any]] = {
        "good": {"model": "good-model", "skill": 0.85, "reasoning": 0.7, "judges": [GPT, OFFLINE]},
        "evil": {"model": EVIL, "skill": 0.6, "reasoning": 0.5, "judges": [GPT, OFFLINE]},
        "same": {
            "model": "close-model",
            "skill": 0.62,
            "reasoning": 0.52,
            "judges": [GPT, OFFLINE],
        },
        "v2": {"model": "good-model", "benchmark": ("radrbench-phantom", "2.0")},
    }
    results = _results(tmp, specs)
    _write_reported(tmp / "reported.yaml")
    report = build_leaderboard(results, tmp / "site", reported_path=tmp / "reported.yaml")
    assert report.runs == 4 and report.tables == 2 and report.index.is_file()
    return tmp / "site"


def test_build_writes_every_table_format(built: Path) -> None:
    tables = built / "tables"
    for stem in (
        "overall",
        "tasks",
        "judge-stability",
        "reported",
        "tasks/radrbench_phantom_binary",
    ):
        for suffix in (".csv", ".md", ".tex"):
            assert (tables / f"{stem}{suffix}").is_file(), stem + suffix
    assert sorted(p.name for p in (built / "plots").iterdir()) == [
        "table-1-outcome-vs-radrscore.png",
        "table-1-tasks.png",
        "table-2-outcome-vs-radrscore.png",
        "table-2-tasks.png",
    ]
    rows = list(csv.DictReader(io.StringIO((tables / "overall.csv").read_text())))
    assert len(rows) == 4
    evil = next(r for r in rows if r["run"] == "evil")
    assert evil["model"] == EVIL  # CSV quoting keeps the name intact
    table2 = next(r for r in rows if r["run"] == "v2")
    assert "benchmark radrbench-phantom 2.0" in table2["not ranked with Table 1 because"]
    for row in rows:
        for metric in ("accuracy", "radrscore", "factuality", "completeness", "effectiveness"):
            if row[metric]:
                assert (
                    float(row[f"{metric}_ci_low"])
                    <= float(row[metric])
                    <= float(row[f"{metric}_ci_high"])
                )
                assert int(row[f"{metric}_n"]) > 0
        assert row["judge"] and row["judge version"] and row["benchmark version"] and row["date"]


def test_csv_keeps_spreadsheets_from_running_formulas() -> None:
    from radrbench.leaderboard.tables import Column, Section

    text = to_csv(
        [Section("s", "t", [Column("model", "model")], [{"model": "=1+1"}, {"model": "@x"}])]
    )
    assert [r["model"] for r in csv.DictReader(io.StringIO(text))] == ["'=1+1", "'@x"]


def _markdown_rows(text: str) -> list[list[str]]:
    rows = []
    for line in text.splitlines():
        if line.startswith("|"):
            cells = re.split(r"(?<!\\)\|", line)[1:-1]
            rows.append(cells)
    return rows


def test_markdown_tables_keep_their_columns(built: Path) -> None:
    for path in (built / "tables").rglob("*.md"):
        text = path.read_text()
        assert "<script>" not in text, path
        tables: list[list[list[str]]] = []
        for block in text.split("\n\n"):
            rows = _markdown_rows(block)
            if rows:
                tables.append(rows)
        for rows in tables:
            assert {len(r) for r in rows} == {len(rows[0])}, path


def _check_latex(text: str) -> None:
    depth = 0
    for i, ch in enumerate(text):
        if ch in "{}" and (i == 0 or text[i - 1] != "\\"):
            depth += 1 if ch == "{" else -1
            assert depth >= 0
    assert depth == 0
    for table in re.findall(r"\\begin\{tabular\}\{(l+)\}(.*?)\\end\{tabular\}", text, re.S):
        columns = len(table[0])
        for line in table[1].strip().splitlines():
            if line.strip() == "\\hline":
                continue
            assert line.endswith(" \\\\"), line
            body = line[: -len(" \\\\")]
            assert len(re.findall(r"(?<!\\)&", body)) == columns - 1, line
    body = "\n".join(line for line in text.splitlines() if not line.startswith("%"))
    unescaped = re.findall(r"(?<!\\)[%$#_^~]", body)
    assert not unescaped, unescaped[:5]


def test_latex_tables_compile_or_are_well_formed(built: Path, tmp_path: Path) -> None:
    text = (built / "tables" / "overall.tex").read_text()
    assert "script" in text and "<script>" not in text
    for path in (built / "tables").rglob("*.tex"):
        _check_latex(path.read_text())
    engine = shutil.which("pdflatex")
    if engine is None:
        return  # the structure is checked above; no TeX engine here to compile it
    for name in ("overall", "reported", "judge-stability"):
        document = tmp_path / f"{name}.tex"
        document.write_text(
            "\\documentclass{article}\n\\begin{document}\n"
            f"\\input{{{built / 'tables' / name}.tex}}\n\\end{{document}}\n"
        )
        result = subprocess.run(
            [engine, "-interaction=nonstopmode", "-halt-on-error", document.name],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, result.stdout[-3000:]


def test_site_escapes_user_text_and_loads_nothing_from_elsewhere(built: Path) -> None:
    pages = list(built.rglob("*.html"))
    assert len(pages) == 1 + 4 + 4  # index, one per task, one per run
    for page in pages:
        html = page.read_text()
        assert "<script>alert" not in html, page
        assert "javascript:" not in html.replace("javascript:alert(2)</td>", ""), page
        scripts = re.findall(r"<script\b[^>]*>", html)
        assert scripts == ["<script>"], page  # only the inline sorting script
        assert not re.search(r"""(?:src|href)=["'](?:https?:)?//""", html), page
        assert "Content-Security-Policy" in html
    index = (built / "index.html").read_text()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in index
    evil_page = (built / "models" / "evil.html").read_text()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in evil_page
    # The paper row is apart from the ranked tables, with its javascript: URL as plain text.
    reported = index.split('<section class="reported"', 1)[1].split("</section>", 1)[0]
    assert "Paper &lt;script&gt;" in reported and 'href="javascript' not in index
    ranked = index.split('<section class="reported"', 1)[0]
    assert "Paper &lt;script&gt;" not in ranked
    assert "Judge stability" in index and "Kendall" in index


def test_csp_hashes_match_the_inline_blocks(built: Path) -> None:
    import base64
    import hashlib

    html = (built / "index.html").read_text()
    csp = re.search(r'Content-Security-Policy" content="([^"]+)"', html)
    assert csp is not None
    for tag in ("script", "style"):
        block = re.search(rf"<{tag}>(.*?)</{tag}>", html, re.S)
        assert block is not None
        digest = base64.b64encode(hashlib.sha256(block[1].encode()).digest()).decode()
        assert f"'sha256-{digest}'" in csp[1].replace("&#39;", "'"), tag


def test_build_refuses_to_replace_a_folder_it_did_not_build(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    results = _results(tmp_path, {"a": {"model": "a"}})
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "notes.txt").write_text("keep me")
    code, _, err = _cli(
        "leaderboard",
        "build",
        "--results",
        str(results),
        "--out",
        str(precious),
        "--no-plots",
        capsys=capsys,
    )
    assert code == 2 and "not a leaderboard site built by radrbench" in err
    assert (precious / "notes.txt").read_text() == "keep me"
    site = tmp_path / "site"
    code, out, _ = _cli(
        "leaderboard",
        "build",
        "--results",
        str(results),
        "--out",
        str(site),
        "--no-plots",
        capsys=capsys,
    )
    assert code == 0 and f"open: {(site / 'index.html').resolve().as_uri()}" in out
    (site / "models" / "stale.html").write_text("old")
    assert (
        main(["leaderboard", "build", "--results", str(results), "--out", str(site), "--no-plots"])
        == 0
    )
    assert not (site / "models" / "stale.html").exists()
