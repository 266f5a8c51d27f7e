"""The benchmark directory: ``samples.jsonl`` + images + ``manifest.json``."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from radrbench import __version__
from radrbench.data.schema import ImageRef, Manifest, Sample
from radrbench.errors import DataError

if TYPE_CHECKING:
    import datasets

SAMPLES_FILE = "samples.jsonl"
MANIFEST_FILE = "manifest.json"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def count_samples(samples: Iterable[Sample]) -> dict[str, dict[str, int]]:
    """Counts per source, task and split (the manifest's ``counts``)."""
    counters: dict[str, Counter[str]] = {"source": Counter(), "task": Counter(), "split": Counter()}
    for sample in samples:
        counters["source"][sample.source] += 1
        counters["task"][sample.task] += 1
        counters["split"][sample.split] += 1
    return {key: dict(sorted(counter.items())) for key, counter in counters.items()}


def sample_to_json(sample: Sample) -> str:
    return json.dumps(sample.model_dump(mode="json", exclude_none=True), ensure_ascii=False)


def write_benchmark(
    out_dir: Path,
    samples: list[Sample],
    *,
    name: str,
    version: str,
    description: str = "",
    image_root: str = "images",
    generator: dict[str, Any] | None = None,
) -> Manifest:
    """Write ``samples.jsonl`` and a manifest with counts and checksums.

    Images must already be in place; those under ``out_dir`` are checksummed.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    samples_path = out_dir / SAMPLES_FILE
    with samples_path.open("w", encoding="utf-8") as handle:
        for sample in samples:
            handle.write(sample_to_json(sample) + "\n")
    checksums = {SAMPLES_FILE: sha256_file(samples_path)}
    root = out_dir / image_root
    if root.resolve().is_relative_to(out_dir.resolve()):
        for path in sorted({ref.path for sample in samples for ref in sample.images}):
            if (root / path).is_file():
                checksums[f"{image_root}/{path}"] = sha256_file(root / path)
    manifest = Manifest(
        name=name,
        version=version,
        description=description,
        image_root=image_root,
        generator={"radrbench": __version__, **(generator or {})},
        n_samples=len(samples),
        counts=count_samples(samples),
        checksums=checksums,
    )
    (out_dir / MANIFEST_FILE).write_text(manifest.model_dump_json(indent=2) + "\n", "utf-8")
    return manifest


def read_manifest(bench_dir: Path) -> Manifest:
    path = bench_dir / MANIFEST_FILE
    if not path.is_file():
        raise DataError(
            "not a benchmark directory (no manifest.json)",
            where=str(bench_dir),
            hint="create one with 'radrbench data demo' or 'radrbench data import-official'",
        )
    try:
        return Manifest.model_validate_json(path.read_text("utf-8"))
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "(root)"
        raise DataError(f"field {field}: {first['msg']}", where=str(path)) from error


def image_root(bench_dir: Path, manifest: Manifest | None = None) -> Path:
    """Absolute directory that image paths of the benchmark are relative to."""
    manifest = manifest or read_manifest(bench_dir)
    return (bench_dir / manifest.image_root).resolve()


def describe_validation_error(error: ValidationError) -> str:
    """Compress a pydantic error into 'field: message; field: message'."""
    parts = []
    for item in error.errors():
        field = ".".join(str(part) for part in item["loc"]) or "(sample)"
        message = item["msg"].removeprefix("Value error, ")
        parts.append(f"field {field}: {message}")
    return "; ".join(parts)


def parse_sample_line(line: str, where: str) -> Sample:
    """Parse one JSONL line, raising ``DataError`` naming ``where`` (file:line)."""
    return validate_sample(_json_record(line, where), where)


def _json_record(line: str, where: str) -> dict[str, Any]:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as error:
        message = f"malformed JSON ({error.msg} at column {error.colno})"
        raise DataError(message, where=where) from error
    if not isinstance(record, dict):
        raise DataError("line is not a JSON object", where=where)
    return record


def validate_sample(record: dict[str, Any], where: str) -> Sample:
    try:
        return Sample.model_validate(record)
    except ValidationError as error:
        raise DataError(describe_validation_error(error), where=where) from error


def iter_samples(bench_dir: Path, select: Mapping[str, str] | None = None) -> Iterator[Sample]:
    """Yield samples in file order; the first malformed line raises ``DataError``.

    ``select`` keeps only records whose fields have the given values, checked before a
    record is validated (reading one task of a large benchmark validates only that task).
    """
    path = bench_dir / SAMPLES_FILE
    if not path.is_file():
        raise DataError(
            f"{SAMPLES_FILE} is missing",
            where=str(bench_dir),
            hint="run 'radrbench data validate' on the directory",
        )
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            where = f"{path}:{number}"
            record = _json_record(line, where)
            if select and any(record.get(k) != v for k, v in select.items()):
                continue
            yield validate_sample(record, where)


def load_samples(bench_dir: Path, split: str | None = None) -> list[Sample]:
    return [s for s in iter_samples(bench_dir) if split is None or s.split == split]


# --- datasets view ------------------------------------------------------------------------------


def row_features() -> datasets.Features:
    import datasets

    string = datasets.Value("string")
    return datasets.Features(
        {
            "id": string,
            "source": string,
            "task": string,
            "split": string,
            "images": [{"path": string, "role": string, "view": string}],
            "question": string,
            "options": [{"letter": string, "text": string}],
            "answer": string,
            "answer_text": string,
            "findings": [string],
            "reasoning": [string],
            "report": string,
            "prior_report": string,
            "meta": string,
        }
    )


def sample_to_row(sample: Sample) -> dict[str, Any]:
    """Flatten a sample into an Arrow-friendly row (options as a list, meta as JSON)."""
    row = sample.model_dump(mode="json")
    row["images"] = [ref.model_dump() for ref in sample.images]
    row["options"] = [{"letter": k, "text": v} for k, v in (sample.options or {}).items()]
    row["meta"] = json.dumps(sample.meta, sort_keys=True)
    return row


def sample_from_row(row: dict[str, Any]) -> Sample:
    """Inverse of :func:`sample_to_row` (also accepts lm-eval docs: extra columns are ignored)."""
    record = {key: value for key, value in row.items() if key in Sample.model_fields}
    record["images"] = [
        ImageRef(**{k: v for k, v in ref.items() if v is not None}) for ref in row["images"]
    ]
    record["options"] = {o["letter"]: o["text"] for o in row["options"]} or None
    record["meta"] = json.loads(row["meta"]) if row.get("meta") else {}
    return Sample.model_validate(record)


def load_dataset(bench_dir: Path, split: str | None = None) -> datasets.DatasetDict:
    """Load a benchmark as a ``datasets.DatasetDict`` keyed by split (images stay paths)."""
    import datasets

    by_split: dict[str, list[dict[str, Any]]] = {}
    for sample in load_samples(bench_dir, split):
        by_split.setdefault(sample.split, []).append(sample_to_row(sample))
    features = row_features()
    return datasets.DatasetDict(
        {
            name: datasets.Dataset.from_list(rows, features=features)
            for name, rows in by_split.items()
        }
    )
