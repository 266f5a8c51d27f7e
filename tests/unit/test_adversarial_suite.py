"""The adversarial suite with the offline judge: its bounds are CI's assertions."""

from __future__ import annotations

import asyncio

import pytest

from radrbench.metrics.adversarial import VARIANTS, run_adversarial_suite
from radrbench.metrics.judges.offline import OfflineJudge


@pytest.mark.slow
def test_offline_judge_meets_every_adversarial_bound() -> None:
    pytest.importorskip("torchxrayvision", reason="the IU X-ray reports ship with torchxrayvision")
    report = asyncio.run(run_adversarial_suite(OfflineJudge(), n=40, seed=0))
    assert set(report.scores) == {"iu-xray", "phantom-openi", "phantom-archive"}
    assert all(count >= 20 for count in report.cases.values())
    missed = [bound for bound in report.bounds if not bound.met]
    assert not missed, missed
    for rows in report.scores.values():
        table = {row.variant: row for row in rows}
        assert [row.variant for row in rows] == [variant.name for variant in VARIANTS]
        assert table["true chain"].completeness == pytest.approx(1.0, abs=0.05)
        # the protocol's own blind spot, reported: unmentioned findings called absent count
        assert (table["every finding absent"].factuality or 0.0) > 0.5
        assert all(row.failed == 0 for row in rows)


def test_bounds_catch_a_judge_that_is_fooled() -> None:
    pytest.importorskip("torchxrayvision", reason="the IU X-ray reports ship with torchxrayvision")

    class Credulous(OfflineJudge):
        """Reads findings into anything (no noise filter), like the judge before hardening."""

        def _extract_stated(self, text: str) -> tuple[tuple, frozenset[int]]:  # type: ignore[type-arg]
            return self._mentions(text), frozenset()

    report = asyncio.run(run_adversarial_suite(Credulous(), n=10, seed=0))
    missed = {bound.variant for bound in report.bounds if not bound.met}
    assert "word salad" in missed


@pytest.mark.slow
def test_metric_check_command_prints_both_suites(capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("torchxrayvision", reason="the IU X-ray reports ship with torchxrayvision")
    from radrbench.cli import main

    code = main(["metric-check", "--suite", "all", "--reports", "30", "--cases", "30"])
    out = capsys.readouterr().out
    assert code == 0, out
    for title in ("metric validity", "against their truth", "adversarial", "word salad"):
        assert title in out
    assert "every target and bound met" in out
