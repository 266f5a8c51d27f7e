"""Agreement with the released GPT-4o judgments (skipped when the shared file is absent)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from radrbench.metrics.agreement import judge_agreement, load_judgments
from radrbench.metrics.judges.offline import OfflineJudge

REPO = Path(__file__).resolve().parents[2]
JUDGMENTS = REPO.parent / "shared" / "data" / "openi_gpt4o_judgments.jsonl"


def write(path: Path, records: list[dict[str, object]]) -> Path:
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n", encoding="utf-8")
    return path


def record(**overrides: object) -> dict[str, object]:
    base: dict[str, object] = {
        "model": "model-a",
        "task": "single",
        "index": 0,
        "prediction": "<think>The heart is enlarged. No effusion.</think><answer>A</answer>",
        "reference_reasoning": ["The heart is enlarged.", "There is no pleural effusion."],
        "report": "Findings: Cardiomegaly. No pleural effusion.",
        "factuality": 1.0,
        "completeness": 1.0,
        "effectiveness": 1.0,
    }
    base.update(overrides)
    return base


def test_messy_records_are_scored_or_skipped(tmp_path: Path) -> None:
    records = [
        record(index=0),
        record(
            index=1,
            prediction=["<think>Lungs clear.</think>", "<answer>B</answer>"],
            factuality=0.5,
            completeness=0.0,
            effectiveness=0.0,
        ),
        record(index=2, prediction="", factuality=0.0, completeness=0.0, effectiveness=0.0),
        record(
            index=3,
            prediction="user\nWhich finding?\nassistant\n<think>Small effusion."
            "</think><answer>C</answer>",
            factuality=0.0,
            completeness=0.5,
            effectiveness=0.0,
        ),
        record(index=4, reference_reasoning="The heart is enlarged. No effusion.", model="model-b"),
        record(index=5, report=None),
        record(index=6, completeness=None),
    ]
    path = write(tmp_path / "judgments.jsonl", records)
    usable, skipped = load_judgments(path)
    assert len(usable) == 5 and skipped == 2
    report = asyncio.run(judge_agreement(path, OfflineJudge()))
    assert report.skipped == 2
    assert report.all.n == 5
    assert report.development.n + report.held_out.n == 5
    completeness = report.all.sub_scores["completeness"]
    assert completeness.n == 5 and completeness.judge_failures == 0
    assert set(completeness.system_means) >= {"model-a", "model-b", "model-a/single"}
    assert completeness.models_ordered_alike is not None


@pytest.mark.slow
def test_offline_judge_agrees_with_gpt4o() -> None:
    if not JUDGMENTS.is_file():
        pytest.skip(f"GPT-4o judgments not found at {JUDGMENTS} (shared data is optional)")
    report = asyncio.run(judge_agreement(JUDGMENTS, OfflineJudge()))
    assert report.all.n > 1000
    for name, agreement in report.all.sub_scores.items():
        assert agreement.judge_failures == 0
        assert agreement.spearman is not None and agreement.spearman >= 0.35, name
        held_out = report.held_out.sub_scores[name].spearman
        assert held_out is not None and held_out >= 0.3, name
