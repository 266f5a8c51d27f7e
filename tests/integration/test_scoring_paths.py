"""RadRScore is the same number through lm-eval's task metrics and `radrbench score`;
re-scoring is cached; API keys never reach the run directory; tokens and cost are counted."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from radrbench.dev.mock_openai import MockConfig, serve_mock
from radrbench.eval.scoring import latest_sample_files
from radrbench.tasks import hooks
from tests.conftest import run_cli

pytestmark = [pytest.mark.server, pytest.mark.slow]
REASONING = (
    "<think>The cardiac silhouette is enlarged. There is a small left pleural effusion with "
    "blunting of the costophrenic angle. No pneumothorax is seen. The lungs are otherwise "
    "clear.</think><answer>A</answer>"
)
FAKE_KEY = "sk-test-radrbench-0123456789abcdefghij"


def _responder(request: dict[str, Any]) -> str:
    return REASONING


@pytest.fixture(scope="module")
def run_dir(phantom_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = tmp_path_factory.mktemp("paths") / "run"
    with serve_mock(MockConfig(responder=_responder)) as server:
        result = run_cli(
            "eval",
            "--baseline",
            "gpt-4o",
            "--endpoint",
            server.base_url,
            "--model",
            "gpt-4o-2024-08-06",
            "--data",
            str(phantom_dir),
            "--limit",
            "3",
            "--out",
            str(run),
            "--judge",
            "none",
            env={"OPENAI_API_KEY": FAKE_KEY},
        )
    assert result.returncode == 0, result.stderr[-3000:]
    return run


def test_lm_eval_aggregation_and_radrbench_score_agree(run_dir: Path) -> None:
    via_lm_eval: dict[str, float] = {}
    for path in latest_sample_files(run_dir):
        task = path.name.removeprefix("samples_").rsplit("_", 1)[0]
        items = []
        for line in path.read_text().splitlines():
            row = json.loads(line)
            doc = {**row["doc"], "judge": "offline"}
            metrics = hooks.process_results(doc, [row["resps"][0][0]])
            if "radrscore" in metrics:
                items.append(metrics["radrscore"])
        if items:
            via_lm_eval[task] = hooks.radrscore(items)
    result = run_cli("score", str(run_dir), "--judge", "offline")
    assert result.returncode == 0, result.stderr
    summary = json.loads((run_dir / "summary.json").read_text())
    by_task = summary["radrscore"]["by_task"]
    assert set(by_task) == set(via_lm_eval)
    for task, value in via_lm_eval.items():
        assert by_task[task]["radrscore"]["value"] == pytest.approx(value)
    assert any(value > 0 for value in via_lm_eval.values())
    assert summary["judge"]["spec"] == "offline" and summary["judge"]["version"]
    judgments = (run_dir / "judgments" / "offline.jsonl").read_text().splitlines()
    first = json.loads(judgments[0])
    assert first["chain_findings"] and "steps" in first and "model_findings" in first


def test_rescoring_an_unchanged_run_makes_no_judge_calls(run_dir: Path) -> None:
    assert run_cli("score", str(run_dir)).returncode == 0
    assert run_cli("score", str(run_dir)).returncode == 0
    calls = json.loads((run_dir / "summary.json").read_text())["run"]["judge_calls"]
    assert calls["misses"] == 0 and calls["hits"] > 0


def test_tokens_cost_and_no_api_key_written(run_dir: Path) -> None:
    summary = json.loads((run_dir / "summary.json").read_text())
    usage = summary["usage"]
    assert usage["prompt_tokens"] > 0 and usage["completion_tokens"] > 0
    expected = (usage["prompt_tokens"] * 2.5 + usage["completion_tokens"] * 10.0) / 1e6
    assert usage["cost_usd"] == pytest.approx(expected, rel=1e-6)
    assert summary["model"]["baseline"] == "gpt-4o"
    for path in run_dir.rglob("*"):
        if path.is_file():
            assert FAKE_KEY.encode() not in path.read_bytes(), path
