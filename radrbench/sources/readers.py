"""Readers of the source datasets in their native layouts, each giving :class:`Study` records.

- MIMIC-CXR-JPG: ``mimic-cxr-2.0.0-chexpert.csv[.gz]``, ``mimic-cxr-2.0.0-split.csv[.gz]``,
  optional ``mimic-cxr-2.0.0-metadata.csv[.gz]`` (view positions), images
  ``files/pXX/pSUBJECT/sSTUDY/DICOM.jpg`` and the MIMIC-CXR reports
  ``[mimic-cxr-reports/]files/pXX/pSUBJECT/sSTUDY.txt``.
- CheXpert: ``CheXpert-v1.0-small/{train,valid}.csv`` and the CheXpert Plus report table
  ``df_chexpert_plus_*.csv`` (``path_to_image``, ``section_findings``, ``section_impression``).
- MS-CXR-T: ``MS_CXR_T_temporal_image_classification_v1.0.0.csv`` over MIMIC-CXR-JPG images.
- RSNA pneumonia: ``stage_2_train_labels.csv`` (``patientId``, box, ``Target``).
- SIIM pneumothorax: ``train-rle.csv`` (``ImageId``, ``EncodedPixels``; ``-1`` = none).

Labels follow CheXpert's coding: 1 present, 0 absent, -1 uncertain, blank not mentioned.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd  # type: ignore[import-untyped]  # no stubs installed

from radrbench.data.schema import CHEXPERT_LABELS, ImageRef
from radrbench.errors import DataError
from radrbench.sources.reports import Sections, section_report

BUILD_SOURCES = ("mimic-cxr", "chexpert", "ms-cxr-t", "rsna", "siim")
PROGRESSIONS = ("stable", "worsening", "improving")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
_FRONTAL = ("PA", "AP")
# MS-CXR-T progression columns and the CheXpert label each one is about.
MS_CXR_T_FINDINGS = {
    "consolidation_progression": "Consolidation",
    "edema_progression": "Edema",
    "pleural_effusion_progression": "Pleural Effusion",
    "pneumonia_progression": "Pneumonia",
    "pneumothorax_progression": "Pneumothorax",
}


@dataclass(frozen=True)
class Study:
    """One imaging study: its image, CheXpert-coded labels, report and split."""

    source: str
    study_id: str
    split: str
    image: ImageRef
    labels: dict[str, float] = field(default_factory=dict)
    """Label → 1.0 / 0.0 / -1.0; labels not mentioned are left out."""
    report: str | None = None
    meta: dict[str, str] = field(default_factory=dict)

    def status(self, label: str) -> str:
        """``present``, ``absent``, ``uncertain`` (not mentioned counts as absent)."""
        value = self.labels.get(label)
        return {1.0: "present", -1.0: "uncertain"}.get(value, "absent")  # type: ignore[arg-type]


@dataclass(frozen=True)
class Progression:
    """One MS-CXR-T pair: how a finding changed from the prior to the current study."""

    study_id: str
    finding: str
    progression: str
    prior: ImageRef
    current: ImageRef
    report: str | None
    prior_report: str | None


def _find(root: Path, names: Iterable[str], what: str, hint: str) -> Path:
    for name in names:
        for candidate in (root / name, *sorted(root.glob(f"*/{name}"))):
            if candidate.is_file():
                return candidate
    raise DataError(f"{what} not found", where=str(root), hint=hint)


def _read_csv(path: Path, columns: Iterable[str]) -> pd.DataFrame:
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, ValueError, pd.errors.ParserError) as error:
        raise DataError(f"cannot read CSV: {error}", where=str(path)) from error
    frame.columns = [str(c).strip() for c in frame.columns]
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataError(f"missing columns {missing}", where=str(path))
    return frame


def _labels(row: pd.Series) -> dict[str, float]:
    labels: dict[str, float] = {}
    for label in CHEXPERT_LABELS:
        raw = str(row.get(label, "")).strip()
        if raw:
            try:
                value = float(raw)
            except ValueError:
                continue
            if not math.isnan(value):
                labels[label] = value
    return labels


# --- MIMIC-CXR ------------------------------------------------------------------------------


def _mimic_dir(subject: str, study: str) -> str:
    return f"files/p{subject[:2]}/p{subject}/s{study}"


def _mimic_report(root: Path, subject: str, study: str) -> str | None:
    for base in (root / "mimic-cxr-reports", root):
        path = base / f"{_mimic_dir(subject, study)}.txt"
        if path.is_file():
            return path.read_text(encoding="utf-8", errors="replace")
    return None


def _sectioned(text: str | None) -> str | None:
    if not text:
        return None
    return section_report(text).text or None


def read_mimic(root: Path) -> list[Study]:
    """MIMIC-CXR-JPG studies with their frontal image, labels, split and report."""
    hint = "point --root at the MIMIC-CXR-JPG folder (with files/ and the label CSVs)"
    names = ("mimic-cxr-2.0.0-{}.csv", "mimic-cxr-2.0.0-{}.csv.gz")
    labels = _read_csv(
        _find(root, [n.format("chexpert") for n in names], "the CheXpert label CSV", hint),
        ["subject_id", "study_id"],
    )
    split = _read_csv(
        _find(root, [n.format("split") for n in names], "the split CSV", hint),
        ["dicom_id", "study_id", "subject_id", "split"],
    )
    views: dict[str, str] = {}
    try:
        meta_path = _find(root, [n.format("metadata") for n in names], "metadata", hint)
    except DataError:
        pass
    else:
        meta = _read_csv(meta_path, ["dicom_id", "ViewPosition"])
        views = dict(zip(meta["dicom_id"], meta["ViewPosition"], strict=True))
    images: dict[str, tuple[str, str, str]] = {}  # study → (dicom, split, view)
    for row in split.itertuples(index=False):
        view = views.get(row.dicom_id, "")
        known = images.get(row.study_id)
        if known is None or (view in _FRONTAL and known[2] not in _FRONTAL):
            images[row.study_id] = (row.dicom_id, row.split, view)
    studies = []
    for _, row in labels.iterrows():
        subject, study = str(row["subject_id"]), str(row["study_id"])
        if study not in images:
            continue
        dicom, split_name, view = images[study]
        studies.append(
            Study(
                source="mimic-cxr",
                study_id=study,
                split=split_name,
                image=ImageRef(path=f"{_mimic_dir(subject, study)}/{dicom}.jpg", view=view or None),
                labels=_labels(row),
                report=_sectioned(_mimic_report(root, subject, study)),
                meta={"subject_id": subject},
            )
        )
    return studies


# --- CheXpert -------------------------------------------------------------------------------


def _chexpert_dir(root: Path) -> tuple[Path, Path]:
    """(folder with train.csv/valid.csv, image root their ``Path`` column is relative to)."""
    for folder in (root / "CheXpert-v1.0-small", root / "CheXpert-v1.0", root):
        if (folder / "train.csv").is_file() or (folder / "valid.csv").is_file():
            return folder, folder.parent
    raise DataError(
        "CheXpert train.csv / valid.csv not found",
        where=str(root),
        hint="point --root at the folder holding CheXpert-v1.0-small/",
    )


def _chexpert_reports(root: Path, reports: Path | None) -> dict[str, Sections]:
    if reports is None:
        found = sorted(root.glob("df_chexpert_plus*.csv")) + sorted(
            root.glob("*/df_chexpert_plus*.csv")
        )
        if not found:
            return {}
        reports = found[0]
    table = _read_csv(reports, ["path_to_image", "section_findings", "section_impression"])
    return {
        _chexpert_key(row.path_to_image): Sections(
            " ".join(row.section_findings.split()), " ".join(row.section_impression.split())
        )
        for row in table.itertuples(index=False)
    }


def _chexpert_key(path: str) -> str:
    """``CheXpert-v1.0-small/train/patient1/study1/view1.jpg`` → ``train/patient1/study1``."""
    parts = path.strip("/").split("/")
    while parts and parts[0] not in ("train", "valid", "test"):
        parts = parts[1:]
    return "/".join(parts[:3])


def read_chexpert(root: Path, reports: Path | None = None) -> list[Study]:
    """CheXpert studies (first frontal image) with labels and CheXpert Plus reports.

    ``train.csv`` gives the ``train`` split; ``valid.csv`` (radiologist-labelled) ``test``.
    """
    folder, image_root = _chexpert_dir(root)
    texts = _chexpert_reports(root, reports)
    studies: dict[str, Study] = {}
    for name, split in (("train.csv", "train"), ("valid.csv", "test")):
        if not (folder / name).is_file():
            continue
        table = _read_csv(folder / name, ["Path", "Frontal/Lateral"])
        for _, row in table.iterrows():
            key = _chexpert_key(str(row["Path"]))
            if key in studies or str(row["Frontal/Lateral"]).strip() != "Frontal":
                continue
            try:
                rel = (image_root / str(row["Path"])).relative_to(root).as_posix()
            except ValueError:
                raise DataError(
                    f"image path {row['Path']!r} is not below the root", where=str(folder / name)
                ) from None
            sections = texts.get(key)
            studies[key] = Study(
                source="chexpert",
                study_id=key.replace("/", "-"),
                split=split,
                image=ImageRef(path=rel, view=str(row.get("AP/PA", "")).strip() or None),
                labels=_labels(row),
                report=(sections.text or None) if sections else None,
            )
    return list(studies.values())


# --- MS-CXR-T -------------------------------------------------------------------------------


def read_ms_cxr_t(root: Path, labels: Path | None = None) -> list[Progression]:
    """MS-CXR-T progression labels over MIMIC-CXR-JPG images (``--root``) and reports."""
    path = labels or _find(
        root,
        [
            "MS_CXR_T_temporal_image_classification_v1.0.0.csv",
            "MS_CXR_T_temporal_image_classification_v1.0.0.csv.gz",
        ],
        "the MS-CXR-T progression CSV",
        "put it under --root or pass --labels FILE",
    )
    columns = ["dicom_id", "previous_dicom_id", "subject_id", "study_id", "previous_study_id"]
    table = _read_csv(path, columns)
    pairs = []
    for row in table.itertuples(index=False):
        subject = str(row.subject_id)
        current = ImageRef(path=f"{_mimic_dir(subject, row.study_id)}/{row.dicom_id}.jpg")
        prior = ImageRef(
            path=f"{_mimic_dir(subject, row.previous_study_id)}/{row.previous_dicom_id}.jpg",
            role="prior",
        )
        report = _sectioned(_mimic_report(root, subject, row.study_id))
        prior_report = _sectioned(_mimic_report(root, subject, row.previous_study_id))
        for column, finding in MS_CXR_T_FINDINGS.items():
            value = str(getattr(row, column, "") or "").strip().lower()
            if value in PROGRESSIONS:
                pairs.append(
                    Progression(row.study_id, finding, value, prior, current, report, prior_report)
                )
    return pairs


# --- RSNA and SIIM --------------------------------------------------------------------------


def _image_index(root: Path) -> dict[str, str]:
    """File stem → path relative to ``root`` for every PNG/JPEG below it."""
    index: dict[str, str] = {}
    for path in sorted(root.rglob("*")):
        if path.suffix.lower() in IMAGE_SUFFIXES:
            index.setdefault(path.stem, path.relative_to(root).as_posix())
    return index


def _binary_studies(
    root: Path, source: str, label: str, rows: dict[str, bool], where: Path
) -> list[Study]:
    index = _image_index(root)
    missing = [key for key in rows if key not in index]
    if missing and len(missing) == len(rows):
        raise DataError(
            f"no PNG/JPEG image for any of the {len(rows)} {source} cases (e.g. {missing[0]})",
            where=str(where),
            hint="convert the DICOM files to PNG named after the image id (ID.png) under --root",
        )
    return [
        Study(
            source=source,
            study_id=key,
            split="test",
            image=ImageRef(path=index[key]),
            labels={label: 1.0 if positive else 0.0},
        )
        for key, positive in rows.items()
        if key in index
    ]


def read_rsna(root: Path) -> list[Study]:
    """RSNA pneumonia cases (``Target`` 1 on any row = pneumonia); images ``ID.png|jpg``."""
    path = _find(root, ["stage_2_train_labels.csv"], "stage_2_train_labels.csv", "see docs")
    table = _read_csv(path, ["patientId", "Target"])
    rows: dict[str, bool] = {}
    for row in table.itertuples(index=False):
        rows[row.patientId] = rows.get(row.patientId, False) or row.Target.strip() == "1"
    return _binary_studies(root, "rsna", "Pneumonia", rows, path)


def read_siim(root: Path) -> list[Study]:
    """SIIM pneumothorax cases (an RLE mask = pneumothorax, ``-1`` = none)."""
    path = _find(root, ["train-rle.csv", "stage_2_train.csv"], "train-rle.csv", "see docs")
    table = _read_csv(path, ["ImageId", "EncodedPixels"])
    rows: dict[str, bool] = {}
    for row in table.itertuples(index=False):
        rows[row.ImageId] = rows.get(row.ImageId, False) or row.EncodedPixels.strip() != "-1"
    return _binary_studies(root, "siim", "Pneumothorax", rows, path)
