"""Answer-parsing cases kept as data: one JSONL file per task family."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from radrbench.metrics.answers import parse_choice, parse_labels

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
        parsed = parse_choice(case["output"], case["options"])
        got, expected = parsed.letter, case["expected"]
    assert got == expected, parsed.reason
    assert parsed.reason
    assert parsed.failed == (expected is None)
