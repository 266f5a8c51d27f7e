"""Image decoding and the one resizing function every model-facing path uses."""

from __future__ import annotations

import math
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from radrbench.errors import DataError

# Qwen2-VL and most CXR models work on at most ~448x448-ish inputs; keep aspect ratio.
DEFAULT_MAX_PIXELS = 448 * 448


def open_image(path: Path) -> Image.Image:
    """Decode an image file fully (so corrupt data fails here) and return it as RGB."""
    if not path.is_file():
        raise DataError("image file is missing", where=str(path), hint="check the image root")
    try:
        with Image.open(path) as handle:
            handle.load()
            return handle.convert("RGB")
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        raise DataError(
            f"image cannot be decoded ({error})",
            where=str(path),
            hint="re-export the file or regenerate the benchmark",
        ) from error


def resize_for_model(
    image: Image.Image, max_pixels: int = DEFAULT_MAX_PIXELS, multiple: int = 28
) -> Image.Image:
    """Downscale (never upscale) to at most ``max_pixels``, sides rounded to ``multiple``.

    28 is Qwen2-VL's patch (14) times its spatial merge (2); other models accept it too.
    """
    width, height = image.size
    scale = min(1.0, math.sqrt(max_pixels / (width * height)))
    new_w = max(multiple, int(width * scale) // multiple * multiple)
    new_h = max(multiple, int(height * scale) // multiple * multiple)
    if (new_w, new_h) == (width, height):
        return image
    return image.resize((new_w, new_h), Image.Resampling.BICUBIC)
