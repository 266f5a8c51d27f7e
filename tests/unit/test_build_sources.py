"""radrbench build: native source files → questions with the paper's sampling rules."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from radrbench.data.benchmark import load_samples
from radrbench.data.schema import Sample
from radrbench.data.validate import validate_benchmark
from radrbench.errors import ConfigError, DataError
from radrbench.sources.builder import build_benchmark
from radrbench.sources.questions import FINDINGS, SamplingOptions
from radrbench.sources.readers import read_chexpert, read_mimic
from radrbench.sources.reports import section_report
from tests.source_files import WRITERS, mimic_report, write_chexpert, write_mimic


@pytest.mark.parametrize("source", list(WRITERS))
def test_every_source_builds_a_valid_benchmark(source: str, tmp_path: Path) -> None:
    WRITERS[source](tmp_path / "src")
    manifest = build_benchmark(source, tmp_path / "src", tmp_path / "out", SamplingOptions())
    report = validate_benchmark(tmp_path / "out")
    assert report.ok, report.problems
    assert manifest.n_samples == len(report.samples) > 0
    assert set(manifest.counts["source"]) == {source}
    assert manifest.image_root == str((tmp_path / "src").resolve())
    assert not (tmp_path / "out" / "images").exists()  # images are never copied


def test_mimic_reads_labels_split_view_and_sectioned_report(tmp_path: Path) -> None:
    studies = {s.study_id: s for s in read_mimic(write_mimic(tmp_path))}
    study = studies["50000000"]
    assert study.image.path == "files/p10/p10000000/s50000000/d0pa.jpg"  # the PA view
    assert study.image.view == "PA" and study.split == "test"
    assert study.status("Cardiomegaly") == "present" and study.status("Edema") == "absent"
    assert studies["50000003"].status("Edema") == "uncertain"
    assert studies["50000005"].split == "train"
    assert study.report is not None and study.report.startswith("FINDINGS: The heart is enlarged")
    assert "INDICATION" not in study.report and "IMPRESSION: Cardiomegaly" in study.report


def test_chexpert_uses_frontal_images_and_chexpert_plus_reports(tmp_path: Path) -> None:
    studies = read_chexpert(write_chexpert(tmp_path))
    assert len(studies) == 12
    assert all(s.image.path.endswith("view1_frontal.jpg") for s in studies)
    assert Counter(s.split for s in studies) == {"test": 9, "train": 3}
    assert all(s.report and s.report.startswith("FINDINGS: ") for s in studies)


def _built(tmp_path: Path, seed: int = 0) -> list[Sample]:
    root = tmp_path / "src"
    if not root.exists():
        write_mimic(root, studies=36)
    out = tmp_path / f"out{seed}"
    build_benchmark("mimic-cxr", root, out, SamplingOptions(seed=seed))
    return load_samples(out)


def test_binary_is_balanced_per_finding(tmp_path: Path) -> None:
    samples = [s for s in _built(tmp_path) if s.task == "binary"]
    per_finding = Counter((s.findings[0], s.answer) for s in samples)
    for finding in FINDINGS:
        assert per_finding[(finding, "A")] == per_finding[(finding, "B")]
    assert per_finding[("Pleural Effusion", "A")] > 0
    for sample in samples:  # uncertain labels are never asked about
        assert sample.meta["labels"].get(sample.findings[0]) != -1.0


def test_single_multi_and_anomaly_follow_the_sampling_rules(tmp_path: Path) -> None:
    samples = _built(tmp_path)
    for sample in samples:
        labels = sample.meta["labels"]
        if sample.task == "single":
            assert sample.options is not None and len(sample.options) == 4
            statuses = [labels.get(text) for text in sample.options.values()]
            assert statuses.count(1.0) == 1 and labels.get(sample.answer_text) == 1.0
            assert -1.0 not in statuses
        if sample.task == "multi":
            assert sample.options is not None and len(sample.options) == 4
            sets = [text.split(", ") for text in sample.options.values()]
            assert len({len(s) for s in sets}) == 1 and len(set(map(tuple, sets))) == 4
            assert sample.options[sample.answer].split(", ") == sample.findings
        if sample.task == "multi_open":
            assert sample.options is None
            assert sample.answer == ", ".join(f.lower() for f in sample.findings)
    anomaly = Counter(s.answer for s in samples if s.task == "anomaly")
    assert anomaly["A"] == anomaly["B"] > 0
    assert {s.task for s in samples} == {"binary", "single", "multi", "multi_open", "anomaly"}


def test_sampling_is_seeded(tmp_path: Path) -> None:
    first = [s.model_dump_json() for s in _built(tmp_path, seed=3)]
    rebuilt = tmp_path / "rebuilt"
    build_benchmark("mimic-cxr", tmp_path / "src", rebuilt, SamplingOptions(seed=3))
    assert [s.model_dump_json() for s in load_samples(rebuilt)] == first
    other = [s.model_dump_json() for s in _built(tmp_path, seed=4)]
    assert other != first


def test_caps_limit_each_family(tmp_path: Path) -> None:
    root = write_mimic(tmp_path / "src", studies=36)
    build_benchmark("mimic-cxr", root, tmp_path / "out", SamplingOptions(per_finding=1, per_task=2))
    counts = Counter(s.task for s in load_samples(tmp_path / "out"))
    assert counts["single"] == 2 and counts["multi"] <= 2 and counts["anomaly"] == 2
    binary = Counter(s.findings[0] for s in load_samples(tmp_path / "out") if s.task == "binary")
    assert set(binary.values()) == {2}


def test_temporal_has_prior_and_current_images_and_reports(tmp_path: Path) -> None:
    WRITERS["ms-cxr-t"](tmp_path / "src")
    build_benchmark("ms-cxr-t", tmp_path / "src", tmp_path / "out", SamplingOptions())
    samples = load_samples(tmp_path / "out")
    assert Counter(s.answer_text for s in samples) == {"stable": 2, "worsening": 2, "improving": 2}
    for sample in samples:
        assert [i.role for i in sample.ordered_images()] == ["prior", "current"]
        assert sample.report and sample.prior_report and sample.findings == ["Pleural Effusion"]


def test_missing_images_fail_in_one_message_or_are_skipped(tmp_path: Path) -> None:
    root = write_mimic(tmp_path / "src")
    (root / "files/p10/p10000000/s50000000/d0pa.jpg").unlink()
    with pytest.raises(DataError, match=r"1 image files are missing: files/p10/.*d0pa\.jpg"):
        build_benchmark("mimic-cxr", root, tmp_path / "out", SamplingOptions())
    build_benchmark("mimic-cxr", root, tmp_path / "out", SamplingOptions(), skip_missing=True)
    assert not any("50000000" in s.id for s in load_samples(tmp_path / "out"))


def test_a_label_file_without_its_columns_is_one_clear_error(tmp_path: Path) -> None:
    root = WRITERS["rsna"](tmp_path / "src")
    (root / "stage_2_train_labels.csv").write_text("patient,Target\nx,1\n")
    with pytest.raises(DataError, match=r"missing columns \['patientId'\]"):
        build_benchmark("rsna", root, tmp_path / "out", SamplingOptions())


def test_rsna_and_siim_are_balanced_binary_without_reports(tmp_path: Path) -> None:
    for source, label in (("rsna", "Pneumonia"), ("siim", "Pneumothorax")):
        WRITERS[source](tmp_path / source)
        build_benchmark(source, tmp_path / source, tmp_path / f"{source}-out", SamplingOptions())
        samples = load_samples(tmp_path / f"{source}-out")
        assert Counter(s.answer for s in samples) == {"A": 4, "B": 4}
        assert all(s.findings == [label] and s.report is None for s in samples)


def test_report_sections() -> None:
    sections = section_report(mimic_report("Heart size is normal.", "No acute process."))
    assert (sections.findings, sections.impression) == (
        "Heart size is normal.",
        "No acute process.",
    )
    inline = section_report("INDICATION: cough. FINDINGS: Clear lungs. IMPRESSION: Normal.")
    assert inline.text == "FINDINGS: Clear lungs. IMPRESSION: Normal."
    assert section_report("Lungs are clear.").findings == "Lungs are clear."
    combined = section_report("EXAMINATION: Chest. FINDINGS AND IMPRESSION: No effusion.")
    assert (combined.findings, combined.impression) == ("No effusion.", "")
    only = section_report("COMPARISON: None. IMPRESSION: No pneumothorax.")
    assert (only.findings, only.impression) == ("", "No pneumothorax.")


def test_built_files_are_plain_jsonl(tmp_path: Path) -> None:
    WRITERS["siim"](tmp_path / "src")
    build_benchmark("siim", tmp_path / "src", tmp_path / "out", SamplingOptions())
    first = json.loads((tmp_path / "out" / "samples.jsonl").read_text().splitlines()[0])
    assert first["question"].endswith("Options:\nA) Yes\nB) No")


def test_chexpert_root_may_be_the_dataset_folder_itself(tmp_path: Path) -> None:
    write_chexpert(tmp_path)
    studies = read_chexpert(
        tmp_path / "CheXpert-v1.0-small", tmp_path / "df_chexpert_plus_240401.csv"
    )
    assert all(s.image.path.startswith(("train/patient", "valid/patient")) for s in studies)
    assert all(s.report for s in studies)


def test_unknown_source_and_missing_root_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown source 'padchest'"):
        build_benchmark("padchest", tmp_path, tmp_path / "out", SamplingOptions())
    with pytest.raises(DataError, match="not a directory"):
        build_benchmark("rsna", tmp_path / "nowhere", tmp_path / "out", SamplingOptions())
