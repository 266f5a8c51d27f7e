"""Render a phantom study as a chest-radiograph-like 8-bit grayscale image.

Attenuation adds up (body soft tissue, heart, bones, fluid, devices) minus lung air; an
exposure curve maps it to brightness, so air is dark, soft tissue grey, bone and fluid bright.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageFilter

from radrbench.data.phantom import pathology
from radrbench.data.phantom.geometry import Array, Canvas, Lung, Scene, ellipse, ramp, segment
from radrbench.data.phantom.skeleton import standard_anatomy
from radrbench.data.phantom.textures import Bank, bank, noise_window, window
from radrbench.data.phantom.truth import Study


@dataclass(frozen=True)
class Scanner:
    """Acquisition and post-processing of one (imaginary) center."""

    size: int = 512
    zoom: float = 1.0  # > 1 narrows the field of view
    shift: tuple[float, float] = (0.0, 0.0)
    gamma: float = 1.0
    window: tuple[float, float] = (0.0, 1.0)  # of the exposure, mapped to black..white
    grain: float = 0.025
    mottle: float = 0.035
    sharpen: bool = False


SCANNERS: dict[str, Scanner] = {
    "phantom": Scanner(),
    "phantom-rsna": Scanner(
        size=448, zoom=0.86, shift=(0.0, 14.0), gamma=0.72, window=(0.08, 1.0), grain=0.05,
        mottle=0.07,
    ),
    "phantom-siim": Scanner(
        size=512, zoom=1.12, shift=(0.0, -8.0), gamma=1.6, window=(0.05, 0.9), grain=0.015,
        mottle=0.02, sharpen=True,
    ),
}  # fmt: skip


@cache
def _curve(gamma: float, low: float, high: float) -> npt.NDArray[np.uint8]:
    """Lookup table from quantised attenuation (1/400 steps) to 8-bit brightness."""
    attenuation = np.arange(2048, dtype=np.float64) / 400.0
    exposure = 1.0 - np.exp(-1.25 * attenuation)
    level = np.clip((exposure - low) / (high - low), 0.0, 1.0) ** gamma
    return np.round(level * 255.0).astype(np.uint8)


def _heart(scene: Scene, study: Study) -> tuple[slice, slice, Array]:
    """Cardiac silhouette on its bounding box (the lung behind it is thinner)."""
    anatomy, canvas = scene.anatomy, scene.canvas
    width = study.ctr * 2.0 * anatomy.thorax
    right, left = 0.36 * width, 0.64 * width
    radii = (width / 2.0, 0.3 * width + 30.0)
    center = (anatomy.mid + (left - right) / 2.0, anatomy.dome_left + 14.0 - 0.8 * radii[1])
    rows = canvas.span(canvas.ys, center[1] - radii[1] - 4, center[1] + radii[1] + 4)
    cols = canvas.span(canvas.xs, center[0] - radii[0] - 50, center[0] + radii[0] + 50)
    y = canvas.ys[rows][:, None] - center[1]
    x = canvas.xs[cols][None, :] - center[0] - 0.22 * y
    radius = np.sqrt((x / radii[0]) ** 2 + (y / radii[1]) ** 2)
    below = ramp(anatomy.dome_left + 4.0 - canvas.ys[rows], 6.0)[:, None]
    heart = ramp((1.0 - radius) * radii[0], 3.0) * below
    scene.density[rows, cols] += 0.1 * heart
    return rows, cols, heart


def _lungs(scene: Scene, heart: tuple[slice, slice, Array], vessels: Array) -> None:
    """Lung air (less at the bases and behind the heart), vessel markings and hila."""
    canvas = scene.canvas
    for side in ("right", "left"):
        lung, cols, dx = scene.side(side)
        rows = canvas.span(canvas.ys, lung.apex - 4, lung.base + 4)
        y = canvas.ys[rows]
        mask = lung.mask(y, dx)
        scene.air[rows, cols] = mask * (0.78 - 0.14 * lung.v(y))[:, None]
        scene.markings[rows, cols] = mask * vessels[rows, cols]
        hilum_rows, hilum_cols, hilum, _ = ellipse(canvas, lung.hilum, (20.0, 34.0), 14.0)
        scene.density[hilum_rows, hilum_cols] += 0.16 * hilum
    rows, cols, mask = heart
    scene.air[rows, cols] *= 1.0 - 0.85 * mask
    scene.markings[rows, cols] *= 1.0 - mask


def _airway(scene: Scene) -> None:
    """Trachea and main bronchi (air, so darker than the mediastinum)."""
    canvas, mid = scene.canvas, scene.anatomy.mid
    carina = (mid + 3.0, scene.lungs["right"].hilum[1] - 30.0)
    rows = canvas.span(canvas.ys, -1e9, carina[1] + 40.0)
    cols = canvas.span(canvas.xs, mid - 70.0, mid + 70.0)
    air = np.zeros((rows.stop - rows.start, cols.stop - cols.start), np.float32)
    segments = [((mid, -20.0), carina, 8.5)]
    for lung in scene.lungs.values():
        hx, hy = lung.hilum
        segments.append((carina, ((hx + carina[0]) / 2, (hy + carina[1]) / 2 + 2), 6.0))
    for p0, p1, half in segments:
        r, c, band = segment(canvas, p0, p1, half, 3.0)
        r = slice(r.start - rows.start, r.stop - rows.start)
        c = slice(c.start - cols.start, c.stop - cols.start)
        np.maximum(air[r, c], band, out=air[r, c])
    scene.density[rows, cols] -= 0.2 * air


def _gastric_bubble(scene: Scene) -> None:
    anatomy = scene.anatomy
    center = (anatomy.mid + 78.0, anatomy.dome_left + 30.0)
    rows, cols, bubble, _ = ellipse(scene.canvas, center, (30.0, 15.0), 4.0)
    scene.density[rows, cols] -= 0.32 * bubble


def prepare(scanner: Scanner) -> Bank:
    """The (cached) texture bank of ``scanner``."""
    return bank(scanner.size, scanner.zoom, scanner.shift, scanner.grain, scanner.mottle)


def render(study: Study, scanner: Scanner, rng: np.random.Generator) -> npt.NDArray[np.uint8]:
    """Render ``study`` as seen by ``scanner``; ``rng`` drives only texture and exposure."""
    canvas = Canvas.make(scanner.size, scanner.zoom, scanner.shift)
    textures = prepare(scanner)
    anatomy = study.anatomy
    lungs = {
        side: Lung.of(anatomy, side, pathology.volume_loss(study, side))
        for side in ("right", "left")
    }
    standard = standard_anatomy()
    shift = (anatomy.mid - standard.mid, anatomy.apex - standard.apex)
    density = window(textures.static[anatomy.rib_spacing], canvas, *shift) + np.float32(0.06)
    tree = int(rng.integers(len(textures.vessels)))
    vessels = window(textures.vessels[tree], canvas, *shift)
    edema = study.finding("edema")
    if edema is not None:
        soft = window(textures.soft_vessels[tree], canvas, *shift)
        vessels = vessels + (soft - vessels) * np.float32(0.25 + 0.25 * edema.severity)
    patch = noise_window(textures.patch, canvas, rng)
    air, markings = np.zeros(density.shape, np.float32), np.zeros(density.shape, np.float32)
    scene = Scene(canvas, anatomy, lungs, density, air, markings, patch)
    _lungs(scene, _heart(scene, study), vessels)
    _airway(scene)
    if anatomy.gastric_bubble:
        _gastric_bubble(scene)
    devices = pathology.apply(study, scene)
    attenuation = scene.density
    # air and markings are zero outside the lungs: combine them on the thorax box only
    rows = canvas.span(canvas.ys, anatomy.apex - 8, max(lung.base for lung in lungs.values()) + 8)
    cols = canvas.span(
        canvas.xs, anatomy.mid - anatomy.thorax - 10, anatomy.mid + anatomy.thorax + 10
    )
    attenuation[rows, cols] -= scene.air[rows, cols]
    attenuation[rows, cols] += scene.markings[rows, cols]
    noise = noise_window(textures.noise, canvas, rng)
    attenuation += noise * window(textures.noise_weight, canvas, *shift)
    attenuation *= np.float32(400.0 * (1.0 + rng.normal(0, 0.03)))
    if devices is not None:
        attenuation += devices * np.float32(1.1 * 400.0)
    index = np.clip(attenuation, 0, 2047, out=attenuation).astype(np.uint16)
    pixels = _curve(scanner.gamma, *scanner.window)[index]
    if scanner.sharpen:
        pixels = np.asarray(Image.fromarray(pixels).filter(ImageFilter.UnsharpMask(6, 60, 2)))
    return pixels
