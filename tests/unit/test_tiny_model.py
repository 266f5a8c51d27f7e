"""The tiny random Qwen2-VL: offline loading, generation with images, determinism."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from radrbench.dev.tiny_model import MARKER_FILE, build_tiny_qwen2vl
from radrbench.errors import ConfigError

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")


@pytest.fixture(scope="module")
def loaded(tiny_qwen2vl: Path) -> tuple[Any, Any]:
    processor = transformers.AutoProcessor.from_pretrained(tiny_qwen2vl, local_files_only=True)
    model = transformers.AutoModelForImageTextToText.from_pretrained(
        tiny_qwen2vl, local_files_only=True
    )
    return processor, model.eval()


def _image(seed: int, width: int = 120, height: int = 100) -> Image.Image:
    pixels = (np.random.default_rng(seed).random((height, width)) * 255).astype(np.uint8)
    return Image.fromarray(pixels, "L")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _generate(
    processor: Any, model: Any, parts: list[str | None], images: list[Image.Image]
) -> str:
    content = [{"type": "image"} if p is None else {"type": "text", "text": p} for p in parts]
    prompt = processor.apply_chat_template(
        [{"role": "user", "content": content}], add_generation_prompt=True
    )
    inputs = processor(text=[prompt], images=images, return_tensors="pt")
    pads = int((inputs["input_ids"] == model.config.image_token_id).sum())
    assert pads == int(inputs["image_grid_thw"].prod(dim=1).sum()) // 4
    with torch.no_grad():
        output = model.generate(**inputs, max_new_tokens=12)
    new_tokens = output[0, inputs["input_ids"].shape[1] :]
    assert len(new_tokens) == 12  # greedy, no special tokens: always runs to the limit
    text: str = processor.decode(new_tokens, skip_special_tokens=True)
    return text


def test_directory_is_small_and_complete(tiny_qwen2vl: Path) -> None:
    files = {path.name for path in tiny_qwen2vl.iterdir()}
    assert {
        "config.json",
        "generation_config.json",
        "model.safetensors",
        "tokenizer.json",
        "tokenizer_config.json",
        "processor_config.json",
        "chat_template.jinja",
        MARKER_FILE,
    } <= files
    assert sum(path.stat().st_size for path in tiny_qwen2vl.iterdir()) < 20 * 2**20


def test_config_matches_tokenizer(tiny_qwen2vl: Path, loaded: tuple[Any, Any]) -> None:
    processor, model = loaded
    tokenizer, config = processor.tokenizer, model.config
    ids = tokenizer.convert_tokens_to_ids
    assert config.image_token_id == ids("<|image_pad|>")
    assert config.video_token_id == ids("<|video_pad|>")
    assert config.vision_start_token_id == ids("<|vision_start|>")
    assert config.vision_end_token_id == ids("<|vision_end|>")
    assert config.text_config.vocab_size == len(tokenizer)
    assert 1000 <= len(tokenizer) <= 4096
    assert config.text_config.hidden_size // config.text_config.num_attention_heads == 64
    assert config.vision_config.embed_dim // config.vision_config.num_heads == 64
    assert tokenizer.eos_token == "<|im_end|>"
    assert model.generation_config.do_sample is False


def test_chat_template_renders_qwen_format(loaded: tuple[Any, Any]) -> None:
    processor, _ = loaded
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "Effusion?"}]},
        {"role": "assistant", "content": "No."},
        {"role": "user", "content": "Sure?"},
    ]
    assert processor.apply_chat_template(messages, add_generation_prompt=True) == (
        "<|im_start|>system\nBe brief.<|im_end|>\n"
        "<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|>Effusion?<|im_end|>\n"
        "<|im_start|>assistant\nNo.<|im_end|>\n"
        "<|im_start|>user\nSure?<|im_end|>\n"
        "<|im_start|>assistant\n"
    )
    default_system = processor.apply_chat_template([{"role": "user", "content": "Hi"}])
    assert default_system.startswith("<|im_start|>system\nYou are a helpful assistant.<|im_end|>")


def test_generates_with_one_and_two_images(loaded: tuple[Any, Any]) -> None:
    processor, model = loaded
    one = _generate(processor, model, [None, "Is there a pleural effusion?"], [_image(1)])
    two = _generate(
        processor,
        model,
        ["Prior: ", None, " Current: ", None, " Has it improved?"],
        [_image(2), _image(3, 200, 160)],
    )
    assert one.strip() and two.strip()
    assert one.isascii() and two.isascii()


def test_build_is_idempotent_and_guards_other_directories(
    tiny_qwen2vl: Path, tmp_path: Path
) -> None:
    before = (tiny_qwen2vl / "model.safetensors").stat().st_mtime_ns
    assert build_tiny_qwen2vl(tiny_qwen2vl) == tiny_qwen2vl
    assert (tiny_qwen2vl / "model.safetensors").stat().st_mtime_ns == before
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match="holds no tiny model"):
        build_tiny_qwen2vl(tmp_path)


def test_same_seed_same_weights(tiny_qwen2vl: Path, tmp_path: Path) -> None:
    again = build_tiny_qwen2vl(tmp_path / "again", seed=0)
    other = build_tiny_qwen2vl(tmp_path / "other", seed=1)
    weights = _sha256(tiny_qwen2vl / "model.safetensors")
    assert _sha256(again / "model.safetensors") == weights
    assert _sha256(other / "model.safetensors") != weights
    assert _sha256(other / "tokenizer.json") == _sha256(tiny_qwen2vl / "tokenizer.json")


def test_toy_size_is_larger_and_shares_the_tokenizer(tiny_qwen2vl: Path, tmp_path: Path) -> None:
    toy = build_tiny_qwen2vl(tmp_path / "toy", size="toy")
    config = json.loads((toy / "config.json").read_text())
    assert config["text_config"]["num_hidden_layers"] == 4
    assert config["text_config"]["hidden_size"] == 256
    assert config["vision_config"]["hidden_size"] == 256  # the merger feeds the text model
    assert _sha256(toy / "tokenizer.json") == _sha256(tiny_qwen2vl / "tokenizer.json")
    assert build_tiny_qwen2vl(toy, size="toy") == toy  # rebuilt only when the stamp differs
    with pytest.raises(ConfigError, match="unknown model size"):
        build_tiny_qwen2vl(tmp_path / "huge", size="huge")


def test_lm_eval_hf_multimodal_generates_with_two_images(tiny_qwen2vl: Path) -> None:
    hf_vlms = pytest.importorskip("lm_eval.models.hf_vlms")
    from lm_eval.api.instance import Instance

    lm = hf_vlms.HFMultimodalLM(pretrained=str(tiny_qwen2vl), max_images=2, device="cpu")
    context = lm.apply_chat_template(
        [{"role": "user", "content": "Prior: <image> Current: <image> Has it improved?"}]
    )
    assert context.count("<|vision_start|><|image_pad|><|vision_end|>") == 2
    request = Instance(
        request_type="generate_until",
        doc={},
        arguments=(
            context,
            {"until": ["</answer>"], "max_gen_toks": 8},
            {"visual": [_image(4), _image(5)]},
        ),
        idx=0,
    )
    [text] = lm.generate_until([request])
    assert text.strip()
