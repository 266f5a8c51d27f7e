"""Import the official RadRBench-CXR JSON release into a benchmark directory.

The release (HF dataset ``byrLLCC/RadRBench-CXR``) holds JSON lists of question objects
with absolute image paths from the authors' cluster. Images are not redistributed: paths
are re-rooted under the user's ``--image-root`` and the benchmark records that root.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from pathlib import Path, PurePosixPath
from typing import Any

from pydantic import ValidationError

from radrbench.data.benchmark import describe_validation_error, write_benchmark
from radrbench.data.schema import CHEXPERT_LABELS, Sample
from radrbench.errors import DataError

OFFICIAL_NAME = "radrbench-cxr"
OFFICIAL_VERSION = "1.0"
REASONING_SUFFIX = (
    "Let's think step by step. Enclose the reasoning within <think></think> "
    "and the answer within <answer></answer>."
)

_SOURCE_TAGS = {
    "mimic-cxr": "mimic-cxr",
    "mimic": "mimic-cxr",
    "chexpert": "chexpert",
    "ms-cxr-t": "ms-cxr-t",
    "ms-cxr-t-tic": "ms-cxr-t",
    "rsna": "rsna",
    "siim": "siim",
}
_FILE_SOURCES = {"mimic": "mimic-cxr", "chexpert": "chexpert", "rsna": "rsna", "siim": "siim"}
_ITEM_ID = re.compile(r"^\s*\[(?P<tag>[^\]]+)\]\s*\[(?P<study>[^\]]+)\]")
_OPTION_LINE = re.compile(r"(?:^|\s)([A-J])\)\s*(.+?)(?=\s+[A-J]\)\s|$)", re.S)
_ANSWER_TAG = re.compile(r"<answer>\s*(.*?)\s*</answer>", re.S | re.I)
_TARGET = re.compile(
    r"(?:progression of|show(?:s)?|signs? of|evidence of)\s+([a-z /\-]+?)\s*[?.]", re.I
)
_STEP_MARKER = re.compile(r"(?:^|\s)(?:Step\s*\d+\s*[:.)]|\d+[.)])\s+", re.I)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z(])")
_LABELS_LOWER = {label.lower(): label for label in CHEXPERT_LABELS} | {
    "effusion": "Pleural Effusion",
    "pulmonary edema": "Edema",
    "lesion": "Lung Lesion",
    "opacity": "Lung Opacity",
    "support device": "Support Devices",
    "normal": "No Finding",
}


def family_from_filename(path: Path) -> str:
    name = path.stem.lower()
    if "temporal" in name or "tic" in name.split("_"):
        return "temporal"
    if "multi" in name:
        return "multi_open" if "no_option" in name or "nooption" in name else "multi"
    for family in ("single", "binary", "anomaly"):
        if family in name:
            return family
    if "abnormal" in name or "normal" in name:
        return "anomaly"
    raise DataError(
        "cannot tell the task family from the file name",
        where=str(path),
        hint="official names look like mimic_binary_test_option.json; rename the file so it "
        "contains binary, single, multi (no_option), anomaly or temporal",
    )


def split_from_filename(path: Path) -> str:
    """'test' when the file or its folder is named as a test split, else 'train'."""
    words = re.split(r"[_\-.]", f"{path.parent.name}_{path.stem}".lower())
    return "test" if "test" in words else "train"


def source_of(item: dict[str, Any], path: Path) -> str:
    match = _ITEM_ID.match(str(item.get("item_id", "")))
    if match and match["tag"].strip().lower() in _SOURCE_TAGS:
        return _SOURCE_TAGS[match["tag"].strip().lower()]
    prefix = path.stem.lower().split("_")[0]
    if prefix in _FILE_SOURCES:
        return _FILE_SOURCES[prefix]
    if family_from_filename(path) == "temporal":
        return "ms-cxr-t"
    raise DataError(f"cannot tell the source from item_id {item.get('item_id')!r}", where=str(path))


def parse_options(question: str) -> dict[str, str] | None:
    """Options after 'Options:' as letter → text (None when the question has none)."""
    _, marker, tail = question.partition("Options:")
    if not marker:
        return None
    options = {m[1]: " ".join(m[2].split()).rstrip(",;") for m in _OPTION_LINE.finditer(tail)}
    return options or None


def parse_answer(raw: str) -> str:
    """'<answer> B </answer>' → 'B'; a plain value is returned stripped."""
    match = _ANSWER_TAG.search(raw)
    return (match[1] if match else raw).strip()


def split_steps(paragraph: str | list[str] | None) -> list[str] | None:
    """Split the ``reason_steps`` paragraph into steps (lines, numbered items or sentences)."""
    if not paragraph:
        return None
    if isinstance(paragraph, list):
        return [" ".join(str(step).split()) for step in paragraph if str(step).strip()] or None
    text = paragraph.replace("<think>", " ").replace("</think>", " ").strip()
    if "\n" in text.strip():
        parts = text.splitlines()
    elif len(_STEP_MARKER.findall(text)) >= 2:
        parts = _STEP_MARKER.split(text)
    else:
        parts = _SENTENCE_END.split(text)
    steps = [" ".join(part.split()) for part in parts]
    steps = [re.sub(r"^(?:Step\s*\d+\s*[:.)]|\d+[.)]|[-*•])\s*", "", s, flags=re.I) for s in steps]
    return [step for step in steps if step] or None


def canonical_label(text: str) -> str:
    key = " ".join(text.lower().split()).strip(" .")
    return _LABELS_LOWER.get(key, key.title())


def _findings(family: str, question: str, answer: str, answer_text: str) -> list[str]:
    if family in ("binary", "temporal"):
        match = _TARGET.search(question)
        return [canonical_label(match[1])] if match else []
    if family in ("single", "multi", "multi_open"):
        return [canonical_label(part) for part in answer_text.split(",") if part.strip()]
    return []


def _study_key(item: dict[str, Any]) -> str:
    match = _ITEM_ID.match(str(item.get("item_id", "")))
    raw = match["study"] if match else str(item.get("item_id", "item"))
    return re.sub(r"[^A-Za-z0-9._-]+", "-", raw).strip("-") or "item"


class ImageResolver:
    """Map official absolute paths onto files under the user's image root."""

    def __init__(self, root: Path):
        self.root = root.resolve()

    def resolve(self, official: str) -> str | None:
        """Longest trailing part of ``official`` that exists under the root, or None."""
        parts = PurePosixPath(official.replace("\\", "/")).parts
        for start in range(len(parts)):
            candidate = PurePosixPath(*parts[start:])
            if candidate.is_absolute():
                continue
            if (self.root / candidate).is_file():
                return candidate.as_posix()
        return None


def _convert_item(
    item: dict[str, Any], path: Path, index: int, resolver: ImageResolver, missing: list[str]
) -> dict[str, Any] | None:
    family = family_from_filename(path)
    source = source_of(item, path)
    question = str(item.get("question", "")).replace(REASONING_SUFFIX, "").strip()
    options = None if family == "multi_open" else parse_options(question)
    answer = parse_answer(str(item.get("answer", "")))
    answer_text = str(item.get("answer_content") or "").strip()
    if options and answer not in options:
        by_text = [k for k, v in options.items() if v.lower() == answer.lower()]
        answer = by_text[0] if len(by_text) == 1 else answer
    if family == "multi_open":
        answer = ", ".join(part.strip().lower() for part in answer.split(",") if part.strip())
        answer_text = answer_text or answer
    elif options and not answer_text:
        answer_text = options.get(answer, "")
    raw_paths = item.get("image_path") or []
    if isinstance(raw_paths, str):
        raw_paths = [raw_paths]
    images = []
    for position, raw in enumerate(raw_paths):
        rel = resolver.resolve(str(raw))
        if rel is None:
            missing.append(str(raw))
            continue
        role = "prior" if family == "temporal" and position == 0 else "current"
        images.append({"path": rel, "role": role})
    if len(images) != len(raw_paths):
        return None
    report = item.get("original_report")
    prior_report = None
    if family == "temporal":
        prior_report = item.get("original_report1")
        report = item.get("original_report2", report)
    digest = hashlib.sha1(question.encode()).hexdigest()[:8]
    return {
        "id": f"{source}-{_study_key(item)}-{family}-{digest}",
        "source": source,
        "task": family,
        "split": split_from_filename(path),
        "images": images,
        "question": question,
        "options": options,
        "answer": answer,
        "answer_text": answer_text,
        "findings": _findings(family, question, answer, answer_text),
        "reasoning": split_steps(item.get("reason_steps") or item.get("process")),
        "report": report or None,
        "prior_report": prior_report or None,
        "meta": {
            "item_id": item.get("item_id"),
            "dataset_name": item.get("dataset_name"),
            "official_file": path.name,
            "official_index": index,
            **({"plan": item["plan"]} if item.get("plan") else {}),
        },
    }


def _read_items(path: Path) -> list[Any]:
    if not path.is_file():
        raise DataError("file not found", where=str(path))
    try:
        items = json.loads(path.read_text("utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise DataError(f"not valid JSON ({error})", where=str(path)) from error
    if not isinstance(items, list):
        raise DataError("expected a JSON list of question objects", where=str(path))
    return items


def import_official(
    files: Iterable[Path], image_root: Path, out_dir: Path, *, skip_missing: bool = False
) -> list[Sample]:
    """Convert official JSON files into a benchmark directory at ``out_dir``."""
    files = list(files)
    if not image_root.is_dir():
        raise DataError("image root is not a directory", where=str(image_root))
    resolver = ImageResolver(image_root)
    samples: list[Sample] = []
    missing: list[str] = []
    problems: list[str] = []
    seen: dict[str, int] = {}
    for path in files:
        for index, item in enumerate(_read_items(path)):
            where = f"{path}[{index}]"
            if not isinstance(item, dict):
                problems.append(f"{where}: not a JSON object")
                continue
            record = _convert_item(item, path, index, resolver, missing)
            if record is None:
                continue
            seen[record["id"]] = seen.get(record["id"], 0) + 1
            if seen[record["id"]] > 1:
                record["id"] = f"{record['id']}-{seen[record['id']]}"
            try:
                samples.append(Sample.model_validate(record))
            except ValidationError as error:
                problems.append(f"{where}: {describe_validation_error(error)}")
    if problems:
        listed = "; ".join(problems[:10]) + (
            f"; … {len(problems) - 10} more" if len(problems) > 10 else ""
        )
        raise DataError(f"{len(problems)} malformed items: {listed}")
    if missing and not skip_missing:
        unique = sorted(set(missing))
        shown = ", ".join(unique[:5]) + (
            f", … and {len(unique) - 5} more" if len(unique) > 5 else ""
        )
        raise DataError(
            f"{len(unique)} images not found under the image root: {shown}",
            where=str(image_root),
            hint="point --image-root at the folder holding MIMIC-CXR-JPG/, CheXpert-v1.0-small/, "
            "RSNA and SIIM images, or pass --skip-missing to leave those samples out",
        )
    if not samples:
        raise DataError("no samples were imported", hint="check the input files")
    write_benchmark(
        out_dir,
        samples,
        name=OFFICIAL_NAME,
        version=OFFICIAL_VERSION,
        description="RadRBench-CXR imported from the official release",
        image_root=str(image_root.resolve()),
        generator={"importer": "official", "files": [Path(f).name for f in files]},
    )
    return samples
