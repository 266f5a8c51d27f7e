"""The data-use guard stops credentialed samples before anything is sent."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from tests.conftest import run_cli
from tests.unit.test_official_import import FILES, IMAGES


def test_mimic_samples_refused_for_the_public_openai_api(tmp_path: Path) -> None:
    root = tmp_path / "physionet"
    for rel in IMAGES:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        Image.new("L", (16, 16), 90).save(root / rel, format="JPEG")
    bench = tmp_path / "bench"
    imported = run_cli(
        "data", "import-official", *map(str, FILES), "--image-root", str(root), "--out", str(bench)
    )
    assert imported.returncode == 0, imported.stderr
    args = [
        "eval",
        "--endpoint",
        "https://api.openai.com/v1",
        "--model",
        "gpt-4o",
        "--tasks",
        "radrbench_mimic_binary",
        "--data",
        str(bench),
        "--out",
        str(tmp_path / "r"),
    ]
    refused = run_cli(*args, env={"OPENAI_API_KEY": ""})
    assert refused.returncode == 2
    assert "refusing to send mimic-cxr samples to api.openai.com" in refused.stderr
    assert "--i-understand-data-use" in refused.stderr and "Traceback" not in refused.stderr
    assert not (tmp_path / "r" / "requests.jsonl").exists()
