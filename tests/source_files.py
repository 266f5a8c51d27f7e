"""Tiny source datasets in their native file formats (MIMIC-CXR-JPG, CheXpert + CheXpert
Plus, MS-CXR-T, RSNA, SIIM), written by the tests for ``radrbench build``."""

from __future__ import annotations

import csv
from pathlib import Path

from PIL import Image

from radrbench.data.schema import CHEXPERT_LABELS

# (labels, findings section, impression section): reports that agree with their labels.
PROFILES: list[tuple[dict[str, str], str, str]] = [
    (
        {"Cardiomegaly": "1.0", "Pleural Effusion": "1.0", "Pneumothorax": "0.0"},
        "The heart is enlarged. There is a moderate right pleural effusion. No pneumothorax.",
        "Cardiomegaly and right pleural effusion.",
    ),
    (
        {"No Finding": "1.0", "Pleural Effusion": "0.0", "Pneumothorax": "0.0"},
        "The lungs are clear. No pleural effusion or pneumothorax. Heart size is normal.",
        "No acute cardiopulmonary process.",
    ),
    (
        {"Atelectasis": "1.0", "Support Devices": "1.0", "Pleural Effusion": "1.0"},
        "Endotracheal tube in standard position. Left basilar atelectasis. Small left pleural "
        "effusion. No pneumothorax.",
        "Left basilar atelectasis and small left effusion.",
    ),
    (
        {"Pneumothorax": "1.0", "Edema": "-1.0", "Cardiomegaly": "0.0"},
        "Small right apical pneumothorax. Possible mild pulmonary edema. Heart size is normal.",
        "Small right pneumothorax.",
    ),
    (
        {"Consolidation": "1.0", "Lung Opacity": "1.0", "Pneumonia": "1.0", "Pneumothorax": "0.0"},
        "Right lower lobe consolidation. No pleural effusion. No pneumothorax.",
        "Right lower lobe pneumonia.",
    ),
    (
        {"No Finding": "1.0"},
        "Heart size is normal. The lungs are clear without consolidation or effusion.",
        "Normal chest radiograph.",
    ),
]


def image(path: Path, shade: int = 90) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("L", (32, 32), color=shade).save(path)


def _csv(path: Path, header: list[str], rows: list[list[str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def mimic_report(findings: str, impression: str) -> str:
    return (
        "                                 FINAL REPORT\n EXAMINATION:  CHEST (PA AND LAT)\n \n"
        " INDICATION:  ___ with cough.\n \n COMPARISON:  None.\n \n"
        f" FINDINGS: \n \n {findings}\n \n IMPRESSION: \n \n {impression}\n"
    )


def _mimic_study(root: Path, subject: str, study: str, dicom: str, profile: int) -> None:
    directory = root / f"files/p{subject[:2]}/p{subject}"
    image(directory / f"s{study}" / f"{dicom}.jpg", 60 + 10 * profile)
    _, findings, impression = PROFILES[profile % len(PROFILES)]
    report = root / "mimic-cxr-reports" / f"files/p{subject[:2]}/p{subject}/s{study}.txt"
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text(mimic_report(findings, impression), encoding="utf-8")


def write_mimic(root: Path, studies: int = 18) -> Path:
    """MIMIC-CXR-JPG: label, split and metadata CSVs, JPEGs (a PA and a lateral) and reports."""
    label_rows, split_rows, meta_rows = [], [], []
    for i in range(studies):
        subject, study = f"1{i:07d}", f"5{i:07d}"
        labels = PROFILES[i % len(PROFILES)][0]
        label_rows.append([subject, study, *(labels.get(label, "") for label in CHEXPERT_LABELS)])
        split = "train" if i % 6 == 5 else "test"
        for dicom, view in ((f"d{i}pa", "PA"), (f"d{i}lat", "LATERAL")):
            split_rows.append([dicom, study, subject, split])
            meta_rows.append([dicom, subject, study, view])
        _mimic_study(root, subject, study, f"d{i}pa", i)
        image(root / f"files/p{subject[:2]}/p{subject}/s{study}/d{i}lat.jpg")
    _csv(
        root / "mimic-cxr-2.0.0-chexpert.csv",
        ["subject_id", "study_id", *CHEXPERT_LABELS],
        label_rows,
    )
    _csv(
        root / "mimic-cxr-2.0.0-split.csv",
        ["dicom_id", "study_id", "subject_id", "split"],
        split_rows,
    )
    _csv(
        root / "mimic-cxr-2.0.0-metadata.csv",
        ["dicom_id", "subject_id", "study_id", "ViewPosition"],
        meta_rows,
    )
    return root


def write_chexpert(root: Path, studies: int = 12) -> Path:
    """CheXpert-v1.0-small train/valid CSVs with JPEGs, and the CheXpert Plus report table."""
    header = ["Path", "Sex", "Age", "Frontal/Lateral", "AP/PA", *CHEXPERT_LABELS]
    tables: dict[str, list[list[str]]] = {"train": [], "valid": []}
    plus = []
    for i in range(studies):
        split = "train" if i % 4 == 3 else "valid"
        labels, findings, impression = PROFILES[i % len(PROFILES)]
        study = f"{split}/patient{i:05d}/study1"
        values = [labels.get(label, "") for label in CHEXPERT_LABELS]
        for view, kind in (("view1_frontal", "Frontal"), ("view2_lateral", "Lateral")):
            rel = f"CheXpert-v1.0-small/{study}/{view}.jpg"
            tables[split].append(
                [rel, "Female", "60", kind, "AP" if kind == "Frontal" else "", *values]
            )
            image(root / rel, 50 + 10 * (i % 6))
            plus.append([f"{study}/{view}.jpg", findings, impression, f"FINDINGS: {findings}"])
    for split, rows in tables.items():
        _csv(root / "CheXpert-v1.0-small" / f"{split}.csv", header, rows)
    _csv(
        root / "df_chexpert_plus_240401.csv",
        ["path_to_image", "section_findings", "section_impression", "report"],
        plus,
    )
    return root


MS_CXR_T_COLUMNS = [
    "consolidation_progression",
    "edema_progression",
    "pleural_effusion_progression",
    "pneumonia_progression",
    "pneumothorax_progression",
]


def write_ms_cxr_t(root: Path, pairs: int = 6) -> Path:
    """MS-CXR-T progression CSV over MIMIC-CXR-JPG images and reports of both studies."""
    rows = []
    changes = ["stable", "worsening", "improving"]
    for i in range(pairs):
        subject, study, prior = f"1{i:07d}", f"5{i:07d}", f"4{i:07d}"
        _mimic_study(root, subject, study, f"c{i}", 0)
        _mimic_study(root, subject, prior, f"p{i}", 2)
        values = ["", "", changes[i % 3], "", ""]
        rows.append([f"c{i}", f"p{i}", subject, study, prior, *values])
    _csv(
        root / "MS_CXR_T_temporal_image_classification_v1.0.0.csv",
        [
            "dicom_id",
            "previous_dicom_id",
            "subject_id",
            "study_id",
            "previous_study_id",
            *MS_CXR_T_COLUMNS,
        ],
        rows,
    )
    return root


def write_rsna(root: Path, cases: int = 8) -> Path:
    """RSNA ``stage_2_train_labels.csv`` (two boxes per positive) and PNGs named by patientId."""
    rows = []
    for i in range(cases):
        patient = f"0004cfab-14fd-4e49-80ba-63a80b6bdd{i:02d}"
        if i % 2:
            rows += [
                [patient, "264", "152", "213", "379", "1"],
                [patient, "562", "152", "256", "453", "1"],
            ]
        else:
            rows.append([patient, "", "", "", "", "0"])
        image(root / "stage_2_train_images" / f"{patient}.png")
    _csv(
        root / "stage_2_train_labels.csv",
        ["patientId", "x", "y", "width", "height", "Target"],
        rows,
    )
    return root


def write_siim(root: Path, cases: int = 8) -> Path:
    """SIIM ``train-rle.csv`` (note the space before EncodedPixels) and PNGs named by ImageId."""
    rows = []
    for i in range(cases):
        image_id = f"1.2.276.0.7230010.3.1.4.8323329.{1000 + i}.1517875166.8{i:05d}"
        rows.append([image_id, "387620 23 996 33 986 43" if i % 2 else "-1"])
        image(root / "png_images" / f"{image_id}.png")
    _csv(root / "train-rle.csv", ["ImageId", " EncodedPixels"], rows)
    return root


WRITERS = {
    "mimic-cxr": write_mimic,
    "chexpert": write_chexpert,
    "ms-cxr-t": write_ms_cxr_t,
    "rsna": write_rsna,
    "siim": write_siim,
}
