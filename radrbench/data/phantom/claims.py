"""What a phantom text states, sentence by sentence: the ground truth of reports and chains.

Every sentence the phantom writers produce is recorded with the *claims* it makes: which
finding, with which status (present / absent / uncertain), where, and for temporal pairs how
it changed since the prior study. A report is a sequence of sections of such sentences, so a
judge's reading of the text can be checked against what the text was written to say.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from radrbench.data.phantom.truth import KIND_LABELS, Finding

ClaimStatus = Literal["present", "absent", "uncertain"]
ChangeWord = Literal["new", "stable", "worsening", "improving", "resolved"]

LOBE_NAMES = {
    "RUL": "right upper lobe",
    "RML": "right middle lobe",
    "RLL": "right lower lobe",
    "LUL": "left upper lobe",
    "LLL": "left lower lobe",
}
DEVICE_CONCEPTS = {
    "ett": "endotracheal tube",
    "cvc": "central venous catheter",
    "ngt": "enteric tube",
    "pacemaker": "pacemaker",
}
DEVICE_TIPS = {
    "ett": "above the carina",
    "cvc": "superior vena cava",
    "ngt": "stomach",
    "pacemaker": "right heart",
}
_CONCEPTS = {
    "atelectasis": "atelectasis",
    "cardiomegaly": "cardiomegaly",
    "consolidation": "consolidation",
    "edema": "pulmonary edema",
    "opacity": "lung opacity",
    "effusion": "pleural effusion",
    "pneumonia": "pneumonia",
    "pneumothorax": "pneumothorax",
}


@dataclass(frozen=True)
class Claim:
    """One finding a sentence states.

    ``label`` is the CheXpert label (``None`` for statements outside the 14 labels, such as
    "acute cardiopulmonary process" or "aspiration"); ``side`` is right, left or bilateral
    where the text gives one; ``change`` is how the finding evolved since the prior study
    (temporal pairs only).
    """

    concept: str
    label: str | None
    status: ClaimStatus
    location: str | None = None
    side: str | None = None
    change: ChangeWord | None = None
    severity: int | None = None
    device: str | None = None
    time: Literal["current", "prior"] = "current"
    """``prior`` for a statement about the prior study (chains of temporal samples)."""

    def key(self) -> tuple[str, str | None, str | None, str | None, str]:
        """What identifies the finding across sentences (status and change excluded)."""
        return (self.concept, self.label, self.side, self.device, self.time)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"concept": self.concept, "label": self.label, "status": self.status}
        for name in ("location", "side", "change", "severity", "device"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        if self.time != "current":
            out["time"] = self.time
        return out


@dataclass(frozen=True)
class Statement:
    """One sentence of a text, the section it belongs to and the claims it makes.

    ``form`` names the phrasing template (e.g. ``device:ett:abbrev``, ``hedge:likely``), so
    a judge's failures can be counted per phrasing.
    """

    text: str
    claims: tuple[Claim, ...] = ()
    section: str = "findings"
    form: str = ""


@dataclass(frozen=True)
class ReportText:
    """A report as sections of statements; ``text`` is what a reader (or judge) sees."""

    sections: tuple[tuple[str, tuple[Statement, ...]], ...]
    separator: str = "\n"

    @property
    def text(self) -> str:
        return self.separator.join(
            f"{heading}: {' '.join(s.text for s in statements)}".rstrip()
            for heading, statements in self.sections
        )

    @property
    def statements(self) -> tuple[Statement, ...]:
        return tuple(s for _, statements in self.sections for s in statements)

    @property
    def findings(self) -> tuple[Claim, ...]:
        return merge_claims(c for s in self.statements for c in s.claims)


def merge_claims(claims: Iterable[Claim]) -> tuple[Claim, ...]:
    """One claim per finding (same concept, label, side and device), in order of first mention.

    A later mention fills in what an earlier one left out (location, change, severity).
    """
    merged: dict[tuple[str, str | None, str | None, str | None, str], Claim] = {}
    for claim in claims:
        key = claim.key()
        seen = merged.get(key)
        if seen is None:
            merged[key] = claim
        else:
            merged[key] = replace(
                seen,
                location=seen.location or claim.location,
                change=seen.change or claim.change,
                severity=seen.severity or claim.severity,
            )
    return tuple(merged.values())


def location_of(finding: Finding) -> str | None:
    """Where a finding is, in words ("left lower lobe", "right lung base", "bilateral")."""
    if finding.lobe is not None and finding.kind in ("consolidation", "opacity", "lesion"):
        return LOBE_NAMES[finding.lobe]
    if finding.kind == "atelectasis":
        return f"{finding.side or 'right'} lung base"
    if finding.kind == "edema":
        return "both lungs"
    return finding.side


def claims_of(
    finding: Finding,
    status: ClaimStatus = "present",
    *,
    change: ChangeWord | None = None,
    concept: str | None = None,
) -> tuple[Claim, ...]:
    """The claims stating ``finding`` (one per device for support devices)."""
    if finding.kind == "devices":
        return tuple(device_claim(d, status, change=change) for d in finding.devices)
    if concept is None:
        if finding.kind == "lesion":
            concept = "mass" if finding.severity == 3 else "nodule"
        else:
            concept = _CONCEPTS[finding.kind]
    # Pulmonary edema is bilateral by nature; texts rarely say so, so no side is claimed.
    side = None if finding.kind == "edema" else finding.side
    return (
        Claim(
            concept,
            KIND_LABELS[finding.kind],
            status,
            location_of(finding),
            side,
            change,
            finding.severity if status != "absent" else None,
        ),
    )


def device_claim(
    device: str, status: ClaimStatus = "present", *, change: ChangeWord | None = None
) -> Claim:
    tip = DEVICE_TIPS[device] if status != "absent" else None
    concept = DEVICE_CONCEPTS[device]
    return Claim(concept, "Support Devices", status, tip, change=change, device=device)


def absent(kind: str, *, concept: str | None = None) -> Claim:
    """The claim that a finding of ``kind`` is not there."""
    if kind == "devices":
        return Claim(concept or "support devices", "Support Devices", "absent")
    if kind == "fracture":
        return Claim(concept or "fracture", "Fracture", "absent")
    if kind == "lesion":
        return Claim(concept or "nodule", "Lung Lesion", "absent")
    return Claim(concept or _CONCEPTS[kind], KIND_LABELS[kind], "absent")


def general(concept: str, status: ClaimStatus = "absent") -> Claim:
    """A statement outside the CheXpert labels ("no acute cardiopulmonary process")."""
    return Claim(concept, None, status)


@dataclass
class Notebook:
    """Claims of the sentences a writer produced, looked up by their text."""

    claims: dict[str, tuple[Claim, ...]] = field(default_factory=dict)
    forms: dict[str, str] = field(default_factory=dict)

    def note(self, text: str, claims: Iterable[Claim] = (), form: str = "") -> str:
        """Record what ``text`` states and return it unchanged."""
        self.claims[text] = tuple(claims)
        if form:
            self.forms[text] = form
        return text

    def statement(self, text: str, section: str = "chain") -> Statement:
        return Statement(text, self.claims.get(text, ()), section, self.forms.get(text, ""))
