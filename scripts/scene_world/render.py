"""Drawing a Scene with Pillow: flat shapes drawn at SUPERSAMPLE x the size, box-filtered down
(antialiasing), then a faint brightness gradient and grain over the whole image."""
from __future__ import annotations

import math
import numpy as np
from PIL import Image, ImageDraw

from .scene import Scene, Obj

SUPERSAMPLE = 4


def _star(points=5, inner=0.45):
    out = []
    for k in range(2 * points):
        r = 1.0 if k % 2 == 0 else inner
        a = -math.pi / 2 + k * math.pi / points
        out.append((r * math.cos(a), r * math.sin(a)))
    return out


def _heart(n=48):
    pts = []
    for k in range(n):
        t = 2 * math.pi * k / n
        x = 16 * math.sin(t) ** 3
        y = -(13 * math.cos(t) - 5 * math.cos(2 * t) - 2 * math.cos(3 * t) - math.cos(4 * t))
        pts.append((x / 16.5, (y + 2.0) / 16.5))
    return pts


def _cross(w=0.32, e=0.92):
    return [(-w, -e), (w, -e), (w, -w), (e, -w), (e, w), (w, w), (w, e), (-w, e), (-w, w),
            (-e, w), (-e, -w), (-w, -w)]


# Unit outlines (radius 1, y pointing down) of the polygon shapes.
OUTLINES = {
    "square": [(-0.78, -0.78), (0.78, -0.78), (0.78, 0.78), (-0.78, 0.78)],
    "triangle": [(0.0, -1.0), (0.92, 0.62), (-0.92, 0.62)],
    "star": _star(),
    "heart": _heart(),
    "cross": _cross(),
    "diamond": [(0.0, -1.0), (0.66, 0.0), (0.0, 1.0), (-0.66, 0.0)],
}


def _transform(pts, o: Obj, s: float):
    a = math.radians(o.rotation)
    ca, sa = math.cos(a), math.sin(a)
    cx, cy, r = o.x * s, o.y * s, o.radius * s
    return [(cx + r * (x * ca - y * sa), cy + r * (x * sa + y * ca)) for x, y in pts]


def _draw_object(img: Image.Image, draw: ImageDraw.ImageDraw, o: Obj, rgb, s: float):
    cx, cy, r = o.x * s, o.y * s, o.radius * s
    if o.shape == "circle":
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=rgb)
    elif o.shape == "moon":
        # A crescent: the disc minus a disc shifted towards the upper right, drawn as a mask.
        size = int(math.ceil(2 * r)) + 4
        mask = Image.new("L", (size, size), 0)
        md = ImageDraw.Draw(mask)
        c = size / 2
        md.ellipse([c - r, c - r, c + r, c + r], fill=255)
        a = math.radians(o.rotation - 30)
        ox, oy = 0.5 * r * math.cos(a), 0.5 * r * math.sin(a)
        rr = 0.86 * r
        md.ellipse([c + ox - rr, c + oy - rr, c + ox + rr, c + oy + rr], fill=0)
        x0, y0 = int(round(cx - c)), int(round(cy - c))
        img.paste(rgb, (x0, y0, x0 + size, y0 + size), mask)
    else:
        draw.polygon(_transform(OUTLINES[o.shape], o, s), fill=rgb)


def render(scene: Scene, rng: np.random.Generator | None = None) -> Image.Image:
    """The scene as an RGB image of scene.width x scene.height pixels."""
    s = SUPERSAMPLE
    big = Image.new("RGB", (scene.width * s, scene.height * s), tuple(scene.bg_rgb))
    draw = ImageDraw.Draw(big)
    for o, rgb in zip(scene.objects, scene.obj_rgb):
        _draw_object(big, draw, o, tuple(rgb), s)
    img = big.reduce(s)          # box filter: the mean of each s x s block
    gx, gy = scene.bg_gradient
    if gx or gy or scene.grain:
        a = np.asarray(img, dtype=np.float32)
        xs = np.linspace(-0.5, 0.5, scene.width, dtype=np.float32)
        ys = np.linspace(-0.5, 0.5, scene.height, dtype=np.float32)
        a = a + (gx * xs[None, :] + gy * ys[:, None])[:, :, None]
        if scene.grain and rng is not None:
            a = a + rng.normal(0.0, scene.grain, size=(scene.height, scene.width, 1)).astype(np.float32)
        img = Image.fromarray(np.clip(np.rint(a), 0, 255).astype(np.uint8), "RGB")
    return img
