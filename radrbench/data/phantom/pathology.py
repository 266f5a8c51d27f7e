"""Findings drawn into a :class:`Scene`: each one changes air, density or markings locally."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from radrbench.data.phantom.geometry import Array, Scene, ellipse, ramp, segment
from radrbench.data.phantom.truth import LOBE_BOXES, Finding, Study

_PX_PER_CM = 12.3  # 2 x 185 canonical pixels ≈ 30 cm of chest


def volume_loss(study: Study, side: str) -> float:
    """How far atelectasis pulls the hemidiaphragm of ``side`` up (canonical pixels)."""
    finding = study.finding("atelectasis")
    if finding is None or finding.side != side:
        return 0.0
    return 7.0 * (finding.severity - 1)


def _effusion(scene: Scene, finding: Finding) -> None:
    """Fluid at the lung base: meniscus rising laterally, blunted costophrenic angle."""
    for side in finding.sides():
        lung, cols, dx = scene.side(side)
        level = {1: lung.base - 28.0, 2: lung.dome - 18.0, 3: lung.dome - 80.0}[finding.severity]
        meniscus = (16.0, 34.0, 48.0)[finding.severity - 1]
        rows = scene.canvas.span(scene.canvas.ys, level - meniscus - 6, lung.base + 6)
        y = scene.canvas.ys[rows][:, None]
        top = level - meniscus * np.clip(dx / lung.thorax, 0.0, 1.0)[None, :] ** 2
        depth = y - top
        fluid = lung.mask(scene.canvas.ys[rows], dx) * ramp(depth, 8.0)
        fluid *= 0.75 + 0.25 * np.clip(depth / 50.0, 0.0, 1.0)
        scene.air[rows, cols] *= 1.0 - fluid
        scene.markings[rows, cols] *= 1.0 - fluid
        scene.density[rows, cols] += 0.22 * fluid


def _pneumothorax(scene: Scene, finding: Finding) -> None:
    """Lucent rim without markings at apex and lateral wall, bounded by a thin pleural line."""
    lung, cols, dx = scene.side(finding.side or "right")
    lateral_rim, apical_rim = ((7.0, 26.0), (16.0, 46.0), (34.0, 80.0))[finding.severity - 1]
    rows = scene.canvas.span(scene.canvas.ys, lung.apex - 4, lung.base + 4)
    y = scene.canvas.ys[rows]
    rim = lateral_rim + (apical_rim - lateral_rim) * (1.0 - lung.v(y)) ** 2
    whole = lung.mask(y, dx)
    edge = ramp((lung.lateral(y) - rim)[:, None] - dx[None, :], 1.6)  # 1 inside the lung edge
    line = 4.0 * edge * (1.0 - edge) * whole
    scene.markings[rows, cols] *= edge
    scene.air[rows, cols] += whole * (1.0 - edge) * (1.0 - scene.air[rows, cols]) * 0.25
    scene.density[rows, cols] += 0.3 * line + 0.04 * finding.severity * edge * whole


def _airspace(scene: Scene, finding: Finding) -> None:
    """Consolidation (dense, air bronchograms), lung opacity or pneumonia (patchy) in a lobe."""
    lobe = finding.lobe or "RLL"
    lung, cols, dx = scene.side(finding.side or "right")
    u0, u1, v0, v1 = LOBE_BOXES[lobe]
    grow = 0.45 + 0.25 * finding.severity
    center = ((u0 + u1) / 2, (v0 + v1) / 2)
    radii = (max(u1 - u0, 0.3) * grow, (v1 - v0 + 0.12) * grow)
    rows = scene.canvas.span(scene.canvas.ys, lung.apex, lung.base + 4)
    y = scene.canvas.ys[rows]
    u, v = lung.uv(y, dx)
    blob = 1.0 - ((u - center[0]) / radii[0]) ** 2 - ((v - center[1]) / radii[1]) ** 2
    if lobe == "RUL":  # sharp lower border along the horizontal fissure
        blob = np.minimum(blob, (0.4 - v) * 30.0)
    elif lobe == "RML":
        blob = np.minimum(blob, (v - 0.42) * 30.0)
    patch = scene.patch[rows, cols]
    vessels = scene.markings[rows, cols]
    if finding.kind == "consolidation":
        region = np.clip((blob + 0.5 * (patch - 0.5)) * 4.0, 0.0, 1.0) * (0.85 + 0.3 * patch)
        region = np.clip(region, 0.0, 1.0)
        bronchi = np.clip(vessels * 3.0, 0.0, 1.0)  # air-filled bronchi beside the vessels
        strength = 0.95 * (1.0 - 0.5 * bronchi)
    else:
        region = np.clip(blob * 2.5, 0.0, 1.0) * np.clip((patch - 0.25) * 1.8, 0.0, 1.0)
        strength = np.full_like(region, 0.65 if finding.kind == "pneumonia" else 0.5)
    region *= lung.mask(y, dx, soft=6.0)
    scene.air[rows, cols] *= 1.0 - strength * region
    scene.markings[rows, cols] = vessels * (1.0 - region)
    scene.density[rows, cols] += 0.16 * strength * region


def _lesion(scene: Scene, finding: Finding) -> None:
    """Round nodule, or a lobulated mass above 3 cm."""
    lung = scene.lungs[finding.side or "right"]
    center = lung.point(*(finding.position or (0.5, 0.3)))
    radius = (finding.size_cm or 1.5) * _PX_PER_CM / 2.0
    rows, cols, _, r = ellipse(scene.canvas, center, (radius * 1.2, radius * 1.2), 1.0)
    if finding.severity == 3:
        x = scene.canvas.xs[cols][None, :] - center[0]
        y = scene.canvas.ys[rows][:, None] - center[1]
        r = r / (1.0 + 0.1 * np.cos(3.0 * np.arctan2(y, x) + 1.0))
    r *= 1.2
    body = np.sqrt(np.clip(1.0 - r * r, 0.0, 1.0)) * ramp((1.0 - r) * radius, 1.5)
    scene.density[rows, cols] += 0.55 * body
    scene.air[rows, cols] *= 1.0 - 0.4 * body


def _atelectasis(scene: Scene, finding: Finding) -> None:
    """Plate-like band at the base (volume loss is applied to the lung outline)."""
    lung = scene.lungs[finding.side or "right"]
    v = 0.74 + 0.02 * finding.severity
    p0, p1 = lung.point(0.3, v + 0.04), lung.point(0.88, v - 0.02)
    rows, cols, band = segment(scene.canvas, p0, p1, 1.0 + 1.2 * finding.severity, 2.0)
    dx = (scene.canvas.xs[cols] - lung.mid) * lung.sign
    band *= lung.mask(scene.canvas.ys[rows], dx, soft=8.0)
    scene.density[rows, cols] += 0.24 * band
    scene.air[rows, cols] *= 1.0 - 0.6 * band


def _edema(scene: Scene, finding: Finding) -> None:
    """Bilateral perihilar haze (the blurred vessels are done by the renderer)."""
    reach = 0.8 + 0.35 * finding.severity
    for side in ("right", "left"):
        lung = scene.lungs[side]
        rows, cols, _, r = ellipse(scene.canvas, lung.hilum, (75.0 * reach, 105.0 * reach))
        haze = np.clip(1.0 - r * r, 0.0, 1.0) ** 1.5
        scene.air[rows, cols] *= 1.0 - (0.3 + 0.12 * finding.severity) * haze


def _devices(scene: Scene, finding: Finding) -> Array:
    """Radiopaque tubes, lines and pacemaker drawn as thin bright polylines."""
    canvas, anatomy = scene.canvas, scene.anatomy
    mid, carina = anatomy.mid, scene.lungs["right"].hilum[1] - 30.0
    image = Image.new("L", (canvas.size, canvas.size))
    draw = ImageDraw.Draw(image)
    width = max(2, round(3 * canvas.scale))

    def line(points: list[tuple[float, float]], fill: int = 255, scale: float = 1.0) -> None:
        """A bright core over a dimmer halo: soft edges without a blur pass."""
        pixels = [canvas.px(*p) for p in points]
        draw.line(pixels, fill=fill // 3, width=round(width * scale) + 2, joint="curve")
        draw.line(pixels, fill=fill, width=round(width * scale), joint="curve")

    for device in finding.devices:
        if device == "ett":
            line([(mid + 1, -10), (mid + 2, carina - 52)], fill=70, scale=3.0)
            line([(mid - 2, -10), (mid - 1, carina - 52)])
        elif device == "cvc":
            line([(mid - 62, -10), (mid - 40, 118), (mid - 24, 170), (mid - 20, carina + 40)])
        elif device == "ngt":
            gastric = anatomy.dome_left + 40.0
            line(
                [
                    (mid + 6, -10),
                    (mid + 4, carina + 60),
                    (mid + 16, anatomy.dome_left - 4),
                    (mid + 60, gastric),
                    (mid + 96, gastric + 6),
                ]
            )
        else:
            box = (mid + 112, anatomy.apex + 60, mid + 160, anatomy.apex + 92)
            draw.rounded_rectangle(
                [canvas.px(box[0], box[1]), canvas.px(box[2], box[3])], radius=8, fill=255
            )
            start = (mid + 114, anatomy.apex + 72)
            line([start, (mid + 40, anatomy.apex + 60), (mid - 12, carina + 50)])
            line(
                [
                    start,
                    (mid + 36, anatomy.apex + 70),
                    (mid + 10, carina + 70),
                    (mid + 60, anatomy.dome_left - 20),
                ]
            )
    return np.asarray(image, dtype=np.float32) / 255.0


def apply(study: Study, scene: Scene) -> Array | None:
    """Draw every finding of ``study``; returns the device layer, if any."""
    devices = None
    for finding in study.findings:
        if finding.kind == "effusion":
            _effusion(scene, finding)
        elif finding.kind == "pneumothorax":
            _pneumothorax(scene, finding)
        elif finding.kind in ("consolidation", "opacity", "pneumonia"):
            _airspace(scene, finding)
        elif finding.kind == "lesion":
            _lesion(scene, finding)
        elif finding.kind == "atelectasis":
            _atelectasis(scene, finding)
        elif finding.kind == "edema":
            _edema(scene, finding)
        elif finding.kind == "devices":
            devices = _devices(scene, finding)
    return devices
