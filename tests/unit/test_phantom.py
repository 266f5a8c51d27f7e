"""The phantom demo generator: coverage, validity, determinism, text-truth agreement, pixels."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from radrbench.data.benchmark import MANIFEST_FILE, SAMPLES_FILE, load_samples, sha256_file
from radrbench.data.images import open_image
from radrbench.data.phantom import PhantomCase, generate_demo, phantom_cases
from radrbench.data.phantom.render import SCANNERS, render
from radrbench.data.phantom.text import change_of
from radrbench.data.phantom.truth import KIND_LABELS, Finding, Study, sample_anatomy
from radrbench.data.schema import CHEXPERT_LABELS, TASK_FAMILIES, Sample
from radrbench.errors import ConfigError

STUDIES = 10
# Words a report uses for each label (a lesion is a "nodule" or "mass", ...).
REPORT_WORDS = {
    "Atelectasis": ("atelectasis",),
    "Cardiomegaly": ("cardiomegaly",),
    "Consolidation": ("consolidation",),
    "Edema": ("edema",),
    "Lung Lesion": ("nodule", "mass"),
    "Lung Opacity": ("opacity",),
    "Pleural Effusion": ("pleural effusion",),
    "Pneumothorax": ("pneumothorax",),
    "Support Devices": ("tube", "catheter", "pacemaker"),
}


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("phantom") / "bench"
    seen: list[int] = []
    generate_demo(out, studies=STUDIES, seed=7, progress=seen.append)
    assert seen == list(range(1, STUDIES + 1))
    return out


@pytest.fixture(scope="module")
def samples(bench: Path) -> list[Sample]:
    return load_samples(bench)


def _files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def _impression(sample: Sample) -> str:
    assert sample.report is not None
    return sample.report.split("IMPRESSION:")[1].lower()


def test_every_family_source_and_split(samples: list[Sample]) -> None:
    main = [s for s in samples if s.source == "phantom"]
    assert {s.task for s in main} == set(TASK_FAMILIES)
    assert {s.source for s in samples} == {"phantom", "phantom-rsna", "phantom-siim"}
    assert {s.split for s in main} == {"train", "test"}
    assert len({s.id for s in samples}) == len(samples)
    assert all(s.id.startswith(s.meta["study_id"]) for s in samples)


def test_samples_valid_and_manifest_checksums(bench: Path, samples: list[Sample]) -> None:
    manifest = json.loads((bench / MANIFEST_FILE).read_text())
    assert manifest["n_samples"] == len(samples)
    for name, digest in manifest["checksums"].items():
        assert sha256_file(bench / name) == digest
    for sample in samples:
        assert set(sample.findings) <= set(CHEXPERT_LABELS)
        if sample.options is not None:
            assert sample.options[sample.answer] == sample.answer_text
            assert sample.question.endswith(
                "\n".join(f"{k}) {v}" for k, v in sample.options.items())
            )
        assert "step by step" not in sample.question


def test_images_exist_and_decode(bench: Path, samples: list[Sample]) -> None:
    sizes = {}
    for ref in {ref.path: ref for s in samples for ref in s.images}.values():
        image = open_image(bench / "images" / ref.path)
        sizes[ref.path.split("/")[0]] = image.size
    assert sizes == {"phantom": (512, 512), "phantom-rsna": (448, 448), "phantom-siim": (512, 512)}


def test_same_seed_is_byte_identical_other_seed_differs(bench: Path, tmp_path: Path) -> None:
    generate_demo(tmp_path / "again", studies=STUDIES, seed=7)
    assert _files(tmp_path / "again") == _files(bench)
    generate_demo(tmp_path / "other", studies=STUDIES, seed=8)
    other = _files(tmp_path / "other")
    assert other[SAMPLES_FILE] != _files(bench)[SAMPLES_FILE]
    assert (
        other["images/phantom/phantom-0001.png"] != _files(bench)["images/phantom/phantom-0001.png"]
    )


@pytest.mark.slow
def test_threads_do_not_change_output(bench: Path, tmp_path: Path) -> None:
    generate_demo(tmp_path / "threads", studies=STUDIES, seed=7, workers=2)
    assert _files(tmp_path / "threads") == _files(bench)


def test_chains_and_reports_agree_with_truth(samples: list[Sample]) -> None:
    for sample in samples:
        if sample.source != "phantom":
            continue
        truth = sorted({f["label"] for f in sample.meta["findings"]}) or ["No Finding"]
        assert sample.reasoning is not None and 3 <= len(sample.reasoning) <= 7
        report = sample.report or ""
        impression = _impression(sample)
        for label in truth:
            if label != "No Finding":
                assert any(word in impression for word in REPORT_WORDS[label]), (
                    label,
                    sample.report,
                )
        if truth == ["No Finding"]:
            assert "no pneumothorax" in report.lower() or "or pneumothorax" in report
        chain = " ".join(sample.reasoning).lower()
        if sample.task == "binary":
            label = sample.findings[0]
            assert (sample.answer_text == "Yes") == (label in truth)
            if label in truth:
                assert label.lower() in chain
            else:
                assert f"no evidence of {label.lower()}" in chain
        elif sample.task == "anomaly":
            assert sample.answer_text == ("Normal" if truth == ["No Finding"] else "Abnormal")
        elif sample.task == "multi":
            assert sample.answer_text == ", ".join(truth)
        elif sample.task == "multi_open":
            assert sample.answer_labels == [label.lower() for label in truth]
        elif sample.task == "single":
            assert sample.answer_text in truth
            distractors = set((sample.options or {}).values()) - {sample.answer_text}
            assert not distractors & set(truth)
        assert sample.reasoning[-1].endswith(f"{sample.answer}) {sample.answer_text}.") or (
            sample.task == "multi_open"
        )


def _severity(meta: dict[str, Any], label: str) -> int:
    return next((f["severity"] for f in meta["findings"] if f["label"] == label), 0)


def test_temporal_pairs(bench: Path, samples: list[Sample]) -> None:
    temporal = [s for s in samples if s.task == "temporal"]
    assert temporal
    for sample in temporal:
        prior, current = sample.ordered_images()
        assert (prior.role, current.role) == ("prior", "current")
        assert prior.path != current.path
        assert not np.array_equal(
            np.asarray(open_image(bench / "images" / prior.path)),
            np.asarray(open_image(bench / "images" / current.path)),
        )
        assert sample.prior_report and sample.report and "prior" in sample.report.lower()
        label = sample.findings[0]
        before, now = _severity(sample.meta["prior"], label), _severity(sample.meta, label)
        expected = {0: "stable", 1: "worsening", -1: "improving"}[int(np.sign(now - before))]
        assert sample.answer_text == sample.meta["progression"] == expected


def test_cross_center_sets(samples: list[Sample]) -> None:
    cross = [s for s in samples if s.source != "phantom"]
    assert {s.findings[0] for s in cross} == {"Pneumonia", "Pneumothorax"}
    for sample in cross:
        assert sample.task == "binary" and sample.split == "test"
        assert sample.reasoning is None and sample.report is None


# --- pixels: a finding changes the image where it should ----------------------------------


def _pixels(*findings: Finding, source: str = "phantom") -> np.ndarray:
    anatomy = sample_anatomy(np.random.default_rng(5))
    study = Study("t", "p", anatomy, findings)
    return render(study, SCANNERS[source], np.random.default_rng(0)).astype(np.float64)


def _heart_width(pixels: np.ndarray, row: int) -> int:
    """Bright run around the midline on one row (the heart is brighter than the lungs)."""
    bright = pixels[row - 3 : row + 3].mean(axis=0) > 135
    left = right = 256
    while left > 0 and bright[left - 1]:
        left -= 1
    while right < 511 and bright[right + 1]:
        right += 1
    return right - left


def test_cardiomegaly_widens_the_heart() -> None:
    anatomy = sample_anatomy(np.random.default_rng(5))
    row = int(anatomy.dome_left - 40)
    normal = _heart_width(_pixels(), row) / (2 * anatomy.thorax)
    enlarged = _heart_width(_pixels(Finding("cardiomegaly", 3)), row) / (2 * anatomy.thorax)
    assert normal < 0.5 < enlarged
    assert enlarged - normal > 0.15


def test_effusion_brightens_the_base_of_its_side() -> None:
    normal = _pixels()
    effusion = _pixels(Finding("effusion", 2, side="right"))
    right_base, left_base = np.s_[340:400, 90:200], np.s_[340:400, 312:422]
    assert effusion[right_base].mean() - normal[right_base].mean() > 25
    assert abs(effusion[left_base].mean() - normal[left_base].mean()) < 2


def test_pneumothorax_leaves_a_lucent_rim_beside_the_collapsed_lung() -> None:
    rim, lung = np.s_[170:230, 362:395], np.s_[170:230, 310:345]  # patient's left: image right
    normal = _pixels()
    pneumothorax = _pixels(Finding("pneumothorax", 3, side="left"))
    assert pneumothorax[rim].mean() < normal[rim].mean() - 15
    contrast = pneumothorax[lung].mean() - pneumothorax[rim].mean()
    assert contrast > normal[lung].mean() - normal[rim].mean() + 25


def test_consolidation_and_lesion_are_bright_where_placed() -> None:
    normal = _pixels()
    consolidation = _pixels(Finding("consolidation", 3, side="right", lobe="RUL"))
    upper_right = np.s_[110:170, 110:190]
    assert consolidation[upper_right].mean() - normal[upper_right].mean() > 25
    lesion = Finding("lesion", 2, side="left", lobe="LUL", position=(0.5, 0.3), size_cm=2.5)
    diff = _pixels(lesion) - normal
    y, x = np.unravel_index(np.argmax(diff), diff.shape)
    assert x > 256 and 100 < y < 260 and diff.max() > 40


def test_cross_center_scanners_look_different() -> None:
    main, rsna, siim = (_pixels(source=s) for s in ("phantom", "phantom-rsna", "phantom-siim"))
    assert rsna.shape == (448, 448) and siim.shape == main.shape
    lungs = [np.percentile(image, 25) for image in (main, rsna, siim)]  # the lung fields
    assert lungs[1] < lungs[0] - 20 and lungs[2] < lungs[0] - 10


def test_no_studies_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="at least 1"):
        generate_demo(tmp_path / "empty", studies=0)


# --- report styles: archive-style texts and their claims -----------------------------------

# Words a sentence uses for each claim's label, over both styles.
CLAIM_WORDS = {
    **REPORT_WORDS,
    "Lung Opacity": ("opacity", "opacities", "haziness", "hazy", "airspace", "lungs are"),
    "Pneumonia": ("pneumonia", "infection"),
    "Fracture": ("osseous", "fracture", "bones"),
    "Edema": ("edema", "congestion"),
    "Support Devices": ("tube", "catheter", "pacemaker", "pacer", "line", "ett", "devices"),
    "Cardiomegaly": ("cardiomegaly", "heart", "cardiac", "cardiomediastinal"),
    "Pleural Effusion": ("effusion", "costophrenic"),
    "Lung Lesion": ("nodule", "mass"),
}
HEDGES = ("likely", "may ", "possible", "possibly", "cannot be excluded", "not excluded",
          "potentially", "could", "borderline", "top normal", "concerning")  # fmt: skip
NEGATIONS = ("no ", "without", "resolved", "resolution", "removed", "no longer", "normal",
             "clear", "unremarkable", "sharp")  # fmt: skip


@pytest.fixture(scope="module")
def archive_cases() -> list[PhantomCase]:
    return phantom_cases("archive", 120, seed=3)


def _texts(cases: list[PhantomCase]) -> list[tuple[str, tuple[str, ...], str | None]]:
    return [(c.report, c.chain, c.prior_report) for c in cases]


def test_archive_cases_are_deterministic_for_a_seed(archive_cases: list[PhantomCase]) -> None:
    again = phantom_cases("archive", 120, seed=3)
    assert _texts(again) == _texts(archive_cases)
    assert [c.findings for c in again] == [c.findings for c in archive_cases]
    assert _texts(phantom_cases("archive", 120, seed=4)) != _texts(archive_cases)
    assert phantom_cases("archive", 40, seed=3) == archive_cases[:40]  # a prefix of more


def test_archive_reports_read_like_archive_reports(archive_cases: list[PhantomCase]) -> None:
    reports = [c.report for c in archive_cases]
    assert all("IMPRESSION:" in r for r in reports)
    assert any("FINDINGS:" not in r for r in reports)  # findings stated in the impression only
    assert sum("___" in r for r in reports) > len(reports) / 3
    assert any("INDICATION:" in r for r in reports) and any("COMPARISON:" in r for r in reports)
    text = " ".join(reports).lower()
    phrases = ("unchanged", "new ", "resolv", "removed", "et tube", "ij ", "ng tube", "likely",
               "cannot be excluded", "no pneumothorax.", "as compared to the previous")  # fmt: skip
    for phrase in phrases:
        assert phrase in text, phrase
    temporal = [c for c in archive_cases if c.change is not None]
    assert temporal and all(c.task == "temporal" for c in temporal)
    assert any(c.change is not None and c.change.resolved for c in temporal)


def test_archive_claims_match_the_text(archive_cases: list[PhantomCase]) -> None:
    for case in archive_cases:
        texts = [s.text.lower() for s in case.statements]
        for statement in case.statements:
            text = statement.text.lower()
            if statement.section in ("indication", "comparison", "examination"):
                assert not statement.claims, statement
            for claim in statement.claims:
                if claim.label is None:
                    continue
                assert any(w in text for w in CLAIM_WORDS[claim.label]), (claim, text)
                if claim.status == "uncertain":
                    assert any(h in text for h in HEDGES), (claim, text)
                if claim.status == "absent":
                    assert any(n in text for n in NEGATIONS), (claim, text)
                if claim.side in ("right", "left") and claim.label != "Support Devices":
                    assert claim.side in text or "rul" in text or "rml" in text, (claim, text)
        assert case.report.lower().replace("\n", " ").count(": ") >= 1
        assert all(t in case.report.lower() for t in texts)


def test_archive_claims_match_the_truth(archive_cases: list[PhantomCase]) -> None:
    for case in archive_cases:
        study, change = case.study, case.change
        stated = {c.label: c for c in case.findings if c.label and c.status != "absent"}
        # Every present finding is stated, present or hedged, with its side.
        for finding in study.findings:
            assert finding.label in stated, (finding, case.report)
        denied = {c.label for c in case.findings if c.label and c.status == "absent"}
        gone = {KIND_LABELS[f.kind] for f in change.resolved} if change else set()
        # Nothing present is denied, except a device removed while another stays.
        assert not (denied - {"Support Devices"}) & set(study.labels), case.report
        for label in set(stated) - set(study.labels):
            assert label in ("Lung Opacity", "Pneumonia"), (label, case.report)
        if change is not None:
            tracked = stated[KIND_LABELS[change.kind]]
            assert tracked.change == change_of(change), case.report
            for finding in change.resolved:
                assert finding in change.prior.findings or finding.kind == "devices"
                resolved = [c for c in case.findings if c.change == "resolved"]
                assert resolved and all(c.status == "absent" for c in resolved), case.report
                assert {c.label for c in resolved} == gone
        for claims in case.chain_claims:  # chains state nothing their report contradicts
            for claim in claims:
                if claim.label is None or claim.time != "current":
                    continue
                if claim.label in study.labels:
                    assert claim.status != "absent", claim
                elif claim.status != "absent":  # an interpretation the report also makes
                    assert claim.label in ("Lung Opacity", "Pneumonia"), claim
                    assert claim.label in stated, (claim, case.report)


def test_openi_cases_are_the_demo_texts(samples: list[Sample]) -> None:
    """phantom_cases writes the same texts as the demo benchmark for the same study."""
    cases = phantom_cases("openi", 6, seed=7)
    assert all(c.style == "openi" for c in cases)
    for case in cases:
        truth = {f.label for f in case.study.findings}
        present = {c.label for c in case.findings if c.status == "present"}
        assert truth <= present
        assert case.report.startswith("FINDINGS: ") and "\nIMPRESSION: " in case.report
        assert len(case.chain) == len(case.chain_claims)
        assert case.sample.report == case.report


def test_archive_demo_keeps_the_truth_and_records_claims(
    bench: Path, samples: list[Sample], tmp_path: Path
) -> None:
    out = tmp_path / "archive"
    manifest = generate_demo(out, studies=STUDIES, seed=7, report_style="archive")
    assert manifest.generator["report_style"] == "archive"
    archive = load_samples(out)

    def studies(listed: list[Sample]) -> dict[str, tuple[Any, list[str]]]:
        found: dict[str, tuple[Any, list[str]]] = {}
        for sample in listed:
            key = f"{sample.source}/{sample.meta['study_id']}"
            found.setdefault(key, (sample.meta["findings"], []))[1].append(sample.task)
        return found

    # Same studies with the same truth and the same task families; the questions' wording
    # and option order follow the text generator, so they may differ.
    assert studies(archive) == studies(samples)
    for sample in archive:
        if sample.source != "phantom":
            assert "report_style" not in sample.meta
            continue
        assert sample.meta["report_style"] == "archive"
        claims = sample.meta["report_findings"]
        labels = {c["label"] for c in claims if c["status"] != "absent"}
        assert {f["label"] for f in sample.meta["findings"]} <= labels
        if sample.task == "temporal":
            assert sample.meta["prior_report_findings"]
            assert any(c.get("change") for c in claims)
    assert all("report_style" not in s.meta for s in samples)
    # The style changes the words, not the studies: current images are the same pixels.
    for path in sorted((out / "images").rglob("*.png")):
        if not path.stem.endswith("-prior"):
            assert path.read_bytes() == (bench / path.relative_to(out)).read_bytes(), path
    with pytest.raises(ConfigError, match="report style"):
        generate_demo(tmp_path / "bad", studies=2, report_style="mimic")  # type: ignore[arg-type]
