"""Bones and vessels of a standard patient: rendered once per scanner, then shifted per image."""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from radrbench.data.phantom.geometry import Array, Canvas, Lung, f32, ramp
from radrbench.data.phantom.truth import Anatomy


def standard_anatomy(rib_spacing: float = 30.0) -> Anatomy:
    """The patient the texture bank is drawn for; real patients differ by a shift."""
    return Anatomy(
        mid=256.0, thorax=185.0, apex=80.0, dome_right=372.0, dome_left=385.0, ctr=0.44,
        rib_spacing=rib_spacing, gastric_bubble=False,
    )  # fmt: skip


def body(canvas: Canvas, anatomy: Anatomy) -> tuple[Array, Array]:
    """Soft tissue of neck, shoulders, chest wall and abdomen: its density and its mask."""
    ys = canvas.ys[:, None]
    shoulders = np.clip((ys - 18.0) / 105.0, 0.0, 1.0)
    shoulders = shoulders * shoulders * (3.0 - 2.0 * shoulders)
    half = 64.0 + (anatomy.thorax + 88.0 - 64.0) * shoulders
    half = half - 46.0 * np.clip((ys - 150.0) / 70.0, 0.0, 1.0)
    adx = np.abs(canvas.xs[None, :] - anatomy.mid)
    mask = ramp(half - adx, 6.0)
    thickness = np.sqrt(np.clip(1.0 - (adx / half) ** 2, 0.0, 1.0))
    return mask * (0.26 + 0.66 * thickness), mask


def bones(canvas: Canvas, anatomy: Anatomy) -> Array:
    """Posterior ribs (bright arcs), faint anterior ribs, clavicles and the spine."""
    density = np.zeros((canvas.size, canvas.size), np.float32)
    spacing = anatomy.rib_spacing
    rows = canvas.span(canvas.ys, anatomy.apex - 40, anatomy.dome_left + 60)
    y = canvas.ys[rows][:, None]
    for side in ("right", "left"):
        lung = Lung.of(anatomy, side)
        cols, dx = lung.columns(canvas)
        curve = (-0.45 * dx + 0.003 * dx * dx)[None, :]
        phase = (y - (anatomy.apex - 24.0) - curve) / spacing
        frac = phase - np.floor(phase)
        tent = np.clip(1.0 - np.abs(frac - 0.21) / 0.21, 0.0, 1.0)
        posterior = (tent**0.4 - 0.3 * tent**3) * ((phase > 0) & (phase < 10))
        extent = (ramp(lung.thorax + 22.0 - dx, 8.0) * ramp(dx - 18.0, 6.0))[None, :]
        front = (y - (anatomy.apex + 8.0) + 0.55 * (dx - lung.thorax)[None, :]) / (1.2 * spacing)
        frac = front - np.floor(front)
        anterior = np.clip(1.0 - np.abs(frac - 0.14) / 0.14, 0.0, 1.0) * ((front > 0) & (front < 6))
        anterior *= ramp(dx - 45.0, 20.0)[None, :]
        density[rows, cols] += (0.22 * posterior + 0.07 * anterior) * extent
        clavicle = anatomy.apex + 52.0 - 0.34 * (dx - 15.0) + 0.0011 * (dx - 60.0) ** 2
        band_rows = canvas.span(canvas.ys, anatomy.apex - 30, anatomy.apex + 70)
        offset = np.abs(canvas.ys[band_rows][:, None] - clavicle[None, :])
        reach = (ramp(dx - 14.0, 6.0) * ramp(lung.thorax + 8.0 - dx, 10.0))[None, :]
        density[band_rows, cols] += 0.3 * ramp(7.5 - offset, 2.5) * reach
    cols = canvas.span(canvas.xs, anatomy.mid - 30, anatomy.mid + 30)
    dx = np.abs(canvas.xs[cols] - anatomy.mid)
    vertebrae = 0.75 + 0.25 * np.cos(np.pi * (canvas.ys - anatomy.apex) / 27.0) ** 8
    density[:, cols] += 0.13 * vertebrae[:, None] * ramp(21.0 - dx, 4.0)[None, :]
    return density


def vessel_tree(canvas: Canvas, anatomy: Anatomy, rng: np.random.Generator) -> tuple[Array, Array]:
    """Branching pulmonary vessels from both hila, tapering and fading to the periphery.

    Returns the tree in [0, 1] and a blurred copy (vessels lose their edges in edema).
    """
    image = Image.new("L", (canvas.size, canvas.size))
    draw = ImageDraw.Draw(image)
    for side in ("right", "left"):
        lung = Lung.of(anatomy, side)
        stack = [
            (*lung.hilum, angle + float(rng.normal(0, 8)), 40.0, 4.5, 190.0)
            for angle in (-115.0, -85.0, -55.0, -25.0, 5.0, 35.0, 65.0, 95.0)
        ]
        while stack:
            x, y, angle, length, width, level = stack.pop()
            rad = math.radians(angle)
            end = (x + lung.sign * math.cos(rad) * length, y + math.sin(rad) * length)
            draw.line(
                [canvas.px(x, y), canvas.px(*end)],
                fill=int(level),
                width=max(1, round(width * canvas.scale)),
            )
            if length > 9.0:
                for turn in (-1.0, 1.0):
                    bend = turn * float(rng.uniform(10, 32))
                    shrink = float(rng.uniform(0.62, 0.8))
                    stack.append((*end, angle + bend, length * shrink, width * 0.72, level * 0.8))
    sharp = image.filter(ImageFilter.GaussianBlur(1.1 * canvas.scale))
    soft = image.filter(ImageFilter.GaussianBlur(2.8 * canvas.scale))
    return f32(np.asarray(sharp) / 255.0), f32(np.asarray(soft) / 255.0)
