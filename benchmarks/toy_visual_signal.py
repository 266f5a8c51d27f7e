"""How much of the toy's task the images carry, and how much of it a trained toy model uses.

For a demo directory of ``radrbench train demo`` (its phantom benchmark and models):

1. **Pixel-linear reference**: per finding, a logistic regression on the raw pixels of the
   training images (``--pixels`` square, grey) predicts the finding; its answers to the test
   binary questions give an accuracy that a model seeing only those images could reach with
   no reasoning at all. It is a reference, not an upper bound: a better image model can beat it.
2. **Base model** (``OUT/models/base``, pretrained to list findings): per finding, the share of
   test images whose generated list is right about it, next to always answering the majority.
3. **Image use** (``--model``, default the SFT model): mean loss of the true chain and answer
   with the question's own image and with another study's image. A model that reads the image
   finds its own image's chain likelier; equal losses mean the answer comes from text alone.

Usage: python benchmarks/toy_visual_signal.py --demo runs/train-demo [--pixels 64] [--model DIR]
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from radrbench.data.benchmark import image_root, load_samples
from radrbench.data.images import open_image
from radrbench.data.schema import Sample
from radrbench.tasks.prompts import get_profile
from radrbench.training.data import FINDINGS_PROMPT, prompt_messages, target_text

FINDINGS = (
    "atelectasis",
    "cardiomegaly",
    "consolidation",
    "edema",
    "lung lesion",
    "lung opacity",
    "pleural effusion",
    "pneumothorax",
    "support devices",
)
IMAGE_SIZE = 112  # the toy recipes' image_size


def _labels(sample: Sample) -> set[str]:
    return {str(item["label"]).lower() for item in sample.meta.get("findings", [])}


def _images(samples: list[Sample]) -> dict[str, set[str]]:
    """Current image -> its finding labels, for single-image phantom samples."""
    out: dict[str, set[str]] = {}
    for sample in samples:
        if sample.source == "phantom" and len(sample.images) == 1:
            out[sample.images[0].path] = _labels(sample)
    return out


def _asked(sample: Sample) -> str:
    return sample.question.split("show ", 1)[1].split("?", 1)[0].lower()


def pixel_linear(bench: Path, pixels: int) -> dict[str, Any]:
    from sklearn.linear_model import LogisticRegression

    root = image_root(bench)
    train, test = _images(load_samples(bench, "train")), _images(load_samples(bench, "test"))

    def matrix(paths: list[str]) -> np.ndarray:
        rows = [
            np.asarray(open_image(root / p).convert("L").resize((pixels, pixels)), np.float32)
            for p in paths
        ]
        return np.stack(rows).reshape(len(paths), -1) / 255.0

    train_paths, test_paths = sorted(train), sorted(test)
    x_train, x_test = matrix(train_paths), matrix(test_paths)
    questions = [
        s for s in load_samples(bench, "test") if s.task == "binary" and s.source == "phantom"
    ]
    per_finding: dict[str, float] = {}
    correct = 0
    for finding in FINDINGS:
        y = np.array([finding in train[p] for p in train_paths])
        model = LogisticRegression(C=0.05, max_iter=3000, class_weight="balanced")
        predicted = dict(zip(test_paths, model.fit(x_train, y).predict(x_test), strict=True))
        asked = [q for q in questions if _asked(q) == finding]
        right = sum(predicted[q.images[0].path] == (q.answer == "A") for q in asked)
        correct += right
        per_finding[finding] = round(right / max(1, len(asked)), 3)
    majority = sum(q.answer == "B" for q in questions) / len(questions)
    return {
        "train_images": len(train_paths),
        "test_questions": len(questions),
        "accuracy": round(correct / len(questions), 3),
        "always_no": round(majority, 3),
        "per_finding": per_finding,
    }


def base_findings(bench: Path, model_dir: Path, limit: int = 160) -> dict[str, Any]:
    import torch
    from transformers import AutoModelForImageTextToText, AutoProcessor

    root = image_root(bench)
    images = list(_images(load_samples(bench, "test")).items())[:limit]
    model = AutoModelForImageTextToText.from_pretrained(model_dir).eval()
    processor = AutoProcessor.from_pretrained(model_dir)
    processor.tokenizer.padding_side = "left"
    right: dict[str, int] = defaultdict(int)
    present: dict[str, int] = defaultdict(int)
    messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": ""}]}]
    messages[0]["content"][1]["text"] = FINDINGS_PROMPT
    text = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    for start in range(0, len(images), 16):
        batch = images[start : start + 16]
        inputs = processor(
            text=[text] * len(batch),
            images=[open_image(root / path) for path, _ in batch],
            padding=True,
            return_tensors="pt",
            min_pixels=IMAGE_SIZE**2,
            max_pixels=IMAGE_SIZE**2,
        )
        with torch.inference_mode():
            out = model.generate(**inputs, max_new_tokens=32, do_sample=False)
        lists = processor.batch_decode(out[:, inputs["input_ids"].shape[1] :], True)
        for (_, truth), listed in zip(batch, lists, strict=True):
            for finding in FINDINGS:
                right[finding] += (finding in listed.lower()) == (finding in truth)
                present[finding] += finding in truth
    n = len(images)
    return {
        "images": n,
        "per_finding": {
            f: {"right": round(right[f] / n, 3), "majority": round(1 - present[f] / n, 3)}
            for f in FINDINGS
        },
    }


def image_use(bench: Path, model_dir: Path, limit: int = 64) -> dict[str, float]:
    import torch
    from transformers import AutoModelForImageTextToText, AutoProcessor

    root = image_root(bench)
    model = AutoModelForImageTextToText.from_pretrained(model_dir).eval()
    processor = AutoProcessor.from_pretrained(model_dir)
    profile = get_profile("radrbench")
    questions = [
        s for s in load_samples(bench, "test") if s.task == "binary" and s.source == "phantom"
    ][:limit]
    half = len(questions) // 2  # the other image: a question half the list away
    others = questions[half:] + questions[:half]

    def loss(sample: Sample, image: str) -> float:
        prompt = processor.apply_chat_template(
            prompt_messages(sample, profile), add_generation_prompt=True, tokenize=False
        )
        kwargs: dict[str, Any] = {
            "images": [open_image(root / image)],
            "return_tensors": "pt",
            "min_pixels": IMAGE_SIZE**2,
            "max_pixels": IMAGE_SIZE**2,
        }
        head = processor(text=[prompt], **kwargs)["input_ids"].shape[1]
        full = processor(text=[prompt + target_text(sample) + "<|im_end|>"], **kwargs)
        labels = full["input_ids"].clone()
        labels[:, :head] = -100
        with torch.inference_mode():
            return float(model(**full, labels=labels).loss)

    own = [loss(q, q.images[0].path) for q in questions]
    swapped = [loss(q, o.images[0].path) for q, o in zip(questions, others, strict=True)]
    return {
        "questions": len(questions),
        "own_image": float(np.mean(own)),
        "other_image": float(np.mean(swapped)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--demo", type=Path, default=Path("runs/train-demo"))
    parser.add_argument("--pixels", type=int, default=64)
    parser.add_argument("--model", type=Path, help="model for the image-use check (default: sft)")
    args = parser.parse_args()
    bench = args.demo / "bench"
    figures = {
        "pixel_linear": pixel_linear(bench, args.pixels),
        "base_findings": base_findings(bench, args.demo / "models" / "base"),
        "image_use": image_use(bench, args.model or args.demo / "models" / "sft"),
    }
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
