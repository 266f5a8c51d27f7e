"""Reports and reasoning steps in the style of large hospital archives (MIMIC-CXR/CheXpert-like).

The Open-i-like ``Writer`` describes each study in full sentences. Archive reports are
written differently, and ``ArchiveWriter`` writes them that way, from the same truth:

- section headings (EXAMINATION, INDICATION, COMPARISON, FINDINGS, IMPRESSION), with the
  FINDINGS section sometimes missing and findings stated only in the IMPRESSION;
- de-identification blanks (``___``) for ages, dates and names;
- comparison with the prior study ("as compared to the previous radiograph", "unchanged",
  "slightly increased", "new", "has improved", "has resolved", "interval removal");
- tubes, lines and devices with their position ("ET tube terminates 4 cm above the carina");
- hedges ("may reflect", "likely atelectasis", "cannot be excluded", "concerning for");
- terse fragments ("Moderate cardiomegaly. No pneumothorax.").

Every sentence carries its claims (``radrbench.data.phantom.claims``): a hedged finding is
``uncertain``, "has resolved" is ``absent`` with change ``resolved``, the indication and the
comparison line state no finding. The phrasing is original, written for this generator.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from radrbench.data.phantom.claims import (
    ChangeWord,
    Claim,
    ReportText,
    Statement,
    absent,
    claims_of,
    general,
)
from radrbench.data.phantom.text import LOBE_NAMES, SEVERITY_WORDS, Writer, change_of
from radrbench.data.phantom.truth import KIND_LABELS, Change, Finding, Study

_ORDER = ("devices", "consolidation", "opacity", "lesion", "atelectasis", "edema",
          "effusion", "pneumothorax", "cardiomegaly")  # fmt: skip
_PARENCHYMA = frozenset({"consolidation", "opacity", "lesion", "atelectasis", "edema"})
_ADVERBS = {1: "mildly", 2: "moderately", 3: "severely"}
# Kinds graded by a severity word (the Open-i writer's words); lesions and devices are not.
_GRADED = ("effusion", "pneumothorax", "cardiomegaly", "consolidation", "opacity", "edema")
_SEVERITY = {kind: SEVERITY_WORDS[kind] for kind in (*_GRADED, "atelectasis")}
_LOBES = LOBE_NAMES
# Which findings a hedge may be put on, and how often.
_HEDGE_P = {
    "atelectasis": 0.6,
    "consolidation": 0.6,
    "opacity": 0.6,
    "lesion": 0.4,
    "edema": 0.5,
    "effusion": 0.35,
    "pneumothorax": 0.3,
    "cardiomegaly": 0.3,
}
# Hedges on severity-1 findings only, for these kinds (a large effusion is not hedged).
_MILD_ONLY = frozenset({"edema", "effusion", "pneumothorax", "cardiomegaly"})
_REASONS = (
    "shortness of breath",
    "fever and cough",
    "chest pain",
    "hypoxia",
    "dyspnea on exertion",
    "productive cough",
    "leukocytosis",
)
_QUESTIONS = (
    ("evaluate for pneumonia", "pneumonia"),
    ("? pneumonia", "pneumonia"),
    ("eval for infiltrate", "infiltrate"),
    ("r/o pneumothorax", "pneumothorax"),
    ("assess for effusion", "effusion"),
    ("please assess for interval change", ""),
    ("history of CHF, evaluate for edema", "edema"),
)


def _sev(finding: Finding) -> str:
    return _SEVERITY[finding.kind][finding.severity - 1]


class ArchiveWriter(Writer):
    """Writes archive-style reports and chains; ``hedges`` are decided once per finding.

    The report is written before the chains of its study, so a chain hedges the same
    findings its report hedges.
    """

    style = "archive"

    def __init__(self, rng: np.random.Generator) -> None:
        super().__init__(rng)
        self.hedges: dict[tuple[str, str], bool] = {}
        self.said: dict[tuple[str, str], Statement] = {}
        """What the report said of each present finding, by (study, kind)."""

    # --- shared pieces ------------------------------------------------------------------------

    def hedged(self, finding: Finding, study: Study) -> bool:
        """Whether this study's text hedges ``finding`` (decided on first use)."""
        key = (study.study_id, finding.kind)
        if key not in self.hedges:
            allowed = finding.kind in _HEDGE_P and not (
                finding.kind in _MILD_ONLY and finding.severity > 1
            )
            if finding.kind == "lesion" and finding.severity == 3:
                allowed = False
            self.hedges[key] = allowed and bool(self.rng.random() < _HEDGE_P[finding.kind])
        return self.hedges[key]

    def name(self, finding: Finding, *, short: bool = False) -> str:
        """The finding's name with its place, adjective first ("left lower lobe opacity")."""
        kind, side = finding.kind, finding.side or "right"
        lobe = finding.lobe or "RLL"
        if kind == "effusion":
            if finding.side == "bilateral":
                return "bilateral effusions" if short else "bilateral pleural effusions"
            return f"{side} effusion" if short else f"{side} pleural effusion"
        if kind == "pneumothorax":
            return f"{side} pneumothorax" if short else f"{side} apical pneumothorax"
        if kind in ("consolidation", "opacity"):
            place = lobe if short else _LOBES[lobe]  # "RLL consolidation"
            return f"{place} {kind}"
        if kind == "lesion":
            noun = "mass" if finding.severity == 3 else "nodule"
            return f"{_LOBES[lobe]} {noun}"
        if kind == "atelectasis":
            return f"{side} basilar atelectasis"
        if kind == "edema":
            return "pulmonary edema"
        if kind == "cardiomegaly":
            return "cardiomegaly"
        return " and ".join(_DEVICE_NAMES[d] for d in finding.devices)

    def full(self, finding: Finding, *, short: bool = False) -> str:
        """Size or severity and name ("moderate left pleural effusion", "1.4 cm ... nodule")."""
        if finding.kind == "lesion":
            return f"{finding.size_cm:.1f} cm {self.name(finding)}"
        if finding.kind == "devices":
            return self.name(finding)
        return f"{_sev(finding)} {self.name(finding, short=short)}"

    # --- finding sentences --------------------------------------------------------------------

    def present(self, finding: Finding, study: Study) -> Statement:
        """One sentence stating a present finding, hedged where this study hedges it."""
        kind = finding.kind
        if kind == "devices":
            return self._devices(finding, stable=False)
        hedge = self.hedged(finding, study)
        claims = claims_of(finding, "uncertain" if hedge else "present")
        side, name = finding.side or "right", self.name(finding)
        sev = _sev(finding) if kind in _SEVERITY else ""
        lobe = _LOBES.get(finding.lobe or "", "")
        if kind == "atelectasis" and hedge:
            opacity = Claim("lung opacity", "Lung Opacity", "present", f"{side} lung base", side)
            form, text = self._choose(
                ("hedge:likely", f"Linear opacity at the {side} base, likely atelectasis."),
                (
                    "hedge:likely-reflects",
                    f"Streaky {side} basilar opacity likely reflects atelectasis.",
                ),
                (
                    "hedge:may-reflect+cannot-exclude",
                    f"{side.capitalize()} basilar opacity may "
                    "reflect atelectasis, though infection cannot be excluded.",
                ),
            )
            extra = (_pneumonia(finding),) if "infection" in text else ()
            return Statement(text, (opacity, *claims, *extra), form=form)
        if kind == "atelectasis":
            return self._statement(
                claims,
                ("terse", f"{sev.capitalize()} {name}."),
                ("sentence", f"There is {sev} {name}."),
                ("plate", f"Plate-like atelectasis at the {side} lung base."),
            )
        if kind in ("consolidation", "opacity") and hedge:
            return self._interpreted(finding, lobe)
        if kind == "consolidation":
            return self._statement(
                claims,
                ("terse", f"{sev.capitalize()} {name}."),
                ("sentence", f"There is {sev} consolidation in the {lobe}."),
                ("abbrev", f"{sev.capitalize()} {self.name(finding, short=True)}."),
            )
        if kind == "opacity":
            return self._statement(
                claims,
                ("terse", f"{sev.capitalize()} {name}."),
                ("sentence", f"There is a {sev} opacity in the {lobe}."),
                ("projects", f"{sev.capitalize()} opacity projects over the {lobe}."),
            )
        if kind == "lesion":
            size = f"{finding.size_cm:.1f} cm"
            if hedge:
                opacity = Claim("lung opacity", "Lung Opacity", "present", lobe, finding.side)
                form, text = self._choose(
                    (
                        "hedge:may-represent",
                        f"Rounded {size} opacity in the {lobe} may represent a nodule.",
                    ),
                    ("hedge:possible", f"Possible {size} nodule in the {lobe}."),
                )
                both = (opacity, *claims) if "opacity" in text else claims
                return Statement(text, both, form=form)
            if finding.severity == 3:
                malignancy = Claim("malignancy", None, "uncertain", lobe, finding.side)
                return self._statement(
                    (*claims, malignancy),
                    ("concerning-for", f"{size} mass in the {lobe}, concerning for malignancy."),
                    (
                        "sentence",
                        f"There is a {size} mass in the {lobe}, worrisome for malignancy.",
                    ),
                )
            return self._statement(
                claims,
                ("terse", f"{size} {name}."),
                ("sentence", f"There is a {size} nodule in the {lobe}."),
            )
        if kind == "edema" and hedge:
            opacity = Claim("lung opacity", "Lung Opacity", "present", "bilateral", "bilateral")
            form, text = self._choose(
                ("hedge:may-reflect", "Hazy perihilar opacities may reflect mild pulmonary edema."),
                ("hedge:possibly", "Bilateral hazy opacities, possibly mild interstitial edema."),
            )
            return Statement(text, (opacity, *claims), form=form)
        if kind == "edema":
            return self._statement(
                claims,
                ("terse", f"{sev.capitalize()} pulmonary edema."),
                ("sentence", f"There is {sev} pulmonary edema."),
                ("interstitial", f"{sev.capitalize()} interstitial pulmonary edema."),
            )
        if kind == "effusion" and hedge:
            return self._statement(
                claims,
                ("hedge:possible", f"Possible small {name}."),
                ("hedge:cannot-exclude", f"A small {name} cannot be excluded."),
                ("hedge:not-excluded", f"Small {name} is not excluded."),
            )
        if kind == "effusion":
            short = self.name(finding, short=True)
            return self._statement(
                claims,
                ("terse", f"{sev.capitalize()} {name}."),
                ("terse-short", f"{sev.capitalize()} {short}."),
                ("sentence", f"There is a {sev} {name}."),
                ("layering", f"{sev.capitalize()} layering {short}."),
            )
        if kind == "pneumothorax" and hedge:
            return self._statement(
                claims,
                ("hedge:possible", f"Possible tiny {side} apical pneumothorax."),
                ("hedge:cannot-exclude", f"A tiny {side} apical pneumothorax cannot be excluded."),
            )
        if kind == "pneumothorax":
            return self._statement(
                claims,
                ("terse", f"{sev.capitalize()} {name}."),
                ("sentence", f"There is a {sev} {name}."),
                (
                    "pleural-line",
                    f"{sev.capitalize()} {side} pneumothorax, with the visceral "
                    "pleural line at the apex.",
                ),
            )
        if hedge:  # cardiomegaly, mild
            return self._statement(
                claims,
                ("hedge:borderline", "Borderline enlarged cardiac silhouette."),
                ("hedge:top-normal", "Heart size is top normal to mildly enlarged."),
            )
        return self._statement(
            claims,
            ("terse", f"{sev.capitalize()} cardiomegaly."),
            ("sentence", f"The heart is {_ADVERBS[finding.severity]} enlarged."),
            ("silhouette", f"{sev.capitalize()} enlargement of the cardiac silhouette."),
        )

    def _interpreted(self, finding: Finding, lobe: str) -> Statement:
        """Consolidation or opacity with what it may represent (pneumonia, aspiration)."""
        sev, kind = _sev(finding), finding.kind
        base = claims_of(finding)
        pneumonia = _pneumonia(finding)
        if kind == "consolidation":
            form, text = self._choose(
                (
                    "hedge:concerning-for",
                    f"{sev.capitalize()} {lobe} consolidation, concerning for pneumonia.",
                ),
                ("hedge:likely", f"Consolidation in the {lobe}, likely pneumonia."),
                (
                    "hedge:cannot-exclude",
                    f"{sev.capitalize()} consolidation in the {lobe}; "
                    "pneumonia cannot be excluded.",
                ),
            )
            return Statement(text, (*base, pneumonia), form=form)
        aspiration = Claim("aspiration", None, "uncertain", _LOBES[finding.lobe or "RLL"])
        form, text = self._choose(
            (
                "hedge:may-reflect",
                f"{sev.capitalize()} opacity in the {lobe} may reflect aspiration or infection.",
            ),
            (
                "hedge:potentially",
                f"{sev.capitalize()} {lobe} opacity, potentially an early pneumonia.",
            ),
            (
                "hedge:could-represent",
                f"{sev.capitalize()} opacity at the {lobe} could represent "
                "infection in the appropriate clinical setting.",
            ),
        )
        claims = (*base, aspiration, pneumonia) if "aspiration" in text else (*base, pneumonia)
        return Statement(text, claims, form=form)

    def _devices(self, finding: Finding, *, stable: bool) -> Statement:
        """Tubes and lines with where they end; ``stable`` phrases them against the prior."""
        parts: list[tuple[str, str]] = []
        for device in finding.devices:
            table = _DEVICE_STABLE if stable else _DEVICE_PRESENT
            form, text = self._choose(*table[device])
            parts.append((form, text.format(cm=self.pick("3", "3.5", "4", "4.5", "5"))))
        change: ChangeWord | None = "stable" if stable else None
        return Statement(
            " ".join(text for _, text in parts),
            claims_of(finding, change=change),
            form="+".join(form for form, _ in parts),
        )

    def changed(self, change: Change, current: Finding) -> Statement:
        """The tracked finding, phrased against the prior study."""
        word = change_of(change)
        claims = claims_of(current, change=word)
        full, name = self.full(current), self.name(current)
        sev = _sev(current) if current.kind != "lesion" else ""
        if word == "stable":
            return self._statement(
                claims,
                ("change:unchanged-terse", f"Unchanged {full}."),
                ("change:is-unchanged", f"The {full} is unchanged."),
                ("change:no-relevant-change", f"No relevant change in the {full}."),
                ("change:stable", f"Stable {full}."),
            )
        if word == "new":
            return self._statement(
                claims,
                ("change:new", f"New {full}."),
                ("change:interval-development", f"Interval development of {_a(current)}{full}."),
                ("change:there-is-new", f"There is {_a(current)}new {full}."),
            )
        if word == "worsening":
            sized = current.kind in ("effusion", "pneumothorax")
            grown = "increased in size" if sized else "worsened"
            return self._statement(
                claims,
                ("change:slightly-increased", f"Slightly increased {name}, now {sev}."),
                ("change:has-increased", f"The {name} has {grown}."),
                ("change:interval-worsening", f"Interval worsening of the {name}."),
                ("change:increasing", f"Increasing {name}."),
            )
        return self._statement(
            claims,
            ("change:decreased", f"Decreased {name}, now {sev}."),
            ("change:has-improved", f"The {name} has improved."),
            ("change:interval-improvement", f"Interval improvement of the {name}."),
            ("change:slightly-smaller", f"Slightly smaller {name}."),
        )

    def unchanged(self, finding: Finding, study: Study) -> Statement:
        """Another present finding of a temporal study, the same as on the prior."""
        if finding.kind == "devices":
            return self._devices(finding, stable=True)
        if self.hedged(finding, study):
            return self.present(finding, study)
        claims = claims_of(finding, change="stable")
        full = self.full(finding)
        return self._statement(
            claims,
            ("change:unchanged-terse", f"Unchanged {full}."),
            ("change:is-unchanged", f"{full[0].upper()}{full[1:]} is unchanged."),
            ("change:again-seen", f"The {full} is again seen."),
        )

    def resolved(self, finding: Finding) -> Statement:
        """A finding of the prior study that is gone (or a device that was removed)."""
        if finding.kind == "devices":
            device = finding.devices[0]
            claims = claims_of(finding, "absent", change="resolved")
            noun = _DEVICE_NAMES[device]
            return self._statement(
                claims,
                ("resolved:interval-removal", f"Interval removal of the {noun}."),
                ("resolved:has-been-removed", f"The {noun} has been removed."),
            )
        name = self.name(finding)
        claims = (replace(claims_of(finding, "absent", change="resolved")[0], severity=None),)
        return self._statement(
            claims,
            ("resolved:has-resolved", f"Previously seen {name} has resolved."),
            ("resolved:interval-resolution", f"Interval resolution of the {name}."),
            ("resolved:no-longer-seen", f"The {name} is no longer seen."),
        )

    # --- negatives ----------------------------------------------------------------------------

    def normal_lines(self, study: Study, change: Change | None) -> list[Statement]:
        """Pertinent negatives, terse, in the order archive reports give them."""
        present = {f.kind for f in study.findings}
        gone = {f.kind for f in change.resolved} if change else set()
        temporal = change is not None
        lines: list[Statement] = []
        if not present & _PARENCHYMA:
            lines.append(
                self._statement(
                    (absent("opacity"),),
                    ("normal:lungs-clear", "Lungs are clear."),
                    ("normal:lungs-clear", "The lungs are clear."),
                    ("normal:no-focal-opacity", "No focal airspace opacity."),
                )
            )
        elif not present & {"consolidation", "opacity"} and "consolidation" not in gone:
            options = [("normal:no-focal-consolidation", "No focal consolidation.")]
            if temporal:
                options.append(("normal:no-new", "No new focal consolidation."))
            lines.append(self._statement((absent("consolidation"),), *options))
        pleural = [k for k in ("effusion", "pneumothorax") if k not in present | gone]
        if pleural == ["effusion", "pneumothorax"]:
            options = [
                ("normal:no-x-or-y", "No pleural effusion or pneumothorax."),
                ("normal:no-x-or-y", "No effusion or pneumothorax."),
                ("normal:there-is-no", "There is no pleural effusion or pneumothorax."),
                ("normal:two-fragments", "No pleural effusion. No pneumothorax."),
            ]
            if temporal:
                options.append(("normal:no-new", "No new pleural effusion or pneumothorax."))
            lines.append(self._statement((absent("effusion"), absent("pneumothorax")), *options))
        elif pleural == ["effusion"]:
            options = [("normal:terse", "No pleural effusion."), ("normal:terse", "No effusion.")]
            if temporal:
                options.append(("normal:no-new", "No new pleural effusion."))
            lines.append(self._statement((absent("effusion"),), *options))
        elif pleural == ["pneumothorax"]:
            lines.append(
                self._statement((absent("pneumothorax"),), ("normal:terse", "No pneumothorax."))
            )
        if "edema" not in present | gone and present and self.rng.random() < 0.6:
            lines.append(
                self._statement(
                    (absent("edema"),),
                    ("normal:terse", "No pulmonary edema."),
                    ("normal:no-evidence-of", "No evidence of pulmonary edema."),
                    ("normal:no-congestion", "No pulmonary vascular congestion."),
                )
            )
        if "cardiomegaly" not in present:
            lines.append(
                self._statement(
                    (absent("cardiomegaly"),),
                    ("normal:heart-size", "Heart size is normal."),
                    ("normal:silhouette", "Normal cardiomediastinal silhouette."),
                    (
                        "normal:within-normal-limits",
                        "Cardiomediastinal silhouette is within normal limits.",
                    ),
                    ("normal:contours", "The cardiac and mediastinal contours are unremarkable."),
                )
            )
        if self.rng.random() < 0.4:
            lines.append(
                self._statement(
                    (absent("fracture", concept="acute osseous abnormality"),),
                    ("normal:osseous", "No acute osseous abnormality."),
                    ("normal:osseous", "Osseous structures are unremarkable."),
                    ("normal:rib-fracture", "No displaced rib fracture."),
                )
            )
        return lines

    # --- report -------------------------------------------------------------------------------

    def report_text(self, study: Study, change: Change | None = None) -> ReportText:
        findings = sorted(study.findings, key=lambda f: _ORDER.index(f.kind))
        if change is not None:  # the tracked finding is stated with its change, never hedged
            self.hedges[(study.study_id, change.kind)] = False
        body: list[Statement] = []
        summary: list[Statement] = []
        has_findings = self.rng.random() >= 0.15
        for finding in findings:
            where = self._where(finding, has_findings)
            if change is not None and finding.kind == change.kind:
                said = self.changed(change, finding)
            elif change is not None:
                said = self.unchanged(finding, study)
            else:
                said = self.present(finding, study)
            self.said.setdefault((study.study_id, finding.kind), said)
            if where != "impression":
                body.append(said)
            if where != "findings":
                summary.append(self._impression_item(finding, said))
        pathologic = [f for f in findings if f.kind != "devices"]
        if pathologic and not any(_abnormal(s) for s in summary):
            said = next(s for s in body if _abnormal(s))
            summary.insert(0, self._impression_item(pathologic[0], said, terse=True))
        for finding in change.resolved if change is not None else ():
            said = self.resolved(finding)
            if has_findings:
                body.append(said)
            if not has_findings or self.rng.random() < 0.5:
                summary.append(said)
        negatives = self.normal_lines(study, change)
        body += negatives
        if not has_findings:
            summary += [s for s in negatives if "pneumothorax" in s.text][:1]
        if not any(_abnormal(s) for s in summary):
            summary.append(self._normal_impression())
        if change is not None:
            target = body if has_findings else summary
            lead = self._lead()
            if lead is not None:
                first = target[0]
                text = f"{lead} {first.text[0].lower()}{first.text[1:]}"
                target[0] = replace(first, text=text, form=f"lead+{first.form}")
        listed = all(any(c.status != "absent" for c in item.claims) for item in summary)
        if len(summary) > 1 and listed and self.rng.random() < 0.5:
            summary = [replace(s, text=f"{n}. {s.text}") for n, s in enumerate(summary, 1)]
        if change is not None and self.rng.random() < 0.2:
            summary.append(
                Statement(
                    "Findings were discussed with Dr. ___ by telephone at ___ on ___.",
                    form="notification",
                )
            )
        sections: list[tuple[str, tuple[Statement, ...]]] = []
        if self.rng.random() < 0.4:
            exam = self.pick("Chest radiograph, PA view.", "CHEST (PA).", "Chest, single view.")
            sections.append(("EXAMINATION", (Statement(exam, form="exam"),)))
        if self.rng.random() < 0.6:
            sections.append(("INDICATION", (self._indication(study),)))
        comparison = self._comparison(change)
        if comparison is not None:
            sections.append(("COMPARISON", (comparison,)))
        if has_findings:
            sections.append(("FINDINGS", tuple(body)))
        sections.append(("IMPRESSION", tuple(summary)))
        sections = [
            (heading, tuple(replace(s, section=heading.lower()) for s in statements))
            for heading, statements in sections
        ]
        for _, statements in sections:
            for statement in statements:
                self.note(statement.text, *statement.claims, form=statement.form)
        return ReportText(tuple(sections))

    def _where(self, finding: Finding, has_findings: bool) -> str:
        """Where a present finding is stated: both sections, FINDINGS only, IMPRESSION only."""
        if not has_findings:
            return "impression"
        roll = self.rng.random()
        if finding.kind == "devices":
            return "findings" if roll < 0.5 else "both"
        return "both" if roll < 0.55 else "findings" if roll < 0.75 else "impression"

    def _impression_item(
        self, finding: Finding, said: Statement, *, terse: bool = False
    ) -> Statement:
        """What the IMPRESSION says of a finding: the same sentence, or a terse summary."""
        if finding.kind == "devices":
            if self.rng.random() < 0.5:
                return said
            text = self.pick(
                "Lines and tubes in standard position.",
                "Support devices in appropriate position.",
                "Tubes and lines as described above.",
            )
            claims = tuple(replace(c, change=None) for c in said.claims)
            return Statement(text, claims, form="device:summary")
        if said.form.startswith("hedge") or not (terse or self.rng.random() < 0.75):
            return said
        claims = tuple(c for c in said.claims if c.label == KIND_LABELS[finding.kind])
        change = next((c.change for c in claims if c.change), None)
        words = _SUMMARY_CHANGES.get(change or "", ("",))
        prefix = words[int(self.rng.integers(len(words)))]
        if change in ("worsening", "improving") and finding.kind in _SEVERITY:
            text = f"{prefix} {self.name(finding)}, now {_sev(finding)}"
        else:
            text = f"{prefix} {self.full(finding)}".strip()
        if not prefix:
            claims = tuple(replace(c, change=None) for c in claims)
        form = f"summary:{prefix.lower() or 'terse'}"
        return Statement(f"{text[0].upper()}{text[1:]}.", claims, form=form)

    def _normal_impression(self) -> Statement:
        text = self.pick(
            "No acute cardiopulmonary process.",
            "No acute cardiopulmonary abnormality.",
            "No acute intrathoracic process.",
            "No evidence of acute disease.",
        )
        return Statement(text, (general("acute cardiopulmonary process"),), form="normal:no-acute")

    def _lead(self) -> str | None:
        """An opening that compares with the prior study, or none."""
        if self.rng.random() < 0.4:
            return None
        return self.pick(
            "As compared to the previous radiograph,",
            "Compared to ___,",
            "In comparison with the study of ___,",
            "Since the prior radiograph,",
        )

    def _comparison(self, change: Change | None) -> Statement | None:
        if self.rng.random() < 0.3:
            return None
        if change is None:
            text = self.pick("None.", "No prior studies available for comparison.")
        else:
            text = self.pick("___.", "Chest radiograph from ___.", "Prior study of ___.")
        return Statement(text, (), "comparison", "comparison")

    def _indication(self, study: Study) -> Statement:
        who = self.pick("___-year-old man", "___-year-old woman", "___M", "___F", "Patient")
        devices = study.finding("devices")
        if devices is not None and "ett" in devices.devices and self.rng.random() < 0.5:
            reason = "intubated, assess ET tube position"
        elif devices is not None and "cvc" in devices.devices and self.rng.random() < 0.5:
            reason = "s/p right IJ line placement"
        else:
            reason = self.pick(*_REASONS)
            if self.rng.random() < 0.6:
                question, _ = _QUESTIONS[int(self.rng.integers(len(_QUESTIONS)))]
                reason = f"{reason}, {question}"
        return Statement(f"{who} with {reason}.", (), "indication", "indication")

    # --- reasoning ----------------------------------------------------------------------------

    def quality(self) -> str:
        return self.pick(
            "Single frontal view of the chest.",
            "PA view of the chest, adequately positioned.",
            "Frontal chest radiograph, adequate inspiration.",
        )

    def observe(self, kind: str, study: Study) -> str:
        """A chain step; a finding the report states is stated with the same claims."""
        finding = study.finding(kind)
        if finding is None:
            statement = self._absent_step(kind)
        else:
            statement = self.present(finding, study)
            said = self.said.get((study.study_id, kind))
            if said is not None and {(c.label, c.status) for c in said.claims} != {
                (c.label, c.status) for c in statement.claims
            }:
                statement = said
            if self.rng.random() < 0.4 and kind != "devices":
                label = KIND_LABELS[kind].lower()
                status = "may be" if statement.form.startswith("hedge") else "is"
                statement = replace(
                    statement,
                    text=f"{statement.text[:-1]}, so {label} {status} present.",
                    form=f"{statement.form}+so",
                )
        return self.note(statement.text, *statement.claims, form=statement.form)

    def _absent_step(self, kind: str) -> Statement:
        options = _ABSENT_STEPS[kind]
        form, text = self._choose(*options)
        concept = "vascular congestion" if "congestion" in text and kind == "edema" else None
        return Statement(text, (absent(kind, concept=concept),), "chain", form)

    def prior_step(self, change: Change) -> str:
        before = change.prior.finding(change.kind)
        if before is None:
            name = KIND_LABELS[change.kind].lower()
            text = self.pick(
                f"The prior radiograph showed no {name}.", f"No {name} on the prior study."
            )
            return self.note(text, replace(absent(change.kind), time="prior"))
        claims = [replace(c, time="prior") for c in claims_of(before)]
        text = self.pick(
            f"On the prior radiograph there was {_a(before)}{self.full(before)}.",
            f"The prior study showed {_a(before)}{self.full(before)}.",
        )
        return self.note(text, *claims)

    def current_step(self, change: Change, study: Study) -> str:
        return self.observe(change.kind, study)

    def comparison_step(self, change: Change, study: Study) -> str:
        now = study.finding(change.kind)
        assert now is not None
        said = self.changed(change, now)
        lead = self.pick(
            "As compared to the previous radiograph,", "Compared to the prior study,", ""
        )
        text = f"{lead} {said.text[0].lower()}{said.text[1:]}" if lead else said.text
        return self.note(text, *said.claims, form=said.form)

    def unchanged_step(self, finding: Finding) -> str:
        if finding.kind == "devices":
            said = self._devices(finding, stable=True)
        else:
            full = self.full(finding)
            said = self._statement(
                claims_of(finding, change="stable"),
                ("change:unchanged-terse", f"Unchanged {full}."),
                ("change:is-unchanged", f"The {full} is unchanged."),
            )
        return self.note(said.text, *said.claims, form=said.form)

    # --- helpers ------------------------------------------------------------------------------

    def _choose(self, *options: tuple[str, str]) -> tuple[str, str]:
        return options[int(self.rng.integers(len(options)))]

    def _statement(self, claims: tuple[Claim, ...], *options: tuple[str, str]) -> Statement:
        form, text = self._choose(*options)
        return Statement(text, claims, form=form)


_MASS_NOUNS = frozenset({"edema", "consolidation", "atelectasis", "cardiomegaly"})
_SUMMARY_CHANGES: dict[str, tuple[str, ...]] = {
    "stable": ("Unchanged", "Stable"),
    "new": ("New",),
    "worsening": ("Increased", "Worsening"),
    "improving": ("Decreased", "Improving"),
}


def _a(finding: Finding) -> str:
    """The article before a finding's name ("a " or nothing for mass nouns and plurals)."""
    plural = finding.kind == "effusion" and finding.side == "bilateral"
    return "" if finding.kind in _MASS_NOUNS or plural else "a "


def _abnormal(statement: Statement) -> bool:
    """Whether a statement states a pathologic finding (not a device, not a negative)."""
    return any(
        c.status != "absent" and c.label not in (None, "Support Devices") for c in statement.claims
    )


def _pneumonia(finding: Finding) -> Claim:
    where = _LOBES.get(finding.lobe or "") or (
        f"{finding.side} lung base" if finding.side else None
    )
    return Claim("pneumonia", "Pneumonia", "uncertain", where, finding.side)


_DEVICE_NAMES = {
    "ett": "endotracheal tube",
    "cvc": "right internal jugular central venous catheter",
    "ngt": "nasogastric tube",
    "pacemaker": "left-sided pacemaker",
}
_DEVICE_PRESENT: dict[str, tuple[tuple[str, str], ...]] = {
    "ett": (
        ("device:ett:abbrev", "ET tube terminates {cm} cm above the carina."),
        (
            "device:ett:full",
            "Endotracheal tube tip is in standard position, {cm} cm above the carina.",
        ),
        ("device:ett:ett", "ETT in appropriate position."),
    ),
    "cvc": (
        ("device:cvc:abbrev", "Right IJ catheter tip in the SVC."),
        (
            "device:cvc:full",
            "Right internal jugular central venous catheter terminates in the mid SVC.",
        ),
        ("device:cvc:line", "Right IJ line ends at the cavoatrial junction."),
    ),
    "ngt": (
        ("device:ngt:courses", "NG tube courses below the diaphragm, with the tip out of view."),
        ("device:ngt:enteric", "Enteric tube tip is in the stomach."),
        ("device:ngt:full", "Nasogastric tube extends into the stomach."),
    ),
    "pacemaker": (
        ("device:pacer:standard", "Left-sided pacemaker with leads in standard position."),
        (
            "device:pacer:pacer",
            "Left chest wall pacer with leads in the right atrium and right ventricle.",
        ),
        (
            "device:pacer:leads",
            "Pacemaker leads terminate in the right atrium and right ventricle.",
        ),
    ),
}
_DEVICE_STABLE: dict[str, tuple[tuple[str, str], ...]] = {
    "ett": (
        ("device:ett:remains", "ET tube remains in standard position."),
        ("device:ett:unchanged", "Endotracheal tube is unchanged in position."),
    ),
    "cvc": (
        ("device:cvc:unchanged", "Right IJ central line is unchanged in position."),
        ("device:cvc:remains", "Right internal jugular catheter remains in the SVC."),
    ),
    "ngt": (
        ("device:ngt:remains", "NG tube remains in place, terminating in the stomach."),
        ("device:ngt:unchanged", "Unchanged position of the enteric tube."),
    ),
    "pacemaker": (
        ("device:pacer:unchanged", "Pacemaker leads are unchanged in position."),
        ("device:pacer:stable", "Stable left-sided pacemaker."),
    ),
}
_ABSENT_STEPS: dict[str, tuple[tuple[str, str], ...]] = {
    "effusion": (
        ("absent:terse", "No pleural effusion."),
        ("absent:sharp-angles", "The costophrenic angles are sharp; no pleural effusion."),
    ),
    "pneumothorax": (
        ("absent:terse", "No pneumothorax."),
        ("absent:is-seen", "No pneumothorax is seen."),
    ),
    "cardiomegaly": (
        ("absent:heart-size", "Heart size is normal; no cardiomegaly."),
        ("absent:silhouette", "Normal cardiomediastinal silhouette, without cardiomegaly."),
    ),
    "consolidation": (
        ("absent:terse", "No focal consolidation."),
        ("absent:there-is-no", "There is no focal consolidation."),
    ),
    "opacity": (
        ("absent:terse", "No focal opacity."),
        ("absent:airspace", "No focal airspace opacity."),
    ),
    "lesion": (
        ("absent:nodule-or-mass", "No suspicious nodule or mass."),
        ("absent:no-nodule", "No pulmonary nodule is seen."),
    ),
    "atelectasis": (
        ("absent:terse", "No atelectasis."),
        ("absent:volumes", "Lung volumes are preserved without atelectasis."),
    ),
    "edema": (
        ("absent:terse", "No pulmonary edema."),
        ("absent:congestion", "No pulmonary vascular congestion."),
    ),
    "devices": (
        ("absent:devices", "No lines or tubes are seen."),
        ("absent:devices", "No support devices."),
    ),
}
