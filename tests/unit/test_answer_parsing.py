"""Answer-parsing cases kept as data: one JSONL file per task family."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from radrbench.data.schema import ImageRef, Sample
from radrbench.metrics.answers import parse_choice, parse_labels
from radrbench.metrics.outcome import score_outcome

CASES_DIR = Path(__file__).resolve().parents[1] / "data" / "answer_parsing"
FAMILIES = ("binary", "single", "multi", "multi_open", "anomaly", "temporal")


def _cases() -> list[Any]:
    cases = []
    for family in FAMILIES:
        lines = (CASES_DIR / f"{family}.jsonl").read_text(encoding="utf-8").splitlines()
        for line in filter(str.strip, lines):
            case = json.loads(line)
            cases.append(pytest.param(family, case, id=f"{family}: {case['shape']}"))
    return cases


@pytest.mark.parametrize(("family", "case"), _cases())
def test_answer_parsing(family: str, case: dict[str, Any]) -> None:
    if family == "multi_open":
        parsed = parse_labels(case["output"])
        got: Any = sorted(parsed.labels) if parsed.labels is not None else None
        expected = sorted(case["expected"]) if case["expected"] is not None else None
    else:
        parsed = parse_choice(case["output"], case["options"], question=case.get("question"))
        got, expected = parsed.letter, case["expected"]
    assert got == expected, parsed.reason
    assert parsed.reason
    assert parsed.failed == (expected is None)


YES_NO = {"A": "Yes", "B": "No"}


def test_asked_finding_from_findings_when_the_question_names_none() -> None:
    question = "Is this finding present?\nOptions:\nA) Yes\nB) No"
    parsed = parse_choice("Enlarged heart.", YES_NO, question=question, findings=["Cardiomegaly"])
    assert parsed.letter == "A", parsed.reason
    assert parse_choice("Enlarged heart.", YES_NO, findings=["cardiomegaly"]).letter == "A"
    assert parse_choice("Enlarged heart.", YES_NO, question=question).failed


def test_a_question_naming_two_findings_reads_no_content() -> None:
    question = "Does this chest X-ray show cardiomegaly or pleural effusion?"
    assert parse_choice("There is cardiomegaly.", YES_NO, question=question).failed


def test_score_outcome_reads_a_worded_binary_answer_against_the_sample_question() -> None:
    sample = Sample(
        id="b1",
        source="phantom",
        task="binary",
        split="test",
        images=[ImageRef(path="b1.png")],
        question="Does this chest X-ray show pneumothorax?\nOptions:\nA) Yes\nB) No",
        options=YES_NO,
        answer="B",
        findings=["Pneumothorax"],
    )
    score = score_outcome(sample, "<answer>No pneumothorax is visible.</answer>")
    assert (score.letter, score.correct, score.parse_failed) == ("B", True, False)
