"""The phantom demo generator: coverage, validity, determinism, text-truth agreement, pixels."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from radrbench.data.benchmark import MANIFEST_FILE, SAMPLES_FILE, load_samples, sha256_file
from radrbench.data.images import open_image
from radrbench.data.phantom import generate_demo
from radrbench.data.phantom.render import SCANNERS, render
from radrbench.data.phantom.truth import Finding, Study, sample_anatomy
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
