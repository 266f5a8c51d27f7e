from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from radrbench.cli import main
from radrbench.data.benchmark import load_samples
from radrbench.data.official import parse_options, split_steps
from radrbench.data.validate import validate_benchmark

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "official"
FILES = sorted(FIXTURES.rglob("*.json"))
IMAGES = [
    "MIMIC-CXR-JPG/files/p10/p10000001/s50000001/view1.jpg",
    "MIMIC-CXR-JPG/files/p10/p10000001/s50000001/view2.jpg",
    "MIMIC-CXR-JPG/files/p11/p11000002/s51000001/prior.jpg",
    "MIMIC-CXR-JPG/files/p11/p11000002/s51000002/current.jpg",
    "CheXpert-v1.0-small/valid/patient64541/study1/view1_frontal.jpg",
    "CheXpert-v1.0-small/train/patient00007/study2/view1_frontal.jpg",
]


@pytest.fixture
def image_root(tmp_path: Path) -> Path:
    root = tmp_path / "physionet"
    for rel in IMAGES:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        Image.new("L", (16, 16), 90).save(root / rel, format="JPEG")
    return root


def test_import_all_shapes(tmp_path: Path, image_root: Path) -> None:
    out = tmp_path / "bench"
    assert (
        main(
            [
                "data",
                "import-official",
                *map(str, FILES),
                "--image-root",
                str(image_root),
                "--out",
                str(out),
            ]
        )
        == 0
    )
    samples = {s.task + ("-" + s.split): s for s in load_samples(out)}
    assert validate_benchmark(out).ok

    binary = [s for s in load_samples(out) if s.task == "binary"]
    assert [s.answer for s in binary] == ["A", "B"]  # plain letter and <answer> B </answer>
    assert binary[0].source == "mimic-cxr" and binary[0].findings == ["Pleural Effusion"]
    assert binary[1].options == {"A": "Yes", "B": "No"}
    assert "Let's think" not in binary[1].question
    assert len(binary[1].images) == 2
    assert binary[1].reasoning == [
        "The pleural lines are not displaced.",
        "Lung markings reach the chest wall on both sides.",
        "There is no pneumothorax.",
    ]

    multi_open = samples["multi_open-test"]
    assert multi_open.options is None and multi_open.source == "chexpert"
    assert multi_open.answer_labels == ["cardiomegaly", "edema", "pleural effusion"]
    assert multi_open.reasoning is not None and len(multi_open.reasoning) == 3

    temporal = samples["temporal-test"]
    assert temporal.source == "ms-cxr-t" and temporal.answer == "B"
    assert [i.role for i in temporal.images] == ["prior", "current"]
    assert temporal.images[0].path.endswith("prior.jpg")
    assert temporal.prior_report and "congestion" in temporal.prior_report
    assert temporal.report and "increased" in temporal.report
    assert temporal.findings == ["Edema"]

    single = samples["single-train"]
    assert single.answer == "C" and single.answer_text == "pneumothorax"
    assert single.reasoning is not None and single.reasoning[0].startswith("A visceral pleural")
    assert len(single.reasoning) == 4 and single.meta["plan"]


def test_missing_images_listed_together(
    tmp_path: Path, image_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for rel in IMAGES[:3]:
        (image_root / rel).unlink()
    code = main(
        [
            "data",
            "import-official",
            *map(str, FILES),
            "--image-root",
            str(image_root),
            "--out",
            str(tmp_path / "out"),
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert "3 images not found" in err
    assert "view1.jpg" in err and "view2.jpg" in err and "prior.jpg" in err
    assert not (tmp_path / "out").exists()

    assert (
        main(
            [
                "data",
                "import-official",
                *map(str, FILES),
                "--image-root",
                str(image_root),
                "--out",
                str(tmp_path / "out"),
                "--skip-missing",
            ]
        )
        == 0
    )
    assert len(load_samples(tmp_path / "out")) == 2


def test_bad_json_file(
    tmp_path: Path, image_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "mimic_binary_test_option.json"
    bad.write_text("{not json")
    code = main(
        [
            "data",
            "import-official",
            str(bad),
            "--image-root",
            str(image_root),
            "--out",
            str(tmp_path / "o"),
        ]
    )
    assert code == 2 and "not valid JSON" in capsys.readouterr().err


def test_parse_options_and_steps() -> None:
    assert parse_options("Q? Options: A) Yes B) No") == {"A": "Yes", "B": "No"}
    assert parse_options("Which findings? Options:\nA) edema, atelectasis\nB) none") == {
        "A": "edema, atelectasis",
        "B": "none",
    }
    assert parse_options("Which findings are in this chest X-ray?") is None
    assert split_steps("First. Second one! Third?") == ["First.", "Second one!", "Third?"]
    assert split_steps(["a", " ", "b"]) == ["a", "b"]
    assert split_steps("") is None
