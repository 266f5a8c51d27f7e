"""The metric-validity suite with the offline judge: IU X-ray reports and archive-style phantoms."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from dataclasses import replace

import pytest

from radrbench.data.phantom import Claim, phantom_cases
from radrbench.data.phantom.claims import ReportText, Statement
from radrbench.errors import ConfigError
from radrbench.metrics.judges.base import (
    Finding,
    FindingComparison,
    Judge,
    ReferenceFindings,
    StepJudgment,
)
from radrbench.metrics.judges.offline import OfflineJudge
from radrbench.metrics.validity import (
    flip,
    flip_claims,
    paraphrase,
    run_validity_suite,
    sentence_failures,
    truth_extraction,
)


def _iu() -> None:
    pytest.importorskip("torchxrayvision", reason="the IU X-ray reports ship with torchxrayvision")


def test_offline_judge_orders_controlled_variants() -> None:
    _iu()
    report = asyncio.run(run_validity_suite(OfflineJudge(), n_reports=60, seed=1))
    assert report.n_reports == 60
    assert report.source == "iu-xray" and set(report.by_source) == {"iu-xray", "phantom-archive"}
    assert report.by_source["iu-xray"].ordering == report.ordering  # top level: IU, as before
    for name, ordering in report.ordering.items():
        assert ordering.failed == 0
        assert ordering.pairs >= 40, name
        assert ordering.accuracy is not None and ordering.accuracy >= 0.9, (name, ordering)
    for name, stability in report.paraphrase_stability.items():
        assert stability is not None and stability >= 0.85, (name, stability)


def test_offline_judge_on_archive_style_phantoms() -> None:
    """Archive-style (MIMIC-CXR-like) phantom reports: variants built from the truth.

    Measured with offline-4 (60 studies, seed 1): ordering 0.95 / 0.98 / 1.00 (factuality,
    completeness, effectiveness), paraphrase stability 0.98; extraction against truth: 96% of
    findings found, 89% with the right status (uncertain ones: under half), 1% spurious.
    The bounds below sit under those figures; the extraction target (>= 0.95 right status)
    is pending judge work on hedges, "no new", "resolved"/"removed" and indications.
    """
    report = asyncio.run(
        run_validity_suite(OfflineJudge(), n_reports=60, seed=1, sources=["phantom-archive"])
    )
    assert report.source == "phantom-archive" and list(report.by_source) == ["phantom-archive"]
    archive = report.by_source["phantom-archive"]
    assert archive.n_reports == report.n_reports == 60
    for name, ordering in archive.ordering.items():
        assert ordering.failed == 0
        assert ordering.pairs >= 50, name
        assert ordering.accuracy is not None and ordering.accuracy >= 0.9, (name, ordering)
    for name, stability in archive.paraphrase_stability.items():
        assert stability is not None and stability >= 0.9, (name, stability)
    truth = report.truth["phantom-archive"]
    assert truth.n_reports == 60 and truth.failed == 0 and truth.truth_findings > 200
    assert truth.recall is not None and truth.recall >= 0.9
    assert truth.correct_rate is not None and truth.correct_rate >= 0.85
    assert truth.spurious_rate is not None and truth.spurious_rate <= 0.05
    assert truth.by_status["uncertain"].findings > 10


def test_unknown_source_is_a_user_error() -> None:
    with pytest.raises(ConfigError, match="unknown validity sources"):
        asyncio.run(run_validity_suite(OfflineJudge(), n_reports=2, sources=["mimic"]))


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


_EFFUSION = Claim("pleural effusion", "Pleural Effusion", "present", "left", "left", "stable", 2)
_ETT = Claim("endotracheal tube", "Support Devices", "present", device="ett")
_NO_PTX = Claim("pneumothorax", "Pneumothorax", "absent")


class _Coin(random.Random):
    """An RNG whose coin flips come out as given (choices stay seeded)."""

    def __init__(self, coin: float) -> None:
        super().__init__(0)
        self.coin = coin

    def random(self) -> float:
        return self.coin


@pytest.mark.parametrize(
    ("claims", "coin", "flipped"),
    [
        ((_EFFUSION,), 0.9, "No pleural effusion."),  # "Unchanged moderate left effusion."
        ((_EFFUSION,), 0.1, "The left pleural effusion has resolved."),
        ((_ETT,), 0.9, "No lines or tubes."),  # "ET tube in standard position."
        ((_ETT,), 0.1, "The endotracheal tube has been removed."),
        ((_EFFUSION, _NO_PTX), 0.9, None),  # mixed polarity: no flip
        ((Claim("acute process", None, "absent"),), 0.9, None),  # no label: no flip
    ],
)
def test_flip_claims_states_the_opposite(
    claims: tuple[Claim, ...], coin: float, flipped: str | None
) -> None:
    assert flip_claims(claims, _Coin(coin), archive=True) == flipped


@pytest.mark.parametrize(("coin", "start"), [(0.9, "Moderate "), (0.1, "New moderate ")])
def test_flip_claims_makes_an_absent_finding_present(coin: float, start: str) -> None:
    flipped = flip_claims((_NO_PTX,), _Coin(coin), archive=True)
    assert flipped is not None and flipped.startswith(start)
    assert flipped.endswith(("right apical pneumothorax.", "left apical pneumothorax."))
    assert flip_claims((_NO_PTX,), _Coin(0.1)) == flip_claims((_NO_PTX,), _Coin(0.9))  # plain


def test_paraphrase_keeps_case_and_meaning_words() -> None:
    assert paraphrase("Heart size is within normal limits.") == "Cardiac size is normal."
    assert paraphrase("No pleural effusion.") == "No pleural fluid collection."
    assert paraphrase("ET tube terminates 4 cm above the carina.") == (
        "ET tube terminates 4 cm above the carina."
    )
    assert paraphrase("ET tube terminates 4 cm above the carina.", archive=True) == (
        "Endotracheal tube ends 4 cm above the carina."
    )
    assert paraphrase("Unchanged moderate left pleural effusion.", archive=True) == (
        "Stable moderate left pleural fluid collection."
    )
    assert paraphrase("Left basilar opacity, likely atelectasis.", archive=True) == (
        "Left basal opacification, probably atelectatic change."
    )


def test_iu_xray_reports_are_read_from_the_installed_package() -> None:
    _iu()
    from radrbench.metrics.iu_xray import load_reports

    reports = load_reports()
    assert len(reports) > 3000
    assert all(report.findings for report in reports)
    assert len({report.report_id for report in reports}) == len(reports)


# --- the truth check's counting, with a judge that reads what it is told ---------------------


class _Scripted(Judge):
    """Extracts the findings scripted for each text (no lexicon: labels come from words)."""

    spec = "scripted"
    version = "0"

    def __init__(self, script: dict[str, list[Finding]]) -> None:
        self.script = script

    async def extract_findings(self, text: str) -> list[Finding] | None:
        return self.script.get(text, [])

    async def compare_findings(
        self, findings: Sequence[Finding], reference: ReferenceFindings
    ) -> FindingComparison | None:
        return None

    async def label_steps(
        self, reasoning: str, reference: ReferenceFindings
    ) -> list[StepJudgment] | None:
        return None


def test_truth_check_counts_found_status_side_and_spurious() -> None:
    case = phantom_cases("archive", 1, seed=0)[0]
    sentences = (
        Statement("Small left pleural effusion.", (_EFFUSION,), "findings"),
        Statement("No new pneumothorax.", (_NO_PTX,), "findings"),
        Statement("ETT in place.", (_ETT,), "findings"),
        Statement("___F, ? pneumonia.", (), "indication", "indication"),
    )
    text = ReportText((("FINDINGS", sentences[:3]), ("INDICATION", sentences[3:])))
    case = replace(case, report=text.text, report_text=text, findings=text.findings)
    script = {
        text.text: [
            Finding(observation="pleural effusion", status="present", location="right base"),
            Finding(observation="pneumothorax", status="present"),
            Finding(observation="pneumonia", status="present"),
        ],
        "Small left pleural effusion.": [
            Finding(observation="pleural effusion", status="present", location="right base")
        ],
        "No new pneumothorax.": [Finding(observation="pneumothorax", status="present")],
        "___F, ? pneumonia.": [Finding(observation="pneumonia", status="uncertain")],
    }
    judge = _Scripted(script)
    check = asyncio.run(truth_extraction(judge, [case]))
    assert (check.truth_findings, check.found, check.correct) == (3, 2, 1)
    assert (check.sided, check.located) == (1, 0)  # the effusion's side is wrong
    assert (check.judge_findings, check.spurious, check.contradicting) == (3, 1, 1)
    assert check.by_status["absent"].findings == 1 and check.by_status["absent"].correct == 0
    failures, seen = asyncio.run(sentence_failures(judge, [case]))
    kinds = sorted((f.kind, f.sentence) for f in failures)
    assert kinds == [
        ("missed", "ETT in place."),
        ("spurious", "___F, ? pneumonia."),
        ("wrong side", "Small left pleural effusion."),
        ("wrong status", "No new pneumothorax."),
    ]
    assert seen["indication"] == 1
