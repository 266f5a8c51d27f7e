"""Mining's deterministic steps on real reports: the IU X-ray XMLs in torchxrayvision."""

from __future__ import annotations

import pytest

from radrbench.mining.iu_xray import labelled_reports, run

pytest.importorskip("torchxrayvision")


def test_sectioning_extraction_and_validation_on_iu_xray_reports() -> None:
    reports = labelled_reports(limit=300)
    assert len(reports) == 300
    figures = run(reports)
    assert figures.sectioned == 300
    assert figures.sections_match >= 297
    assert sum(figures.findings) / len(figures.findings) > 4
    assert figures.own_chains_accepted >= 294
    assert figures.flips >= 280 and figures.flips_rejected >= 0.95 * figures.flips
