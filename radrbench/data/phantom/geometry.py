"""Pixel grid and lung shapes shared by the anatomy and pathology renderers.

Shapes are defined in a canonical 512x512 frame; a :class:`Canvas` maps it to the output
pixels of one scanner (size, zoom, shift). Soft masks are linear ramps of a signed distance.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from radrbench.data.phantom.truth import Anatomy

Array = npt.NDArray[np.float32]
CANON = 512.0


def ramp(distance: Any, width: float = 2.0) -> Array:
    """Soft inside-mask of a signed distance (positive inside), ``width`` pixels wide."""
    return f32(np.clip(np.asarray(distance, dtype=np.float32) / width + 0.5, 0.0, 1.0))


def f32(values: Any) -> Array:
    """``values`` as a float32 array (no copy when it already is one)."""
    return np.asarray(values, dtype=np.float32)


@dataclass(frozen=True)
class Canvas:
    """Output pixel grid of one image; ``xs``/``ys`` are canonical coordinates of its pixels."""

    size: int
    scale: float  # output pixels per canonical pixel
    xs: Array
    ys: Array

    @classmethod
    def make(cls, size: int, zoom: float = 1.0, shift: tuple[float, float] = (0.0, 0.0)) -> Canvas:
        scale = size / CANON * zoom
        grid = (np.arange(size, dtype=np.float32) + 0.5 - size / 2) / scale
        xs = (grid + CANON / 2 + shift[0]).astype(np.float32)
        ys = (grid + CANON / 2 + shift[1]).astype(np.float32)
        return cls(size, scale, xs, ys)

    def px(self, x: float, y: float) -> tuple[float, float]:
        """Output pixel position of a canonical point."""
        return (x - float(self.xs[0])) * self.scale, (y - float(self.ys[0])) * self.scale

    def span(self, axis: Array, low: float, high: float) -> slice:
        """Index slice of ``axis`` (``xs`` or ``ys``) covering canonical ``[low, high]``."""
        start = int(np.searchsorted(axis, low))
        return slice(start, max(start, int(np.searchsorted(axis, high))))


@dataclass(frozen=True)
class Lung:
    """Outline of one lung: lateral and medial borders per row, diaphragm per column."""

    sign: int  # -1: right lung (image left), +1: left lung
    mid: float
    apex: float
    dome: float
    thorax: float

    @classmethod
    def of(cls, anatomy: Anatomy, side: str, elevation: float = 0.0) -> Lung:
        dome = anatomy.dome_right if side == "right" else anatomy.dome_left
        sign = -1 if side == "right" else 1
        return cls(sign, anatomy.mid, anatomy.apex, dome - elevation, anatomy.thorax)

    @property
    def base(self) -> float:
        """y of the costophrenic angle."""
        return self.dome + 40.0

    def columns(self, canvas: Canvas) -> tuple[slice, Array]:
        """Column slice of this side of the image and the lateral distance ``dx`` of each column."""
        if self.sign < 0:
            cols = canvas.span(canvas.xs, -1e9, self.mid)
        else:
            cols = canvas.span(canvas.xs, self.mid, 1e9)
        return cols, (canvas.xs[cols] - self.mid) * self.sign

    def v(self, y: Array) -> Array:
        """Vertical lung coordinate: 0 at the apex, 1 at the costophrenic angle."""
        return f32(np.clip((y - self.apex) / (self.base - self.apex), 0.0, 1.0))

    def lateral(self, y: Array) -> Array:
        apex_dx = 0.42 * self.thorax
        t = self.v(y)
        return f32(apex_dx + (self.thorax - apex_dx) * np.sqrt(1.0 - (1.0 - t) ** 2))

    def medial(self, y: Array) -> Array:
        apex_dx = 0.42 * self.thorax
        t = np.clip((y - self.apex) / (0.28 * (self.base - self.apex)), 0.0, 1.0)
        wall = 27.0 + 6.0 * self.v(y)
        if self.sign > 0:  # aortic knob
            wall = wall + 12.0 * np.clip(1.0 - ((y - (self.apex + 118.0)) / 26.0) ** 2, 0.0, 1.0)
        return f32(apex_dx - (apex_dx - wall) * np.sqrt(1.0 - (1.0 - t) ** 2))

    def diaphragm(self, dx: Array) -> Array:
        top = 0.45 * self.thorax
        lateral = np.clip((dx - top) / (self.thorax - top), 0.0, None) ** 2
        medial = np.clip((top - dx) / top, 0.0, None) ** 2
        return f32(self.dome + (self.base - self.dome) * lateral + 6.0 * medial)

    def mask(self, y: Array, dx: Array, shrink: Array | float = 0.0, soft: float = 4.0) -> Array:
        """Soft lung mask on rows ``y`` x columns ``dx``; ``shrink`` pulls the lateral border in."""
        lateral = (self.lateral(y) - shrink)[:, None]
        medial = self.medial(y)[:, None]
        inside = np.minimum(lateral - dx[None, :], dx[None, :] - medial)
        inside = np.minimum(inside, self.diaphragm(dx)[None, :] - y[:, None])
        return ramp(inside, soft)

    def uv(self, y: Array, dx: Array) -> tuple[Array, Array]:
        """Lung coordinates (u: medial 0 → lateral 1, v: apex 0 → base 1) on a grid."""
        medial = self.medial(y)[:, None]
        u = (dx[None, :] - medial) / np.maximum(self.lateral(y)[:, None] - medial, 1.0)
        return u.astype(np.float32), self.v(y)[:, None]

    def point(self, u: float, v: float) -> tuple[float, float]:
        """Canonical (x, y) of lung coordinates (u, v)."""
        y = np.float32(self.apex + v * (self.base - self.apex))
        row = np.array([y], dtype=np.float32)
        medial, lateral = float(self.medial(row)[0]), float(self.lateral(row)[0])
        return self.mid + self.sign * (medial + u * (lateral - medial)), float(y)

    @property
    def hilum(self) -> tuple[float, float]:
        return self.mid + self.sign * 52.0, self.apex + 0.48 * (self.base - self.apex)


@dataclass
class Scene:
    """The attenuation layers of one image while it is being rendered.

    ``density`` adds up tissue, bone, fluid and devices; ``air`` is the lung air that is
    subtracted (findings replace it); ``markings`` are the lung vessels (findings erase them).
    """

    canvas: Canvas
    anatomy: Anatomy
    lungs: dict[str, Lung]
    density: Array
    air: Array
    markings: Array
    patch: Array  # smooth noise in [0, 1] for patchy opacities

    def side(self, side: str) -> tuple[Lung, slice, Array]:
        """The lung of ``side``, its column slice and the lateral distance of those columns."""
        lung = self.lungs[side]
        cols, dx = lung.columns(self.canvas)
        return lung, cols, dx


def segment(
    canvas: Canvas,
    p0: tuple[float, float],
    p1: tuple[float, float],
    half: float,
    soft: float = 1.5,
) -> tuple[slice, slice, Array]:
    """Soft band of half width ``half`` around the segment p0-p1, on its bounding box."""
    pad = half + soft + 2.0
    rows = canvas.span(canvas.ys, min(p0[1], p1[1]) - pad, max(p0[1], p1[1]) + pad)
    cols = canvas.span(canvas.xs, min(p0[0], p1[0]) - pad, max(p0[0], p1[0]) + pad)
    x = canvas.xs[cols][None, :] - p0[0]
    y = canvas.ys[rows][:, None] - p0[1]
    ex, ey = p1[0] - p0[0], p1[1] - p0[1]
    t = np.clip((x * ex + y * ey) / max(ex * ex + ey * ey, 1e-6), 0.0, 1.0)
    distance = np.hypot(x - t * ex, y - t * ey)
    return rows, cols, ramp(half - distance, soft)


def ellipse(
    canvas: Canvas, center: tuple[float, float], radii: tuple[float, float], soft: float = 2.0
) -> tuple[slice, slice, Array, Array]:
    """Soft ellipse on its bounding box, and the normalised radius (1 on the rim)."""
    pad = soft + 2.0
    rows = canvas.span(canvas.ys, center[1] - radii[1] - pad, center[1] + radii[1] + pad)
    cols = canvas.span(canvas.xs, center[0] - radii[0] - pad, center[0] + radii[0] + pad)
    x = (canvas.xs[cols][None, :] - center[0]) / radii[0]
    y = (canvas.ys[rows][:, None] - center[1]) / radii[1]
    radius = np.sqrt(x * x + y * y).astype(np.float32)
    return rows, cols, ramp((1.0 - radius) * min(radii), soft), radius
