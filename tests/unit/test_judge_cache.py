"""The on-disk judge cache and the caching judge wrapper."""

from __future__ import annotations

import asyncio
import multiprocessing
import sqlite3
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from radrbench.errors import JudgeError
from radrbench.metrics.judges.base import (
    Finding,
    FindingComparison,
    Judge,
    ReferenceFindings,
    StepJudgment,
)
from radrbench.metrics.judges.cache import CachedJudge, JudgeCache, input_key

EFFUSION = Finding(observation="pleural effusion", status="present", location="left")


class CountingJudge(Judge):
    """A judge whose answers are fixed and whose calls are counted (``fail`` gives ``None``)."""

    spec = "counting"
    version = "1"

    def __init__(self, *, fail: bool = False, delay: float = 0.0) -> None:
        self.calls: Counter[str] = Counter()
        self.fail = fail
        self.delay = delay

    async def extract_findings(self, text: str) -> list[Finding] | None:
        self.calls["extract_findings"] += 1
        await asyncio.sleep(self.delay)
        return None if self.fail else [EFFUSION]

    async def compare_findings(
        self, findings: Sequence[Finding], reference: ReferenceFindings
    ) -> FindingComparison | None:
        self.calls["compare_findings"] += 1
        recalled = (True,) * len(reference.chain_findings)
        return FindingComparison(recalled=recalled, consistent=(True,) * len(findings))

    async def label_steps(
        self, reasoning: str, reference: ReferenceFindings
    ) -> list[StepJudgment] | None:
        self.calls["label_steps"] += 1
        return [StepJudgment(text=reasoning, label="supported")]


def test_input_key_is_canonical() -> None:
    assert input_key({"a": 1, "b": [1, "é"]}) == input_key({"b": [1, "é"], "a": 1})
    assert input_key({"a": 1}) != input_key({"a": 2})


def test_rows_are_keyed_by_spec_version_method_and_inputs(tmp_path: Path) -> None:
    path = tmp_path / "cache.sqlite"
    with JudgeCache(path) as cache:
        cache.put("openai:m", "v1", "extract_findings", "k", "[]")
        cache.put("openai:m", "v1", "extract_findings", "k", '["ignored"]')
        assert cache.get("openai:m", "v1", "extract_findings", "k") == "[]"
        for other in (("x", "v1", "extract_findings"), ("openai:m", "v2", "extract_findings")):
            assert cache.get(*other, "k") is None
        assert cache.get("openai:m", "v1", "label_steps", "k") is None
    with JudgeCache(path) as reopened:
        assert len(reopened) == 1
        mode = reopened._db.execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_a_file_that_is_not_a_database_is_a_judge_error(tmp_path: Path) -> None:
    path = tmp_path / "cache.sqlite"
    path.write_bytes(b"not a database" * 100)
    with pytest.raises(JudgeError, match="cannot open the judge cache"):
        JudgeCache(path)


def test_hits_misses_and_failures(tmp_path: Path) -> None:
    async def run(judge: Judge, cache: JudgeCache) -> CachedJudge:
        cached = CachedJudge(judge, cache)
        reference = await cached.extract_reference(["Left effusion."], "Left effusion.")
        assert reference is not None and reference.chain_findings == (EFFUSION,)
        for text in ("one", "two", "one"):
            assert await cached.label_steps(text, reference) == [
                StepJudgment(text=text, label="supported")
            ]
        assert await cached.compare_findings([EFFUSION], reference) is not None
        return cached

    inner = CountingJudge()
    with JudgeCache(tmp_path / "cache.sqlite") as cache:
        first = asyncio.run(run(inner, cache))
        assert inner.calls == {"extract_findings": 1, "label_steps": 2, "compare_findings": 1}
        assert (first.counters.hits, first.counters.misses) == (1, 4)
        again = asyncio.run(run(inner, cache))
    assert (again.counters.hits, again.counters.misses, again.counters.lookups) == (5, 0, 5)
    assert sum(inner.calls.values()) == 4


def test_failures_are_not_cached(tmp_path: Path) -> None:
    with JudgeCache(tmp_path / "cache.sqlite") as cache:
        failing = CachedJudge(CountingJudge(fail=True), cache)
        assert asyncio.run(failing.extract_findings("text")) is None
        assert failing.counters.failures == 1 and len(cache) == 0
        working = CachedJudge(CountingJudge(), cache)
        assert asyncio.run(working.extract_findings("text")) == [EFFUSION]
        assert working.counters.misses == 1 and len(cache) == 1


def test_the_reference_is_keyed_on_chain_and_report_only(tmp_path: Path) -> None:
    async def run(cached: CachedJudge) -> None:
        for model in ("model-a", "model-b"):
            reference = await cached.extract_reference(["Left effusion."], "Report.")
            assert reference is not None
            await cached.label_steps(f"{model} reasoning", reference)

    inner = CountingJudge()
    with JudgeCache(tmp_path / "cache.sqlite") as cache:
        asyncio.run(run(CachedJudge(inner, cache)))
    assert inner.calls == {"extract_findings": 1, "label_steps": 2}


def test_identical_calls_in_flight_share_one_judge_call(tmp_path: Path) -> None:
    async def run(cached: CachedJudge) -> list[list[Finding] | None]:
        return list(await asyncio.gather(*(cached.extract_findings("same") for _ in range(5))))

    inner = CountingJudge(delay=0.05)
    with JudgeCache(tmp_path / "cache.sqlite") as cache:
        cached = CachedJudge(inner, cache)
        results = asyncio.run(run(cached))
    assert results == [[EFFUSION]] * 5
    assert inner.calls["extract_findings"] == 1
    assert (cached.counters.misses, cached.counters.joined) == (1, 4)


def test_a_row_that_no_longer_validates_is_recomputed(tmp_path: Path) -> None:
    inner = CountingJudge()
    with JudgeCache(tmp_path / "cache.sqlite") as cache:
        key = input_key({"text": "t"})
        cache.put(inner.spec, inner.version, "extract_findings", key, '[{"bad": 1}]')
        cached = CachedJudge(inner, cache)
        assert asyncio.run(cached.extract_findings("t")) == [EFFUSION]
    assert inner.calls["extract_findings"] == 1


def _write_rows(path: str, writer: int, rows: int, start: Any) -> None:
    with JudgeCache(path) as cache:
        start.wait(30)
        for row in range(rows):
            # Half the keys are shared by both writers, half are their own.
            key = f"shared-{row}" if row % 2 else f"w{writer}-{row}"
            cache.put("spec", "v", "extract_findings", key, f'{{"writer": {writer}}}')


def test_two_processes_write_concurrently_without_corruption(tmp_path: Path) -> None:
    path, rows = tmp_path / "cache.sqlite", 2000
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(2)  # both open the (new) file, then write at the same time
    writers = [
        context.Process(target=_write_rows, args=(str(path), w, rows, start)) for w in (0, 1)
    ]
    for process in writers:
        process.start()
    for process in writers:
        process.join(60)
        assert process.exitcode == 0
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        count = db.execute("SELECT COUNT(*) FROM judgments").fetchone()[0]
    assert count == rows // 2 + 2 * (rows // 2)  # shared keys once, own keys per writer
