"""Structured ground truth of a phantom study: patient anatomy and findings, drawn from an RNG.

The truth is the single source of the image, the report and every reasoning chain.
Geometry is in a canonical 512x512 frame; the patient's right is on the image's left.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

KIND_LABELS: dict[str, str] = {
    "atelectasis": "Atelectasis",
    "cardiomegaly": "Cardiomegaly",
    "consolidation": "Consolidation",
    "edema": "Edema",
    "lesion": "Lung Lesion",
    "opacity": "Lung Opacity",
    "effusion": "Pleural Effusion",
    "pneumonia": "Pneumonia",
    "pneumothorax": "Pneumothorax",
    "devices": "Support Devices",
}
LABEL_KINDS: dict[str, str] = {label: kind for kind, label in KIND_LABELS.items()}
NO_FINDING = "No Finding"
# Findings of the main set (pneumonia only appears in the RSNA-like cross-center set).
MAIN_KINDS: tuple[str, ...] = tuple(kind for kind in KIND_LABELS if kind != "pneumonia")
TEMPORAL_KINDS: tuple[str, ...] = ("effusion", "pneumothorax", "consolidation", "edema", "opacity")
PROGRESSIONS: tuple[str, ...] = ("stable", "worsening", "improving")
LOBES: dict[str, str] = {
    "RUL": "right",
    "RML": "right",
    "RLL": "right",
    "LUL": "left",
    "LLL": "left",
}
DEVICES: tuple[str, ...] = ("ett", "cvc", "ngt", "pacemaker")
RIB_SPACINGS: tuple[float, ...] = (28.0, 29.5, 31.0, 32.5)

# Box (u from medial to lateral, v from apex to base) of each lobe in lung coordinates.
LOBE_BOXES: dict[str, tuple[float, float, float, float]] = {
    "RUL": (0.3, 0.75, 0.12, 0.36),
    "RML": (0.2, 0.45, 0.52, 0.72),
    "RLL": (0.5, 0.8, 0.66, 0.84),
    "LUL": (0.35, 0.75, 0.14, 0.45),
    "LLL": (0.6, 0.82, 0.66, 0.84),
}
_PATHOLOGY_WEIGHTS: dict[str, float] = {
    "effusion": 0.2,
    "cardiomegaly": 0.15,
    "consolidation": 0.12,
    "opacity": 0.12,
    "lesion": 0.12,
    "atelectasis": 0.12,
    "pneumothorax": 0.1,
    "edema": 0.07,
}
_LESION_SIZES = {1: (1.2, 1.6), 2: (1.8, 2.8), 3: (3.2, 4.5)}
_DEVICES_P = 0.3  # share of abnormal studies with support devices


@dataclass(frozen=True)
class Finding:
    """One rendered finding; ``severity`` is 1 (small/mild), 2 (moderate) or 3 (large/severe)."""

    kind: str
    severity: int = 1
    side: str | None = None  # "right", "left" or "bilateral"
    lobe: str | None = None
    position: tuple[float, float] | None = None  # (u, v) lung coordinates of a lesion
    size_cm: float | None = None
    devices: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        return KIND_LABELS[self.kind]

    def sides(self) -> tuple[str, ...]:
        """The lungs the finding touches."""
        return ("right", "left") if self.side == "bilateral" else (self.side or "right",)

    def to_meta(self) -> dict[str, Any]:
        meta: dict[str, Any] = {"label": self.label, "kind": self.kind, "severity": self.severity}
        for key in ("side", "lobe", "size_cm"):
            if getattr(self, key) is not None:
                meta[key] = getattr(self, key)
        if self.devices:
            meta["devices"] = list(self.devices)
        return meta


@dataclass(frozen=True)
class Anatomy:
    """Body habitus of one patient (canonical pixels)."""

    mid: float  # midline x
    thorax: float  # half width of the lungs at the costophrenic angles
    apex: float  # y of the lung apices
    dome_right: float  # y of the top of the right hemidiaphragm
    dome_left: float
    ctr: float  # cardiothoracic ratio without cardiomegaly
    rib_spacing: float
    gastric_bubble: bool


@dataclass(frozen=True)
class Study:
    """One radiograph's truth: who, which anatomy, which findings."""

    study_id: str
    patient_id: str
    anatomy: Anatomy
    findings: tuple[Finding, ...]

    @property
    def labels(self) -> list[str]:
        """Positive CheXpert labels in alphabetical order, or ``["No Finding"]``."""
        return sorted({f.label for f in self.findings}) or [NO_FINDING]

    @property
    def ctr(self) -> float:
        """Cardiothoracic ratio as rendered (and reported)."""
        heart = self.finding("cardiomegaly")
        if heart is None:
            return self.anatomy.ctr
        return round(0.5 + 0.055 * heart.severity + (self.anatomy.ctr - 0.41) * 0.5, 2)

    def finding(self, kind: str) -> Finding | None:
        return next((f for f in self.findings if f.kind == kind), None)

    def to_meta(self) -> dict[str, Any]:
        return {
            "study_id": self.study_id,
            "patient_id": self.patient_id,
            "view": "PA",
            "findings": [f.to_meta() for f in self.findings],
        }


@dataclass(frozen=True)
class Change:
    """A prior study of the same patient and how ``kind`` evolved since then."""

    kind: str
    progression: str  # "stable", "worsening" or "improving"
    prior: Study
    resolved: tuple[Finding, ...] = ()
    """Findings of the prior study that are gone from the current one (a removed device is a
    ``devices`` finding listing it); the prior study includes them."""


def sample_anatomy(rng: np.random.Generator) -> Anatomy:
    dome_right = float(rng.uniform(362, 382))
    return Anatomy(
        mid=float(256 + rng.normal(0, 4)),
        thorax=float(rng.uniform(176, 194)),
        apex=float(rng.uniform(72, 88)),
        dome_right=dome_right,
        dome_left=dome_right + float(rng.uniform(8, 18)),
        ctr=round(float(rng.uniform(0.41, 0.46)), 2),
        rib_spacing=RIB_SPACINGS[int(rng.integers(len(RIB_SPACINGS)))],
        gastric_bubble=bool(rng.random() < 0.7),
    )


def _pick(rng: np.random.Generator, items: tuple[str, ...] | list[str]) -> str:
    return str(items[int(rng.integers(len(items)))])


def sample_finding(kind: str, rng: np.random.Generator, taken: tuple[Finding, ...] = ()) -> Finding:
    """Draw one finding of ``kind`` that does not collide with the ``taken`` ones."""
    severity = int(rng.integers(1, 4))
    used_lobes = {f.lobe for f in taken}
    free_lobes = [lobe for lobe in LOBES if lobe not in used_lobes] or list(LOBES)
    effusion = next((f for f in taken if f.kind == "effusion"), None)
    pneumothorax = next((f for f in taken if f.kind == "pneumothorax"), None)
    if kind in ("consolidation", "opacity", "pneumonia"):
        lobe = _pick(rng, free_lobes)
        return Finding(kind, severity, side=LOBES[lobe], lobe=lobe)
    if kind == "lesion":
        lobe = _pick(rng, free_lobes)
        u0, u1, v0, v1 = LOBE_BOXES[lobe]
        position = (round(float(rng.uniform(u0, u1)), 3), round(float(rng.uniform(v0, v1)), 3))
        low, high = _LESION_SIZES[severity]
        size = round(float(rng.uniform(low, high)), 1)
        return Finding(kind, severity, LOBES[lobe], lobe, position, size)
    if kind == "atelectasis":
        lobe = _pick(rng, [lobe for lobe in ("RLL", "LLL") if lobe in free_lobes] or ["RLL"])
        return Finding(kind, severity, side=LOBES[lobe], lobe=lobe)
    if kind == "effusion":
        if pneumothorax is not None:
            side = "left" if pneumothorax.side == "right" else "right"
        else:
            side = "bilateral" if rng.random() < 0.15 else _pick(rng, ["right", "left"])
        return Finding(kind, severity, side=side)
    if kind == "pneumothorax":
        sides = ["right", "left"]
        if effusion is not None and effusion.side in sides:
            sides.remove(str(effusion.side))
        return Finding(kind, severity, side=_pick(rng, sides))
    if kind == "edema":
        return Finding(kind, severity, side="bilateral")
    if kind == "devices":
        count = 1 if rng.random() < 0.7 else 2
        chosen = rng.choice(len(DEVICES), size=count, replace=False)
        return Finding(kind, 1, devices=tuple(DEVICES[i] for i in sorted(chosen)))
    return Finding(kind, severity)


def _compatible(kind: str, taken: tuple[Finding, ...]) -> bool:
    if any(f.kind == kind for f in taken):
        return False
    effusion = next((f for f in taken if f.kind == "effusion"), None)
    return not (kind == "pneumothorax" and effusion is not None and effusion.side == "bilateral")


def sample_findings(rng: np.random.Generator, first: Finding | None = None) -> tuple[Finding, ...]:
    """1-3 pathologic findings (starting with ``first`` if given), sometimes support devices."""
    taken: tuple[Finding, ...] = (first,) if first else ()
    count = int(rng.choice([1, 2, 3], p=[0.5, 0.35, 0.15]))
    kinds = list(_PATHOLOGY_WEIGHTS)
    weights = np.array([_PATHOLOGY_WEIGHTS[k] for k in kinds])
    while len(taken) < count:
        kind = kinds[int(rng.choice(len(kinds), p=weights / weights.sum()))]
        if _compatible(kind, taken):
            taken += (sample_finding(kind, rng, taken),)
    if rng.random() < _DEVICES_P:
        taken += (sample_finding("devices", rng, taken),)
    return taken


def sample_change(
    rng: np.random.Generator, study: Study, kind: str, prior_id: str
) -> tuple[Study, Change]:
    """Set the severity of ``kind`` in ``study`` and build the prior study that explains it.

    Returns the (possibly adjusted) current study and the change.
    """
    progression = _pick(rng, PROGRESSIONS)
    if progression == "stable":
        current_sev = prior_sev = int(rng.integers(1, 4))
    elif progression == "worsening":
        prior_sev = int(rng.integers(0, 3))  # 0: absent on the prior study
        current_sev = prior_sev + 1
    else:
        current_sev = int(rng.integers(1, 3))
        prior_sev = current_sev + 1
    tracked = study.finding(kind)
    assert tracked is not None
    current_f = replace(tracked, severity=current_sev)
    current = replace(
        study, findings=tuple(current_f if f.kind == kind else f for f in study.findings)
    )
    prior_findings = tuple(
        replace(f, severity=prior_sev) if f.kind == kind else f
        for f in current.findings
        if f.kind != kind or prior_sev > 0
    )
    anatomy = current.anatomy
    prior_anatomy = replace(
        anatomy,
        mid=anatomy.mid + float(rng.normal(0, 3)),
        dome_right=anatomy.dome_right + float(rng.uniform(-8, 8)),
        dome_left=anatomy.dome_left + float(rng.uniform(-8, 8)),
    )
    prior = Study(prior_id, current.patient_id, prior_anatomy, prior_findings)
    return current, Change(kind, progression, prior)


_RESOLVABLE: tuple[str, ...] = (
    "effusion", "pneumothorax", "consolidation", "opacity", "atelectasis", "edema", "devices"
)  # fmt: skip


def add_resolved(rng: np.random.Generator, current: Study, change: Change) -> Change:
    """Add to the prior study a finding that has since resolved (or a device since removed).

    The current study is unchanged; the change lists the finding in ``resolved``.
    """
    present = {f.kind for f in current.findings}
    prior = change.prior
    kinds = [
        k
        for k in _RESOLVABLE
        if k == "devices" or (k not in present and _compatible(k, prior.findings))
    ]
    kind = _pick(rng, kinds)
    if kind == "devices":
        worn = prior.finding("devices")
        worn_devices = worn.devices if worn is not None else ()
        free = [d for d in DEVICES if d not in worn_devices]
        if not free:
            return change
        device = _pick(rng, free)
        removed = Finding("devices", 1, devices=(device,))
        merged = Finding(
            "devices", 1, devices=tuple(d for d in DEVICES if d in {*worn_devices, device})
        )
        findings = (*(f for f in prior.findings if f.kind != "devices"), merged)
    else:
        removed = replace(
            sample_finding(kind, rng, prior.findings), severity=int(rng.integers(1, 3))
        )
        findings = (*prior.findings, removed)
    return replace(change, prior=replace(prior, findings=findings), resolved=(removed,))
