"""Reports and reasoning steps written from a study's truth, with seeded variation in phrasing."""

from __future__ import annotations

import re
from dataclasses import replace

import numpy as np

from radrbench.data.phantom.claims import (
    ChangeWord,
    Claim,
    Notebook,
    ReportText,
    Statement,
    absent,
    claims_of,
    general,
)
from radrbench.data.phantom.truth import KIND_LABELS, Change, Finding, Study

SEVERITY_WORDS: dict[str, tuple[str, str, str]] = {
    "effusion": ("small", "moderate", "large"),
    "pneumothorax": ("small", "moderate", "large"),
    "cardiomegaly": ("mild", "moderate", "severe"),
    "consolidation": ("patchy", "moderate", "dense"),
    "opacity": ("faint", "patchy", "extensive"),
    "edema": ("mild", "moderate", "severe"),
    "atelectasis": ("minimal", "mild", "moderate"),
    "lesion": ("small", "moderate", "large"),
    "devices": ("", "", ""),
}
LOBE_NAMES = {
    "RUL": "right upper lobe",
    "RML": "right middle lobe",
    "RLL": "right lower lobe",
    "LUL": "left upper lobe",
    "LLL": "left lower lobe",
}
DEVICE_NAMES = {
    "ett": "endotracheal tube",
    "cvc": "right internal jugular central venous catheter",
    "ngt": "enteric tube",
    "pacemaker": "left chest wall pacemaker",
}
_DEVICE_SENTENCES = {
    "ett": "An endotracheal tube terminates about 4 cm above the carina.",
    "cvc": "A right internal jugular central venous catheter terminates in the lower SVC.",
    "ngt": "An enteric tube courses below the diaphragm with its tip in the stomach.",
    "pacemaker": "A left chest wall pacemaker is present with leads in the right heart.",
}
_ORDER = ("devices", "edema", "consolidation", "opacity", "lesion", "atelectasis",
          "effusion", "pneumothorax", "cardiomegaly")  # fmt: skip


def term(label: str) -> str:
    """How a CheXpert label reads inside a sentence ("Pleural Effusion" → "pleural effusion")."""
    return label.lower()


def severity(finding: Finding) -> str:
    return SEVERITY_WORDS[finding.kind][finding.severity - 1]


def _side(finding: Finding) -> str:
    return finding.side or "right"


def located(finding: Finding) -> str:
    """A finding's name with its location, e.g. "right pleural effusion"."""
    kind = finding.kind
    if kind == "effusion":
        if finding.side == "bilateral":
            return "bilateral pleural effusions"
        return f"{_side(finding)} pleural effusion"
    if kind == "pneumothorax":
        return f"{_side(finding)} pneumothorax"
    if kind in ("consolidation", "opacity"):
        return f"{kind} in the {LOBE_NAMES[finding.lobe or 'RLL']}"
    if kind == "lesion":
        noun = "mass" if finding.severity == 3 else "nodule"
        return f"{noun} in the {LOBE_NAMES[finding.lobe or 'RUL']}"
    if kind == "atelectasis":
        return f"plate-like atelectasis at the {_side(finding)} lung base"
    if kind == "edema":
        return "pulmonary edema"
    if kind == "cardiomegaly":
        return "cardiomegaly"
    return " and ".join(DEVICE_NAMES[d] for d in finding.devices)


def article(phrase: str) -> str:
    """Prefix a singular noun phrase with "a"/"an"; plurals stay bare."""
    if phrase.endswith("effusions"):
        return phrase
    return ("an " if phrase[0] in "aeiou" else "a ") + phrase


def describe(finding: Finding) -> str:
    """Noun phrase with size or severity, e.g. "moderate right pleural effusion"."""
    if finding.kind == "lesion":
        return f"{finding.size_cm:.1f} cm {located(finding)}"
    if finding.kind == "devices":
        return located(finding)
    return f"{severity(finding)} {located(finding)}"


_OPACITY_WORDS = re.compile(r"\b(?:opacity|opacified|haziness|hazy)\b", re.IGNORECASE)


def described(text: str, finding: Finding) -> tuple[Claim, ...]:
    """The claims of a sentence describing ``finding``: the finding, and the lung opacity
    the sentence names when it describes another finding by its opacity."""
    claims = claims_of(finding)
    if finding.kind not in ("opacity", "devices") and _OPACITY_WORDS.search(text):
        first = claims[0]
        opacity = Claim("lung opacity", "Lung Opacity", "present", first.location, first.side)
        return (opacity, *claims)
    return claims


class Writer:
    """Chooses among phrasings with one seeded RNG, so every text is reproducible.

    Every sentence it writes is recorded in ``notes`` with the claims it makes (see
    ``radrbench.data.phantom.claims``), so reports and chains carry their own ground truth.
    This is the Open-i-like style of the demo benchmark; ``ArchiveWriter`` writes in the
    style of large hospital archives.
    """

    style = "openi"

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.notes = Notebook()

    def pick(self, *options: str) -> str:
        return options[int(self.rng.integers(len(options)))]

    def note(self, text: str, *claims: Claim, form: str = "") -> str:
        """Record the claims of ``text`` and return it."""
        return self.notes.note(text, claims, form)

    # --- report -----------------------------------------------------------------------------

    def sentence(self, finding: Finding, study: Study) -> str:
        """One FINDINGS sentence for a present finding."""
        text = self._sentence(finding, study)
        return self.note(text, *described(text, finding))

    def _sentence(self, finding: Finding, study: Study) -> str:
        kind, sev, side = finding.kind, severity(finding), _side(finding)
        lobe = LOBE_NAMES.get(finding.lobe or "", "")
        if kind == "devices":
            return " ".join(_DEVICE_SENTENCES[d] for d in finding.devices)
        if kind == "effusion" and finding.side == "bilateral":
            return self.pick(
                f"{sev.capitalize()} bilateral pleural effusions blunt both costophrenic angles.",
                f"There are {sev} bilateral pleural effusions.",
            )
        if kind == "effusion":
            return self.pick(
                f"There is a {sev} {side} pleural effusion with blunting of the {side} "
                "costophrenic angle.",
                f"{sev.capitalize()} {side} pleural effusion with a meniscus at the {side} base.",
            )
        if kind == "pneumothorax":
            return self.pick(
                f"There is a {sev} {side} pneumothorax with a visible visceral pleural line.",
                f"{sev.capitalize()} {side} apical and lateral pneumothorax.",
            )
        if kind == "cardiomegaly":
            return self.pick(
                f"The heart is enlarged, with a cardiothoracic ratio of about {study.ctr:.2f}.",
                f"{sev.capitalize()} cardiomegaly (cardiothoracic ratio about {study.ctr:.2f}).",
            )
        if kind == "consolidation":
            return self.pick(
                f"There is {sev} consolidation of the {lobe} with air bronchograms.",
                f"{sev.capitalize()} airspace consolidation in the {lobe}.",
            )
        if kind == "opacity":
            return self.pick(
                f"There is a {sev} ill-defined opacity in the {lobe}.",
                f"{sev.capitalize()} patchy opacity projects over the {lobe}.",
            )
        if kind == "lesion":
            return self.pick(
                f"There is a well-circumscribed {describe(finding)}.",
                f"A rounded {describe(finding)} is noted.",
            )
        if kind == "atelectasis":
            loss = f", with slight elevation of the {side} hemidiaphragm" * (finding.severity > 1)
            return self.pick(
                f"Linear plate-like opacity at the {side} lung base, consistent with {sev} "
                f"atelectasis{loss}.",
                f"There is {sev} plate-like atelectasis at the {side} base{loss}.",
            )
        return self.pick(
            f"There is {sev} pulmonary edema with perihilar haziness and indistinct vessels.",
            f"Bilateral perihilar haziness and vascular indistinctness, consistent with {sev} "
            "pulmonary edema.",
        )

    def negatives(self, study: Study) -> list[str]:
        """Pertinent negatives for the main regions that are normal."""
        present = {f.kind for f in study.findings}
        lines = []
        if not present - {"devices", "cardiomegaly"}:
            lines.append(
                self.note(
                    self.pick("The lungs are clear.", "The lungs are well expanded and clear."),
                    absent("opacity"),
                )
            )
        elif not present & {"consolidation", "opacity"}:
            lines.append(
                self.note(
                    self.pick("No focal consolidation.", "There is no focal consolidation."),
                    absent("consolidation"),
                )
            )
        pleural = [k for k in ("effusion", "pneumothorax") if k not in present]
        if len(pleural) == 2:
            lines.append(
                self.note(
                    self.pick(
                        "No pleural effusion or pneumothorax.", "No effusion or pneumothorax."
                    ),
                    absent("effusion"),
                    absent("pneumothorax"),
                )
            )
        elif pleural == ["effusion"]:
            lines.append(
                self.note(
                    self.pick("No pleural effusion.", "The costophrenic angles are sharp."),
                    absent("effusion"),
                )
            )
        elif pleural == ["pneumothorax"]:
            lines.append(self.note("No pneumothorax.", absent("pneumothorax")))
        if "cardiomegaly" not in present:
            lines.append(
                self.note(
                    self.pick(
                        "The heart size is normal.", "The cardiomediastinal silhouette is normal."
                    ),
                    absent("cardiomegaly"),
                )
            )
        if "edema" not in present and present:
            text = self.pick("No pulmonary edema.", "No pulmonary vascular congestion.")
            concept = "pulmonary edema" if "edema" in text else "vascular congestion"
            lines.append(self.note(text, absent("edema", concept=concept)))
        return lines

    def report(self, study: Study, change: Change | None = None) -> str:
        """FINDINGS and IMPRESSION; with ``change``, phrased against the prior study."""
        return self.report_text(study, change).text

    def report_text(self, study: Study, change: Change | None = None) -> ReportText:
        """The report with the claims of each sentence (``report`` is its text)."""
        findings = sorted(study.findings, key=lambda f: _ORDER.index(f.kind))
        sentences = []
        if change is not None:
            sentences.append(
                self.pick(
                    "Comparison is made with the prior radiograph.",
                    "Compared with the prior study:",
                )
            )
        impression: list[tuple[str, tuple[Claim, ...]]] = []
        for finding in findings:
            if change is not None and finding.kind == change.kind:
                sentences.append(self.change_sentence(change, finding))
                word = change_word(change)
                impression.append(
                    (f"{word} {describe(finding)}", claims_of(finding, change=_CHANGES[word]))
                )
            else:
                sentences.append(self.sentence(finding, study))
                impression.append(
                    (
                        describe(finding) + " in place" * (finding.kind == "devices"),
                        claims_of(finding),
                    )
                )
        sentences += self.negatives(study)
        sentences.append(
            self.note(
                self.pick("No acute osseous abnormality.", "The visualized bones are intact."),
                absent("fracture", concept="acute osseous abnormality"),
            )
        )
        if not impression:
            text = self.pick("No acute cardiopulmonary process.", "Normal chest radiograph.")
            summary = [Statement(text, (general("acute cardiopulmonary process"),), "impression")]
        elif len(impression) == 1:
            text, claims = impression[0]
            summary = [Statement(text[0].upper() + text[1:] + ".", claims, "impression")]
        else:
            summary = [
                Statement(f"{n}. {item[0].upper()}{item[1:]}.", claims, "impression")
                for n, (item, claims) in enumerate(impression, 1)
            ]
        return ReportText(
            (
                ("FINDINGS", tuple(self.notes.statement(s, "findings") for s in sentences)),
                ("IMPRESSION", tuple(summary)),
            )
        )

    def change_sentence(self, change: Change, current: Finding) -> str:
        prior = change.prior.finding(change.kind)
        name = located(current)
        word = change_word(change)
        claims = claims_of(current, change=_CHANGES[word])
        if change.progression == "stable":
            text = self.pick(
                f"The {describe(current)} is unchanged.",
                f"Stable {describe(current)} compared with the prior study.",
            )
            return self.note(text, *claims)
        if prior is None:
            return self.note(f"There is a new {describe(current)}.", *claims)
        verb = "increased" if change.progression == "worsening" else "decreased"
        text = self.pick(
            f"The {name} has {verb} since the prior study, now {severity(current)}.",
            f"Interval {'increase' if verb == 'increased' else 'decrease'} in the {name}, "
            f"previously {severity(prior)} and now {severity(current)}.",
        )
        return self.note(text, *claims)

    # --- temporal chain steps -------------------------------------------------------------------

    def prior_step(self, change: Change) -> str:
        """What the prior image showed of the tracked finding."""
        before = change.prior.finding(change.kind)
        if before is None:
            text = f"On the prior image there is no {term(KIND_LABELS[change.kind])}."
            return self.note(text, replace(absent(change.kind), time="prior"))
        claims = [replace(c, time="prior") for c in claims_of(before)]
        return self.note(f"On the prior image there is a {describe(before)}.", *claims)

    def current_step(self, change: Change, study: Study) -> str:
        """What the current image shows of the tracked finding."""
        current = self.observe(change.kind, study)
        text = f"On the current image: {current[0].lower()}{current[1:]}"
        return self.notes.note(text, self.notes.claims.get(current, ()))

    def comparison_step(self, change: Change, study: Study) -> str:
        """How the tracked finding changed."""
        now = study.finding(change.kind)
        assert now is not None
        label = term(KIND_LABELS[change.kind])
        text = {
            "stable": f"Compared with the prior, the {label} is unchanged in extent.",
            "worsening": f"Compared with the prior, the {label} has increased in extent.",
            "improving": f"Compared with the prior, the {label} has decreased in extent.",
        }[change.progression]
        return self.note(text, *claims_of(now, change=change_of(change)))

    def unchanged_step(self, finding: Finding) -> str:
        """Another finding, the same on both images."""
        text = f"The {describe(finding)} is unchanged between the two images."
        return self.note(text, *claims_of(finding, change="stable"))

    # --- reasoning ----------------------------------------------------------------------------

    def quality(self) -> str:
        return self.pick(
            "This is a frontal (PA) chest radiograph with adequate inspiration and no rotation.",
            "The frontal chest radiograph is adequately exposed and the patient is not rotated.",
            "Image quality is adequate: PA projection, good inspiratory effort.",
        )

    def observe(self, kind: str, study: Study) -> str:
        """One step: what a region shows and what that implies for ``kind``."""
        finding = study.finding(kind)
        if finding is None:
            return self.note(self._absent(kind, study), absent(kind))
        text = self._observe(finding, study)
        return self.note(text, *described(text, finding))

    def _observe(self, finding: Finding, study: Study) -> str:
        kind = finding.kind
        sev, side = severity(finding), _side(finding)
        lobe = LOBE_NAMES.get(finding.lobe or "", "")
        if kind == "cardiomegaly":
            return self.pick(
                f"The cardiac silhouette is enlarged, about {study.ctr:.2f} of the thoracic width "
                "(above 0.5), which indicates cardiomegaly.",
                f"The transverse cardiac diameter is increased (cardiothoracic ratio about "
                f"{study.ctr:.2f}), consistent with {sev} cardiomegaly.",
            )
        if kind == "effusion":
            where = "both lung bases" if finding.side == "bilateral" else f"the {side} lung base"
            return self.pick(
                f"At {where} there is homogeneous opacity with a meniscus and a blunted "
                f"costophrenic angle, consistent with {article(describe(finding))}.",
                f"The costophrenic angle at {where} is blunted by fluid density with a concave "
                f"upper border, indicating a pleural effusion ({sev}).",
            )
        if kind == "pneumothorax":
            return self.pick(
                f"At the {side} apex and lateral chest wall a thin visceral pleural line is seen "
                f"with no lung markings beyond it, indicating a {sev} {side} pneumothorax.",
                f"The {side} hemithorax shows a lucent peripheral rim without vascular markings, "
                f"bounded by a pleural line, consistent with a {sev} pneumothorax.",
            )
        if kind == "consolidation":
            return self.pick(
                f"In the {lobe} there is a dense airspace opacity with air bronchograms, which "
                "indicates consolidation.",
                f"The {lobe} is opacified homogeneously with air bronchograms, consistent with "
                f"{sev} consolidation.",
            )
        if kind == "opacity":
            return self.pick(
                f"The {lobe} shows a patchy, ill-defined area of increased density, representing "
                "lung opacity.",
                f"There is a {sev} hazy opacity over the {lobe}, a lung opacity.",
            )
        if kind == "lesion":
            return self.pick(
                f"A well-circumscribed {describe(finding)} is seen, indicating a lung lesion.",
                f"The {lobe} contains a discrete rounded density ({finding.size_cm:.1f} cm), "
                "which is a lung lesion.",
            )
        if kind == "atelectasis":
            loss = " with slight elevation of the hemidiaphragm" * (finding.severity > 1)
            return self.pick(
                f"At the {side} lung base there is a linear plate-like opacity{loss}, consistent "
                "with atelectasis.",
                f"A band-like opacity at the {side} base{loss} indicates {sev} atelectasis.",
            )
        if kind == "edema":
            return self.pick(
                "Both perihilar regions are hazy with indistinct vascular markings, consistent "
                f"with {sev} pulmonary edema.",
                "The pulmonary vessels are blurred and the perihilar lungs hazy bilaterally, "
                "indicating pulmonary edema.",
            )
        return (
            f"A thin radiopaque {describe(finding)} projects over the chest, so support devices "
            "are present."
        )

    def _absent(self, kind: str, study: Study) -> str:
        if kind == "cardiomegaly":
            return self.pick(
                f"The cardiac silhouette is normal in size (cardiothoracic ratio about "
                f"{study.ctr:.2f}), so there is no cardiomegaly.",
                "Heart size is within normal limits, less than half the thoracic width, so there "
                "is no cardiomegaly.",
            )
        return self.pick(*_ABSENT[kind])

    def survey(self, study: Study, first: str | None, limit: int) -> list[str]:
        """Observations on ``first`` then the other regions: present findings before normal ones."""
        present = [f.kind for f in sorted(study.findings, key=lambda f: _ORDER.index(f.kind))]
        absent = [
            k
            for k in ("effusion", "pneumothorax", "cardiomegaly", "consolidation")
            if k not in present
        ]
        kinds = ([first] if first else []) + [k for k in present + absent if k != first]
        return [self.observe(kind, study) for kind in kinds[:limit]]


_ABSENT: dict[str, tuple[str, ...]] = {
    "effusion": (
        "Both costophrenic angles are sharp and there is no meniscus at the lung bases, so there "
        "is no pleural effusion.",
        "The lateral costophrenic angles are clear and the hemidiaphragms are well seen, so there "
        "is no pleural effusion.",
    ),
    "pneumothorax": (
        "Lung markings extend to the chest wall on both sides and no pleural line is seen, so "
        "there is no pneumothorax.",
        "No visceral pleural line or peripheral lucency is present at the apices, so there is no "
        "pneumothorax.",
    ),
    "consolidation": (
        "No dense airspace opacity or air bronchograms are seen in either lung, so there is no "
        "consolidation.",
        "Both lungs are aerated without lobar airspace disease, so there is no consolidation.",
    ),
    "opacity": (
        "No patchy or ill-defined airspace opacity is seen, so there is no lung opacity.",
        "No area of increased lung density is seen, so there is no lung opacity.",
    ),
    "lesion": (
        "No discrete nodule or mass is seen in either lung, so there is no lung lesion.",
        "The lungs contain no rounded or mass-like density, so there is no lung lesion.",
    ),
    "atelectasis": (
        "There are no linear plate-like opacities and lung volumes are preserved, so there is no "
        "atelectasis.",
        "The hemidiaphragms are at normal height and no band-like opacity is seen, so there is "
        "no atelectasis.",
    ),
    "edema": (
        "The pulmonary vessels are sharply defined without perihilar haze, so there is no "
        "pulmonary edema.",
        "There is no vascular indistinctness or perihilar haziness, so there is no edema.",
    ),
    "devices": (
        "No tubes, lines or other devices project over the chest, so there are no support devices.",
        "No radiopaque lines or tubes are seen, so there are no support devices.",
    ),
}


_CHANGES: dict[str, ChangeWord] = {
    "stable": "stable",
    "new": "new",
    "increasing": "worsening",
    "decreasing": "improving",
}


def change_of(change: Change) -> ChangeWord:
    """The tracked finding's change as a claim records it (``new`` when the prior lacked it)."""
    return _CHANGES[change_word(change)]


def change_word(change: Change) -> str:
    """Impression prefix for the tracked finding ("increasing", "stable", "new", ...)."""
    if change.progression == "stable":
        return "stable"
    if change.progression == "worsening":
        return "new" if change.prior.finding(change.kind) is None else "increasing"
    return "decreasing"
