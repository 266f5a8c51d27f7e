"""Image decoding and the one resizing function every model-facing path uses."""

from __future__ import annotations

import math
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from radrbench.errors import DataError

# Models resize again with their own processors (Qwen2-VL to multiples of 28, the paper's
# training used 448x448); this cap only bounds what is decoded and sent (MIMIC-CXR JPEGs
# are ~3000x2500). Images within it, like the phantom's 512x512, go through untouched.
DEFAULT_MAX_PIXELS = 512 * 512


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


def resize_for_model(image: Image.Image, max_pixels: int = DEFAULT_MAX_PIXELS) -> Image.Image:
    """Downscale (never upscale) to at most ``max_pixels``, keeping the aspect ratio.

    Every path to a model (in-process ``doc_to_image`` and the images sent to servers) uses
    this, so all engines see the same pixels.
    """
    width, height = image.size
    if width * height <= max_pixels:
        return image
    scale = math.sqrt(max_pixels / (width * height))
    new_w, new_h = max(1, int(width * scale)), max(1, int(height * scale))
    return image.resize((new_w, new_h), Image.Resampling.BICUBIC)
