"""The leaderboard of real runs: ``radrbench eval`` against the mock OpenAI server, ``radrbench
score`` with the offline judge and with an LLM judge (the scripted judge on a second mock
server), then ``radrbench leaderboard add`` and ``build``, as a user runs them."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest

from radrbench.dev import scripted_judge
from radrbench.dev.mock_openai import MockConfig, serve_mock
from tests.conftest import mock_eval_args, run_cli

pytestmark = [pytest.mark.server, pytest.mark.slow]

EVIL = "<script>alert(1)</script> | x"
REPLIES = {
    "alpha": "<think>The cardiac silhouette is enlarged. There is a small left pleural effusion. "
    "No pneumothorax is seen.</think><answer>A</answer>",
    EVIL: "<think>The lungs are clear. There is no effusion.</think><answer>B</answer>",
}


def _model(request: dict[str, Any]) -> str:
    return REPLIES[str(request["model"])]


@pytest.fixture(scope="module")
def leaderboard(phantom_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("leaderboard")
    env = {"OPENAI_API_KEY": "sk-test-radrbench-0123456789abcdef"}
    runs = []
    with serve_mock(MockConfig(responder=_model)) as model_server:
        for number, name in enumerate(REPLIES):
            out = root / "runs" / f"run-{number}"
            args = mock_eval_args(model_server.base_url, phantom_dir, out, 2, "--judge", "offline")
            args[args.index("mock-model")] = name
            result = run_cli(*args, env=env)
            assert result.returncode == 0, result.stderr[-3000:]
            runs.append(out)
    with serve_mock(MockConfig(responder=scripted_judge.respond)) as judge_server:
        for run in runs:
            spec = f"openai:judge-model@{judge_server.base_url}"
            result = run_cli("score", str(run), "--judge", spec, env=env)
            assert result.returncode == 0, result.stderr[-3000:]
    for run in runs:  # the offline judge again (cached): the summary's judge of record
        assert run_cli("score", str(run), "--judge", "offline").returncode == 0
    results = root / "results"
    added = run_cli("leaderboard", "add", *map(str, runs), "--results", str(results))
    assert added.returncode == 0, added.stderr
    assert added.stdout.count("added ") == 2
    built = run_cli("leaderboard", "build", "--results", str(results), "--out", str(root / "site"))
    assert built.returncode == 0, built.stderr
    assert f"open: {(root / 'site' / 'index.html').as_uri()}" in built.stdout
    return root


def test_runs_become_a_ranked_leaderboard(leaderboard: Path) -> None:
    site = leaderboard / "site"
    rows = list(csv.DictReader(io.StringIO((site / "tables" / "overall.csv").read_text())))
    assert {row["model"] for row in rows} == set(REPLIES)
    assert {row["table"] for row in rows} == {rows[0]["table"]}  # comparable: one table
    for row in rows:
        assert row["judge"] == "offline" and row["benchmark"] == "radrbench-phantom"
        assert row["rank_outcome"] and row["rank_radrscore"]
        assert (
            float(row["radrscore_ci_low"])
            <= float(row["radrscore"])
            <= float(row["radrscore_ci_high"])
        )
    index = (site / "index.html").read_text()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in index and "<script>alert" not in index
    for number in range(2):
        page = (site / "models" / f"run-{number}.html").read_text()
        assert "prompt profile" in page and "parse failures" in page
        summary = json.loads((site / "runs" / f"run-{number}" / "summary.json").read_text())
        assert summary["judge"]["spec"] == "offline"


def test_both_judges_are_compared(leaderboard: Path) -> None:
    results = leaderboard / "results"
    for number in range(2):
        judges = sorted(p.name for p in (results / f"run-{number}" / "judgments").iterdir())
        assert judges == ["offline.json", "openai_judge-model.json"]
        payload = json.loads((results / f"run-{number}" / "judgments" / judges[1]).read_text())
        assert payload["spec"].startswith("openai:judge-model@http://127.0.0.1")
    stability = (leaderboard / "site" / "tables" / "judge-stability.csv").read_text()
    rows = list(csv.DictReader(io.StringIO(stability)))
    tau = [row for row in rows if row.get("judges") == "J1 vs J2"]
    assert len(tau) == 1 and tau[0]["runs"] == "2"
    assert tau[0]["radrscore"] in {"1.0", "-1.0"}  # two runs: the judges agree or not
    ranks = [row for row in rows if row.get("model")]
    assert {row["model"] for row in ranks} == set(REPLIES)
    assert all(row["rank_J1"] and row["rank_J2"] for row in ranks)
