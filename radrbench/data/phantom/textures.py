"""Per-scanner texture bank: noise fields, vessel trees and skeletons, built once per process.

Images cut windows out of the bank (noise at a random offset, anatomy shifted onto the
patient), which keeps rendering to a few array operations. The bank depends only on the
scanner geometry, so output never depends on which process rendered an image.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np
import numpy.typing as npt
from PIL import Image

from radrbench.data.phantom.geometry import Array, Canvas, f32
from radrbench.data.phantom.skeleton import body as body_of
from radrbench.data.phantom.skeleton import bones, standard_anatomy, vessel_tree
from radrbench.data.phantom.truth import RIB_SPACINGS

PAD = 40  # output pixels of margin around every texture
_SEED = 20250429
_TREES = 4


@dataclass(frozen=True)
class Bank:
    static: dict[float, Array]  # body soft tissue and bones, by rib spacing
    noise_weight: Array  # where noise shows: fully over the body, a little in the air
    noise: Array  # grain and mottle, scaled for the scanner
    patch: Array  # mid-frequency noise in [0, 1] for patchy opacities
    vessels: tuple[Array, ...]  # lung markings (attenuation units)
    soft_vessels: tuple[Array, ...]  # the same trees, blurred (edema)


@cache
def bank(size: int, zoom: float, shift: tuple[float, float], grain: float, mottle: float) -> Bank:
    """The bank of one scanner (see :meth:`Canvas.make`), padded by ``PAD`` on every side."""
    rng = np.random.default_rng(_SEED)
    big = Canvas.make(size + 2 * PAD, zoom * size / (size + 2 * PAD), shift)

    def noise(cell: int) -> Array:
        return smooth_noise(rng, big.size, cell)

    anatomy = standard_anatomy()
    soft_tissue, body = body_of(big, anatomy)
    static = {s: soft_tissue + bones(big, standard_anatomy(s)) for s in RIB_SPACINGS}
    texture = grain * noise(1) + mottle * noise(size // 12)
    patch = np.clip(0.5 + 0.3 * noise(size // 50), 0.0, 1.0)
    trees = [vessel_tree(big, anatomy, rng) for _ in range(_TREES)]
    sharp = tuple(tree * np.float32(0.5) for tree, _ in trees)
    soft = tuple(tree * np.float32(0.5) for _, tree in trees)
    result = Bank(static, 0.2 + 0.8 * body, texture, patch, sharp, soft)
    for array in (*static.values(), *sharp, *soft, result.noise_weight, texture, patch):
        array.setflags(write=False)  # shared by every image (and thread): never modified
    return result


def smooth_noise(rng: np.random.Generator, size: int, cell: int) -> Array:
    """Unit-variance noise that varies over ``cell`` pixels (a bicubic-upsampled coarse grid)."""
    if cell <= 1:
        return rng.standard_normal((size, size), np.float32)
    count = size // cell + 4
    coarse = Image.fromarray(rng.standard_normal((count, count), np.float32))
    fine = np.asarray(coarse.resize((count * cell, count * cell), Image.Resampling.BICUBIC))
    field = fine[2 * cell : 2 * cell + size, 2 * cell : 2 * cell + size]
    return f32((field - field.mean()) / field.std())


def window(texture: npt.NDArray[np.generic], canvas: Canvas, dx: float, dy: float) -> Array:
    """The part of a bank texture under ``canvas`` when its content moves by canonical (dx, dy)."""
    left = PAD - int(np.clip(round(dx * canvas.scale), -PAD, PAD))
    top = PAD - int(np.clip(round(dy * canvas.scale), -PAD, PAD))
    return texture[top : top + canvas.size, left : left + canvas.size].astype(
        np.float32, copy=False
    )


def noise_window(texture: Array, canvas: Canvas, rng: np.random.Generator) -> Array:
    """A random window of a noise field."""
    dx, dy = (float(v) for v in rng.uniform(-PAD, PAD, 2) / canvas.scale)
    return window(texture, canvas, dx, dy)
