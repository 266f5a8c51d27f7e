"""A tiny random Qwen2-VL built offline, for tests and the demo.

:func:`build_tiny_qwen2vl` writes a complete Hugging Face model directory of a few MB:
a byte-level BPE tokenizer trained on a built-in chest X-ray corpus and carrying Qwen2-VL's
special tokens and chat template, a ``Qwen2VLImageProcessor`` limited to small images, and
random weights. Two sizes share the tokenizer and processor: ``tiny`` (text: 2 layers, hidden
128; vision: 2 blocks, embed 128; 1.3M parameters) for tests and serving, and ``toy`` (text: 4
layers, hidden 256; vision: 4 blocks, embed 128; 5.8M parameters), which ``radrbench train demo``
trains. transformers, lm-eval's ``hf-multimodal`` and vLLM load them from a local path; nothing
is downloaded. Weights are a function of the seed and size; the tokenizer depends on neither.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from radrbench.errors import ConfigError

BUILDER_VERSION = 1
MARKER_FILE = ".radrbench-tiny-model.json"

SPECIAL_TOKENS = (
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|object_ref_start|>",
    "<|object_ref_end|>",
    "<|box_start|>",
    "<|box_end|>",
    "<|quad_start|>",
    "<|quad_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|vision_pad|>",
    "<|image_pad|>",
    "<|video_pad|>",
)

# Qwen2-VL's conversation format: a default system turn, <|im_start|>role ... <|im_end|> turns,
# each image as <|vision_start|><|image_pad|><|vision_end|> (the processor expands the pad).
CHAT_TEMPLATE = """\
{%- set seen = namespace(images=0, videos=0) -%}
{%- for message in messages -%}
  {%- if loop.first and message['role'] != 'system' -%}
    {{- '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' -}}
  {%- endif -%}
  {{- '<|im_start|>' + message['role'] + '\\n' -}}
  {%- if message['content'] is string -%}
    {{- message['content'] -}}
  {%- else -%}
    {%- for part in message['content'] -%}
      {%- if part['type'] in ('image', 'image_url') or 'image' in part or 'image_url' in part -%}
        {%- set seen.images = seen.images + 1 -%}
        {%- if add_vision_id -%}{{- 'Picture ' ~ seen.images ~ ': ' -}}{%- endif -%}
        {{- '<|vision_start|><|image_pad|><|vision_end|>' -}}
      {%- elif part['type'] == 'video' or 'video' in part -%}
        {%- set seen.videos = seen.videos + 1 -%}
        {%- if add_vision_id -%}{{- 'Video ' ~ seen.videos ~ ': ' -}}{%- endif -%}
        {{- '<|vision_start|><|video_pad|><|vision_end|>' -}}
      {%- elif 'text' in part -%}
        {{- part['text'] -}}
      {%- endif -%}
    {%- endfor -%}
  {%- endif -%}
  {{- '<|im_end|>\\n' -}}
{%- endfor -%}
{%- if add_generation_prompt -%}
  {{- '<|im_start|>assistant\\n' -}}
{%- endif -%}
"""

# Qwen2's pre-tokenisation: contractions, letter runs, single digits, punctuation, spaces.
_SPLIT_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}"
    r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)
_BPE_VOCAB_SIZE = 2048  # before the special tokens

# Images are resized to between 2x2 and 8x8 merged patches (56x56 to 224x224 pixels).
PATCH_SIZE = 14
MERGE_SIZE = 2
MIN_PIXELS = (PATCH_SIZE * MERGE_SIZE) ** 2 * 4
MAX_PIXELS = (PATCH_SIZE * MERGE_SIZE) ** 2 * 64

MAX_POSITION_EMBEDDINGS = 4096
TEXT_HIDDEN_SIZE = 128


@dataclass(frozen=True)
class ModelSize:
    """The shape of a built model (attention heads are 64 wide everywhere)."""

    text_hidden: int
    text_layers: int
    text_intermediate: int
    vision_depth: int
    vision_embed: int


SIZES = {
    "tiny": ModelSize(TEXT_HIDDEN_SIZE, 2, 256, 2, 128),
    "toy": ModelSize(256, 4, 1024, 4, 128),
}

_FINDINGS = (
    "cardiomegaly",
    "pleural effusion",
    "pneumothorax",
    "consolidation",
    "atelectasis",
    "pulmonary edema",
    "lung opacity",
    "nodule",
    "mass",
    "pneumonia",
    "fracture",
    "support device",
    "enlarged cardiomediastinum",
    "lung lesion",
    "pleural thickening",
    "hiatal hernia",
    "emphysema",
    "fibrosis",
    "granuloma",
    "calcification",
    "interstitial abnormality",
    "vascular congestion",
    "pneumomediastinum",
    "subcutaneous emphysema",
)
_PLACES = (
    "right upper lobe",
    "right middle lobe",
    "right lower lobe",
    "left upper lobe",
    "lingula",
    "left lower lobe",
    "right lung base",
    "left lung base",
    "right costophrenic angle",
    "left costophrenic angle",
    "left apex",
    "right apex",
    "retrocardiac region",
    "perihilar region",
    "both lungs",
    "mediastinum",
    "trachea",
    "aortic arch",
    "hemidiaphragm",
    "posterior ribs",
    "clavicle",
    "thoracic spine",
)
_DEGREES = (
    "small",
    "moderate",
    "large",
    "mild",
    "severe",
    "trace",
    "patchy",
    "subtle",
    "dense",
    "bilateral",
    "focal",
    "diffuse",
    "linear",
    "nodular",
    "reticular",
    "ill-defined",
    "well-circumscribed",
    "subsegmental",
    "layering",
    "loculated",
)
_CHANGES = (
    "improved",
    "worsened",
    "unchanged",
    "new",
    "resolved",
    "stable",
    "increased",
    "decreased",
)
_BOILERPLATE = (
    "The heart size is normal. The mediastinal and hilar contours are unremarkable.",
    "The lungs are clear. No focal consolidation, pleural effusion or pneumothorax.",
    "Frontal and lateral views of the chest were obtained.",
    "PA and AP radiographs; the patient is upright. The diaphragm is well defined.",
    "No acute cardiopulmonary process. Osseous structures are intact.",
    "An endotracheal tube terminates 4 cm above the carina; a nasogastric tube is in place.",
    "A right internal jugular central venous catheter, a PICC line, a pacemaker and sternotomy"
    " wires are seen. A chest tube is present.",
    "FINDINGS: IMPRESSION: COMPARISON: INDICATION: HISTORY: TECHNIQUE: EXAMINATION:",
    "Let's think step by step. Enclose the reasoning within <think></think> "
    "and the answer within <answer></answer>.",
    "Question: Options:\nA) yes\nB) no\nC) cannot be determined\nD) none of the above",
    "Which of the following findings is present? Select all that apply. What is the most likely"
    " diagnosis? Is this chest radiograph normal or abnormal? Answer with the option's letter.",
    "Compared with the prior image, the current image shows",
    "<think> First, look at the lungs, then the heart and the pleura. </think>"
    " <answer> A </answer>",
)


def _corpus() -> Iterator[str]:
    """The training text: report and prompt phrases, and every printable ASCII character."""
    yield from _BOILERPLATE
    yield "".join(chr(code) for code in range(32, 127))
    yield "0 1 2 3 4 5 6 7 8 9 10 20 50 100 cm mm %"
    for finding in _FINDINGS:
        yield f"Is there {finding}? There is no {finding}. No evidence of {finding}."
        for degree in _DEGREES:
            for place in _PLACES:
                yield f"There is a {degree} {finding} in the {place}."
        for change in _CHANGES:
            yield f"The {finding} is {change} compared with the prior study."


def _train_bpe() -> tuple[dict[str, int], list[tuple[str, str]]]:
    """Train Qwen2's byte-level BPE on the corpus; return the vocabulary (specials last), merges."""
    from tokenizers import Regex, Tokenizer, pre_tokenizers
    from tokenizers.models import BPE
    from tokenizers.trainers import BpeTrainer

    tokenizer = Tokenizer(BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(_SPLIT_PATTERN), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    trainer = BpeTrainer(
        vocab_size=_BPE_VOCAB_SIZE,
        show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tokenizer.train_from_iterator(_corpus(), trainer=trainer)
    model = json.loads(tokenizer.to_str())["model"]
    vocab: dict[str, int] = dict(model["vocab"])
    vocab.update({token: len(vocab) + index for index, token in enumerate(SPECIAL_TOKENS)})
    return vocab, [(left, right) for left, right in model["merges"]]


def _is_plain_text(text: str) -> bool:
    return text != "" and all(
        char == "\n" or (char.isascii() and char.isprintable()) for char in text
    )


def _write_processor(out_dir: Path) -> Any:
    """Save tokenizer, image and video processors and chat template; return the tokenizer."""
    from transformers import (
        Qwen2Tokenizer,
        Qwen2VLImageProcessor,
        Qwen2VLProcessor,
        Qwen2VLVideoProcessor,
    )

    vocab, merges = _train_bpe()
    tokenizer = Qwen2Tokenizer(
        vocab=vocab,
        merges=merges,  # type: ignore[arg-type]  # annotated as str, but BPE takes pairs
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        extra_special_tokens=list(SPECIAL_TOKENS),
        model_max_length=MAX_POSITION_EMBEDDINGS,
        clean_up_tokenization_spaces=False,
        split_special_tokens=False,
    )
    pixels: dict[str, Any] = {
        "min_pixels": MIN_PIXELS,
        "max_pixels": MAX_PIXELS,
        "patch_size": PATCH_SIZE,
        "merge_size": MERGE_SIZE,
        "temporal_patch_size": 2,
    }
    processor = Qwen2VLProcessor(  # type: ignore[no-untyped-call]
        image_processor=Qwen2VLImageProcessor(**pixels),
        tokenizer=tokenizer,
        video_processor=Qwen2VLVideoProcessor(**pixels),
        chat_template=CHAT_TEMPLATE,
    )
    processor.save_pretrained(out_dir)
    return tokenizer


def _model_config(token_ids: dict[str, int], vocab_size: int, size: ModelSize) -> Any:
    from transformers import Qwen2VLConfig

    return Qwen2VLConfig(
        text_config={
            "vocab_size": vocab_size,
            "hidden_size": size.text_hidden,
            "intermediate_size": size.text_intermediate,
            "num_hidden_layers": size.text_layers,
            "num_attention_heads": size.text_hidden // 64,
            "num_key_value_heads": size.text_hidden // 64,
            "max_position_embeddings": MAX_POSITION_EMBEDDINGS,
            "rope_parameters": {
                "rope_type": "default",
                # (t, h, w) split of head_dim / 2, as [16, 24, 24] is for Qwen2-VL's 128.
                "mrope_section": [8, 12, 12],
                "rope_theta": 1_000_000.0,
            },
            "bos_token_id": token_ids["<|endoftext|>"],
            "eos_token_id": token_ids["<|im_end|>"],
            "pad_token_id": token_ids["<|endoftext|>"],
            "dtype": "float32",
        },
        vision_config={
            "depth": size.vision_depth,
            "embed_dim": size.vision_embed,
            "num_heads": size.vision_embed // 64,
            "mlp_ratio": 2,
            "hidden_size": size.text_hidden,  # the merger projects into the text model
            "patch_size": PATCH_SIZE,
            "spatial_merge_size": MERGE_SIZE,
            "temporal_patch_size": 2,
        },
        image_token_id=token_ids["<|image_pad|>"],
        video_token_id=token_ids["<|video_pad|>"],
        vision_start_token_id=token_ids["<|vision_start|>"],
        vision_end_token_id=token_ids["<|vision_end|>"],
        tie_word_embeddings=False,
        dtype="float32",
    )


def _write_model(tokenizer: Any, out_dir: Path, seed: int, size: ModelSize) -> None:
    import torch
    from transformers import GenerationConfig, Qwen2VLForConditionalGeneration

    token_ids = {token: int(tokenizer.convert_tokens_to_ids(token)) for token in SPECIAL_TOKENS}
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = Qwen2VLForConditionalGeneration(_model_config(token_ids, len(tokenizer), size))
    # Zero logits for special tokens and for bytes that are not printable ASCII: greedy decoding
    # then always yields plain text of exactly max_new_tokens tokens.
    suppressed = [
        index
        for index in range(len(tokenizer))
        if index in token_ids.values() or not _is_plain_text(tokenizer.decode([index]))
    ]
    with torch.no_grad():
        model.lm_head.weight[suppressed] = 0.0
    model.generation_config = GenerationConfig(  # type: ignore[no-untyped-call]
        do_sample=False,
        bos_token_id=token_ids["<|endoftext|>"],
        eos_token_id=[token_ids["<|im_end|>"], token_ids["<|endoftext|>"]],
        pad_token_id=token_ids["<|endoftext|>"],
    )
    model.save_pretrained(out_dir)


def build_tiny_qwen2vl(out_dir: Path, *, seed: int = 0, size: str = "tiny") -> Path:
    """Write a random Qwen2-VL of ``size`` to ``out_dir`` (skipped when already built); return it.

    Raises ConfigError for an unknown size, when ``out_dir`` holds anything other than an
    earlier build, or when torch and transformers (the ``models`` extra) are not installed.
    """
    if size not in SIZES:
        raise ConfigError(f"unknown model size {size!r}", hint=f"choose one of {sorted(SIZES)}")
    out_dir = Path(out_dir)
    stamp: dict[str, Any] = {"builder_version": BUILDER_VERSION, "seed": seed}
    if size != "tiny":  # earlier tiny builds keep their stamp
        stamp["size"] = size
    marker = out_dir / MARKER_FILE
    if marker.is_file():
        if json.loads(marker.read_text()) == stamp:
            return out_dir
    elif out_dir.exists() and any(out_dir.iterdir()):
        raise ConfigError(
            "directory is not empty and holds no tiny model",
            where=str(out_dir),
            hint="choose a new or empty directory",
        )
    missing = [name for name in ("torch", "transformers") if find_spec(name) is None]
    if missing:
        raise ConfigError(
            f"the tiny model needs {' and '.join(missing)}",
            hint="pip install 'radrbench[models]'",
        )
    target = out_dir.resolve()
    work = target.with_name(f".{target.name}.building")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    _write_model(_write_processor(work), work, seed, SIZES[size])
    (work / MARKER_FILE).write_text(json.dumps(stamp) + "\n")
    shutil.rmtree(out_dir, ignore_errors=True)
    work.rename(out_dir)
    return out_dir
