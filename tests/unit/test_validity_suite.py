"""The metric-validity suite on real IU X-ray reports, with the offline judge."""

from __future__ import annotations

import asyncio

import pytest

from radrbench.metrics.iu_xray import load_reports
from radrbench.metrics.judges.offline import OfflineJudge
from radrbench.metrics.validity import flip, paraphrase, run_validity_suite

pytest.importorskip("torchxrayvision", reason="the IU X-ray reports ship with torchxrayvision")


def test_offline_judge_orders_controlled_variants() -> None:
    report = asyncio.run(run_validity_suite(OfflineJudge(), n_reports=60, seed=1))
    assert report.n_reports == 60
    for name, ordering in report.ordering.items():
        assert ordering.failed == 0
        assert ordering.pairs >= 40, name
        assert ordering.accuracy is not None and ordering.accuracy >= 0.9, (name, ordering)
    for name, stability in report.paraphrase_stability.items():
        assert stability is not None and stability >= 0.85, (name, stability)


@pytest.mark.parametrize(
    ("sentence", "flipped"),
    [
        ("No pleural effusion.", "There is pleural effusion."),
        ("There is no focal consolidation.", "There is focal consolidation."),
        ("The heart is not enlarged.", "The heart is enlarged."),
        ("There is a small left effusion.", "There is no small left effusion."),
        ("The lungs are clear.", "The lungs show a focal consolidation."),
        ("Comparison with the prior study.", None),
    ],
)
def test_flip(sentence: str, flipped: str | None) -> None:
    assert flip(sentence) == flipped


def test_paraphrase_keeps_case_and_meaning_words() -> None:
    assert paraphrase("Heart size is within normal limits.") == "Cardiac size is normal."
    assert paraphrase("No pleural effusion.") == "No pleural fluid collection."


def test_iu_xray_reports_are_read_from_the_installed_package() -> None:
    reports = load_reports()
    assert len(reports) > 3000
    assert all(report.findings for report in reports)
    assert len({report.report_id for report in reports}) == len(reports)
