"""``radrbench eval --predictions``: outputs made elsewhere become a run directory like a live
run's, in radrbench's JSONL and in the official ChestX-Reasoner result format, with every
record that cannot be read or matched counted; the runs then go on the leaderboard."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from radrbench.data.benchmark import load_samples
from tests.conftest import run_cli

pytestmark = [pytest.mark.slow]

MIMIC = "/cluster/data/ChestXray/MIMIC-CXR-JPG/files/p10/p10000001/s5000000{}/view1.jpg"
REPORT = "FINDINGS: Small left pleural effusion. No pneumothorax. IMPRESSION: Small left effusion."
STEPS = "The left costophrenic angle is blunted. This indicates a small left pleural effusion."
GOOD = (
    "<think>The left costophrenic angle is blunted, a small left pleural effusion. "
    "No pneumothorax.</think><answer>A</answer>"
)


def _item(study: int, question: str, answer: str, pred: str | None, **extra: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "image_path": [MIMIC.format(study)],
        "answer": answer,
        "answer_content": "Yes" if answer == "A" else "No",
        "dataset_name": "reason Image Classification",
        "item_id": f"[mimic-cxr] [5000000{study}]MIMIC-CXR",
        "question": f"{question} Options:\nA) Yes\nB) No",
        **extra,
    }
    if pred is not None:
        item["pred"] = pred
    return item


def test_radrbench_jsonl_predictions(phantom_dir: Path, tmp_path: Path) -> None:
    binary = [s for s in load_samples(phantom_dir, "test") if s.source == "phantom"]
    binary = [s for s in binary if s.task == "binary"][:3]
    right, wrong, _missing = binary
    flip = {"A": "B", "B": "A"}
    lines = [
        {
            "id": right.id,
            "output": f"<think>{' '.join(right.reasoning or [])}</think>"
            f"<answer>{right.answer}</answer>",
        },
        {"id": wrong.id, "output": f"<answer>{flip[wrong.answer]}</answer>"},
        {"id": "no-such-sample", "output": "<answer>A</answer>"},
        {"id": right.id, "output": "<answer>B</answer>"},
    ]
    predictions = tmp_path / "preds.jsonl"
    predictions.write_text(
        "\n".join(json.dumps(line) for line in lines) + "\n{not json\n", encoding="utf-8"
    )
    run = tmp_path / "run"
    result = run_cli(
        "eval",
        "--predictions",
        str(predictions),
        "--model",
        "elsewhere-model",
        "--data",
        str(phantom_dir),
        "--limit",
        "3",
        "--out",
        str(run),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert (
        "5 prediction records: 2 scored, 1 unreadable, 1 unmatched, 1 duplicates; 1 samples "
        "without a prediction scored as empty outputs" in " ".join(result.stdout.split())
    )
    summary = json.loads((run / "summary.json").read_text())
    assert summary["model"] == {
        "name": "elsewhere-model",
        "kind": "predictions",
        "baseline": None,
        "revision": None,
        "engine": None,
        "prompt_profile": "unknown",
    }
    task = summary["tasks"]["radrbench_phantom_binary"]
    assert list(summary["tasks"]) == ["radrbench_phantom_binary"]
    assert task["n"] == 3 and task["metrics"]["accuracy"]["value"] == pytest.approx(1 / 3)
    assert task["parse_failed"] == 1  # the sample without a prediction
    assert summary["run"]["predictions"]["missing"] == 1
    assert summary["radrscore"]["overall"]["n"] == 3 and summary["judge"]["spec"] == "offline"
    report = json.loads((run / "predictions_report.json").read_text())
    assert report["missing"] == [binary[2].id]
    assert "no-such-sample" in report["unmatched"][0] and "preds.jsonl:5" in report["unreadable"][0]
    # Scoring the same predictions again into the same directory is allowed (and cached);
    # the run is a run like any other: re-scored, added to the leaderboard.
    again = run_cli(
        "eval",
        "--predictions",
        str(predictions),
        "--model",
        "elsewhere-model",
        "--data",
        str(phantom_dir),
        "--limit",
        "3",
        "--out",
        str(run),
        "--judge",
        "none",
    )
    assert again.returncode == 0, again.stderr[-2000:]
    assert run_cli("score", str(run), "--judge", "offline").returncode == 0
    added = run_cli("leaderboard", "add", str(run), "--results", str(tmp_path / "results"))
    assert added.returncode == 0, added.stderr
    # Every eval and score of the run left its command line, and the leaderboard keeps them.
    commands = json.loads((tmp_path / "results" / run.name / "commands.json").read_text())
    assert [c.split()[:2] for c in commands][-2:] == [["radrbench", "eval"], ["radrbench", "score"]]
    assert commands[-1].endswith(f"score {run} --judge offline")


def test_official_result_files_need_no_benchmark(tmp_path: Path) -> None:
    folder = tmp_path / "chestx-reasoner-results"
    folder.mkdir()
    effusion = "Does this chest X-ray show pleural effusion?"
    pneumothorax = "Does this chest X-ray show pneumothorax?"
    bad_pred = "<think>No effusion.</think><answer>A</answer>"
    items = [_item(1, effusion, "A", GOOD), _item(2, pneumothorax, "B", bad_pred)]
    (folder / "mimic_binary_test_option.json").write_text(
        json.dumps([*items, _item(3, effusion, "A", None)])
    )
    reasoning = [{**item, "reason_steps": STEPS, "original_report": REPORT} for item in items]
    (folder / "mimic_binary_evaluation_res.json").write_text(json.dumps(reasoning))
    (folder / "notes.json").write_text("{oops")
    run = tmp_path / "official-run"
    result = run_cli(
        "eval",
        "--predictions",
        str(folder),
        "--model",
        "ChestX-Reasoner (released outputs)",
        "--out",
        str(run),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((run / "summary.json").read_text())
    assert (summary["benchmark"]["name"], summary["benchmark"]["version"]) == (
        "radrbench-cxr",
        "1.0",
    )
    task = summary["tasks"]["radrbench_mimic_binary"]
    assert task["n"] == 2 and task["metrics"]["accuracy"]["value"] == pytest.approx(0.5)
    assert summary["radrscore"]["overall"]["n"] == 2  # from reason_steps and original_report
    counts = summary["run"]["predictions"]
    assert counts == {
        "source": str(folder),
        "records": 6,
        "scored": 2,
        "unreadable": 2,
        "unmatched": 0,
        "duplicates": 0,
        "missing": 0,
    }
    report = json.loads((run / "predictions_report.json").read_text())
    assert any("mimic_binary_test_option.json[2]" in line for line in report["unreadable"])
    assert any("notes.json" in line for line in report["unreadable"])
    # A directory of official-format prediction files becomes a leaderboard row.
    results = tmp_path / "results"
    assert run_cli("leaderboard", "add", str(run), "--results", str(results)).returncode == 0
    built = run_cli(
        "leaderboard",
        "build",
        "--results",
        str(results),
        "--out",
        str(tmp_path / "site"),
        "--no-plots",
    )
    assert built.returncode == 0, built.stderr
    assert (
        "ChestX-Reasoner (released outputs)"
        in (tmp_path / "site" / "tables" / "overall.csv").read_text()
    )


def test_predictions_refuse_other_model_options(tmp_path: Path) -> None:
    path = tmp_path / "p.jsonl"
    path.write_text('{"id": "x", "output": "A"}\n')
    result = run_cli("eval", "--predictions", str(path), "--hf", "some/model")
    assert result.returncode == 2 and "--hf cannot go with it" in result.stderr
    result = run_cli("eval", "--predictions", str(path))
    assert result.returncode == 2 and "--predictions needs --model NAME" in result.stderr
