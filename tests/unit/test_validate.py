from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from radrbench.cli import main
from radrbench.data.benchmark import (
    SAMPLES_FILE,
    iter_samples,
    load_dataset,
    load_samples,
    sample_from_row,
)
from radrbench.data.validate import validate_benchmark
from radrbench.errors import DataError


def _append(bench: Path, line: str) -> None:
    with (bench / SAMPLES_FILE).open("a") as handle:
        handle.write(line + "\n")


def _record(bench: Path, index: int) -> dict[str, object]:
    return json.loads((bench / SAMPLES_FILE).read_text().splitlines()[index])


def test_clean_benchmark_passes(
    small_benchmark: Callable[[int], Path], capsys: pytest.CaptureFixture[str]
) -> None:
    bench = small_benchmark(3)
    report = validate_benchmark(bench)
    assert report.ok, report.problems
    assert len(report.samples) == 3
    assert main(["data", "validate", str(bench)]) == 0
    assert "OK" in capsys.readouterr().out


def test_four_problems_in_one_message(
    small_benchmark: Callable[[int], Path], capsys: pytest.CaptureFixture[str]
) -> None:
    bench = small_benchmark(3)
    (bench / "images" / "img1.png").write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    (bench / "images" / "img2.png").unlink()
    duplicate = _record(bench, 0)
    _append(bench, json.dumps(duplicate))
    _append(bench, '{"id": "broken", "source": ')

    code = main(["data", "validate", str(bench)])
    err = capsys.readouterr().err
    assert code == 2
    assert "Traceback" not in err
    assert "samples.jsonl:2" in err and "cannot be decoded" in err  # corrupt PNG
    assert "samples.jsonl:3" in err and "missing" in err  # missing image
    assert "samples.jsonl:4" in err and "duplicate id 's0'" in err
    assert "samples.jsonl:5" in err and "malformed JSON" in err


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"task": "ranking"}, "field task"),
        ({"source": "padchest"}, "field source"),
        ({"answer": "C"}, "not among options"),
        ({"options": ["Yes", "No"]}, "field options"),
        ({"reasoning": "one step"}, "field reasoning"),
        ({"task": "temporal"}, "two images"),
        ({"images": []}, "field images"),
        ({"unknown_field": 1}, "unknown_field"),
    ],
)
def test_schema_problems_are_located(
    small_benchmark: Callable[[int], Path], change: dict[str, object], expected: str
) -> None:
    bench = small_benchmark(1)
    record = _record(bench, 0) | {"id": "changed"} | change
    _append(bench, json.dumps(record))
    report = validate_benchmark(bench)
    messages = [str(p) for p in report.problems if "samples.jsonl:2" in p.where]
    assert messages and expected in messages[0], report.problems


def test_edited_file_breaks_checksum(small_benchmark: Callable[[int], Path]) -> None:
    bench = small_benchmark(2)
    _append(bench, json.dumps(_record(bench, 0) | {"id": "extra"}))
    problems = [str(p) for p in validate_benchmark(bench).problems]
    assert any("checksum of samples.jsonl differs" in p for p in problems)
    assert any("n_samples is 2" in p for p in problems)


def test_datasets_view_round_trips(small_benchmark: Callable[[int], Path]) -> None:
    bench = small_benchmark(3)
    dataset = load_dataset(bench)
    assert list(dataset) == ["test"] and len(dataset["test"]) == 3
    assert [sample_from_row(row) for row in dataset["test"]] == load_samples(bench)


def test_selected_samples_are_validated_and_the_rest_skipped(
    small_benchmark: Callable[[int], Path],
) -> None:
    bench = small_benchmark(6)
    everything = load_samples(bench)
    family = everything[0].task
    select = {"source": everything[0].source, "task": family, "split": "test"}
    assert list(iter_samples(bench, select)) == [s for s in everything if s.task == family]
    broken = _record(bench, 0) | {"id": "broken", "question": ""}
    _append(bench, json.dumps(broken | {"task": "not-a-family"}))
    assert len(list(iter_samples(bench, select))) == sum(s.task == family for s in everything)
    _append(bench, json.dumps(broken))
    with pytest.raises(DataError, match=r"samples.jsonl:8"):
        list(iter_samples(bench, select))
