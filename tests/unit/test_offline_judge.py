"""The offline judge: negation, uncertainty, procedure vs assertion, location, paraphrase."""

from __future__ import annotations

import asyncio

import pytest

from radrbench.errors import ConfigError
from radrbench.metrics.judges import DEFAULT_JUDGE, get_judge
from radrbench.metrics.judges.base import Finding, ReferenceFindings
from radrbench.metrics.judges.offline import OfflineJudge
from radrbench.metrics.radrscore import score_reasoning


@pytest.fixture(scope="module")
def judge() -> OfflineJudge:
    return OfflineJudge()


def findings(judge: OfflineJudge, text: str) -> dict[str, Finding]:
    return {f.code or "": f for f in asyncio.run(judge.extract_findings(text))}


def status(judge: OfflineJudge, text: str) -> dict[str, str]:
    return {code: f.status for code, f in findings(judge, text).items()}


@pytest.mark.parametrize(
    "text",
    [
        "There is no pleural effusion.",
        "No evidence of pleural effusion is seen.",
        "A pleural effusion is not identified.",
        "The image doesn't show any pleural effusion.",
        "Pleural effusion is ruled out.",
        "Both lungs are clear without pleural effusion.",
    ],
)
def test_negation(judge: OfflineJudge, text: str) -> None:
    assert status(judge, text)["pleural_effusion"] == "absent"


def test_negation_scope_ends_at_a_new_clause(judge: OfflineJudge) -> None:
    got = status(
        judge, "No pneumothorax or effusion, but there is a small nodule in the left apex."
    )
    assert got == {"pneumothorax": "absent", "pleural_effusion": "absent", "nodule": "present"}


def test_pseudo_negation_is_not_negation(judge: OfflineJudge) -> None:
    assert status(judge, "No change in the large hiatal hernia.")["hernia"] == "present"


@pytest.mark.parametrize(
    "text",
    [
        "Possible small right pleural effusion.",
        "There may be a small pleural effusion.",
        "A pleural effusion cannot be excluded.",
    ],
)
def test_uncertainty(judge: OfflineJudge, text: str) -> None:
    assert status(judge, text)["pleural_effusion"] == "uncertain"


@pytest.mark.parametrize(
    "text",
    [
        "Look for blunting of the costophrenic angles.",
        "If there is a fracture, it would be seen in the ribs.",
        "Cardiomegaly refers to an enlarged cardiac silhouette.",
        "Pneumothorax typically appears as a thin white pleural line.",
        "We should assess the lung bases for consolidation.",
        "Option B suggests a nodule in the right upper lobe.",
        "Is there an effusion?",
    ],
)
def test_procedure_is_not_a_finding(judge: OfflineJudge, text: str) -> None:
    assert findings(judge, text) == {}


def test_procedure_then_assertion(judge: OfflineJudge) -> None:
    text = (
        "First, evaluate the right upper lobe for a nodule. "
        "No such nodule is visible. "
        "Next, check the heart: the cardiac silhouette appears enlarged."
    )
    assert status(judge, text) == {"nodule": "absent", "cardiomegaly": "present"}


def test_verdict_settles_the_described_option(judge: OfflineJudge) -> None:
    text = (
        "Option C describes patchy airspace disease at the left base. "
        "The images show no such changes, ruling out this option."
    )
    assert status(judge, text) == {"airspace_disease": "absent"}


def test_normal_structures_rule_findings_out(judge: OfflineJudge) -> None:
    got = status(judge, "The heart size is normal. The lungs are clear. The trachea is midline.")
    assert got == {"cardiomegaly": "absent", "opacity": "absent", "mediastinal_shift": "absent"}


def test_location(judge: OfflineJudge) -> None:
    got = findings(
        judge, "There is a patchy opacity in the left lower lobe. Right apical scarring."
    )
    assert got["opacity"].location == "left lower lobe"
    assert got["cicatrix"].location == "right apical"


def test_headings_are_topics(judge: OfflineJudge) -> None:
    text = "A) Mild cardiomegaly:\n- The heart size is within normal limits."
    assert status(judge, text) == {"cardiomegaly": "absent"}


def test_one_finding_per_observation(judge: OfflineJudge) -> None:
    got = asyncio.run(
        judge.extract_findings("No consolidation or infiltrate. The lungs show no consolidation.")
    )
    assert len(got) == 1 and got[0].status == "absent"


def reference(judge: OfflineJudge, chain: list[str], report: str) -> ReferenceFindings:
    return asyncio.run(judge.extract_reference(chain, report))


CHAIN = [
    "The heart is enlarged.",
    "A small left pleural effusion is present.",
    "There is no pneumothorax.",
]
REPORT = "Findings: Cardiomegaly. Small left effusion. No pneumothorax. Impression: As above."


def test_recall_and_consistency(judge: OfflineJudge) -> None:
    ref = reference(judge, CHAIN, REPORT)
    model = asyncio.run(
        judge.extract_findings(
            "The cardiac silhouette is enlarged. There is no effusion. A rib fracture is seen. "
            "No nodule is present."
        )
    )
    codes = [f.code for f in model]
    comparison = asyncio.run(judge.compare_findings(model, ref))
    consistent = dict(zip(codes, comparison.consistent, strict=True))
    assert consistent == {
        "cardiomegaly": True,  # matches the report
        "pleural_effusion": False,  # the report has one
        "fracture": False,  # abnormal and not in the report
        "nodule": True,  # called absent, not in the report
    }
    recalled = dict(zip([f.code for f in ref.chain_findings], comparison.recalled, strict=True))
    assert recalled == {"cardiomegaly": True, "pleural_effusion": True, "pneumothorax": False}


def test_recall_needs_the_finding_named_alike(judge: OfflineJudge) -> None:
    chain = ["There is consolidation in the right lower lobe."]
    ref = reference(judge, chain, "Findings: Right lower lobe consolidation.")

    def recalled(text: str) -> tuple[bool, ...]:
        model = asyncio.run(judge.extract_findings(text))
        return asyncio.run(judge.compare_findings(model, ref)).recalled

    assert recalled("The right lower lobe is consolidated.") == (True,)  # same finding
    assert recalled("There is an opacity in the right lower lobe.") == (True,)  # same place
    assert recalled("There is an opacity.") == (False,)  # a vaguer finding, no place


def test_location_must_agree(judge: OfflineJudge) -> None:
    ref = reference(judge, CHAIN, REPORT)
    model = asyncio.run(judge.extract_findings("A small right pleural effusion is present."))
    comparison = asyncio.run(judge.compare_findings(model, ref))
    assert comparison.consistent == (False,)


def test_step_labels(judge: OfflineJudge) -> None:
    ref = reference(judge, CHAIN, REPORT)
    reasoning = (
        "The heart is enlarged.\n"
        "We check the costophrenic angles for effusion. The left angle shows an effusion.\n"
        "There is a large pneumothorax.\n"
        "The patient is an adult."
    )
    steps = asyncio.run(judge.label_steps(reasoning, ref))
    assert [s.label for s in steps] == ["supported", "supported", "contradicted", "unsupported"]
    assert steps[1].text.startswith("We check")


def test_paraphrase_scores_alike(judge: OfflineJudge) -> None:
    plain = "The heart is enlarged. There is a small left pleural effusion. No pneumothorax."
    reworded = (
        "Cardiac enlargement is noted. A small left-sided pleural fluid collection is present. "
        "No evidence of pneumothorax."
    )

    async def run(text: str) -> tuple[float | None, float | None, float | None]:
        result = await score_reasoning(
            judge, sample_id="p", output=f"<think>{text}</think>", chain=CHAIN, report=REPORT
        )
        return result.factuality, result.completeness, result.effectiveness

    assert asyncio.run(run(plain)) == asyncio.run(run(reworded)) == (1.0, 1.0, 1.0)


def test_deterministic_and_versioned(judge: OfflineJudge) -> None:
    text = "Mild cardiomegaly. No effusion. Possible left basilar atelectasis."
    assert asyncio.run(judge.extract_findings(text)) == asyncio.run(judge.extract_findings(text))
    assert judge.spec == "offline"
    assert judge.version.startswith("offline-") and "lexicon-v" in judge.version


def test_registry() -> None:
    assert DEFAULT_JUDGE == "offline"
    assert isinstance(get_judge(None), OfflineJudge)
    assert isinstance(get_judge("offline"), OfflineJudge)
    with pytest.raises(ConfigError):
        get_judge("nonsense")
