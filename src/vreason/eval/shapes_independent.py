"""A second shapes-world renderer, used only for evaluation: the demo model's pictures drawn by different code.

The training generator (vreason.train.shapes_world) draws PIL polygons in exact palette colours on plain square
backgrounds. This one rasterises signed-distance functions with analytic anti-aliasing (coverage = how much
of a pixel lies inside the edge), in its own shades of each colour name, some shapes with a darker border or as
a thick outline only, slightly rotated, on light tinted gradient backgrounds, in 192-320 px pictures, some not
square. It shares only the words (shape and colour names) with the training generator and imports nothing
from vreason.train, so a model that learned the training renderer's pixels rather than the shapes shows it here.

Same seed, same pictures. Boxes are the exact geometric extent of what was drawn (stroke included), in pixel
coordinates where pixel i covers [i, i + 1). The questions are in shapes_independent_qa.py.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

import numpy as np
from PIL import Image

# the training generator's words (copied, not imported: eval/ does not depend on train/)
SHAPES = ("circle", "rectangle", "triangle", "star", "hexagon")
# this renderer's own shades of each colour name: every one is nearer (in RGB) to its own name's palette colour
# in the training generator than to any other, and none is that palette colour
SHADES: dict[str, tuple[tuple[int, int, int], ...]] = {
    "red": ((235, 20, 30), (220, 20, 20), (245, 30, 45)),
    "green": ((30, 200, 50), (60, 220, 40), (20, 230, 90)),
    "blue": ((20, 40, 230), (0, 40, 220), (25, 55, 235)),
    "black": ((20, 20, 25), (35, 30, 30), (10, 15, 30)),
    "gray": ((120, 120, 125), (140, 140, 140), (110, 112, 118)),
    "teal": ((20, 140, 140), (0, 115, 120), (30, 150, 135)),
    "brown": ((150, 60, 30), (139, 69, 19), (160, 50, 45)),
    "yellow": ((240, 220, 30), (250, 240, 60), (230, 230, 0)),
    "purple": ((140, 30, 150), (110, 20, 120), (150, 50, 160)),
    "orange": ((245, 150, 20), (255, 140, 0), (235, 160, 40)),
}
COLORS = tuple(SHADES)
SHADE_JITTER = 8  # each channel of a drawn shade moves by up to this much
STYLES = (("filled", 0.65), ("bordered", 0.25), ("outline", 0.10))
BORDER_DARKEN = 0.6  # a bordered shape's border is its colour times this
MAX_ROTATION_DEG = 15.0
SIDES = (192, 224, 256, 288, 320)
GAP_PX = 6  # at least this many pixels between the boxes of two shapes
STAR_INNER = (0.42, 0.5)  # inner radius of a star, as a share of its outer radius

Box = tuple[float, float, float, float]  # (x1, y1, x2, y2) in pixel coordinates


@dataclass(frozen=True)
class DrawnShape:
    kind: str  # one of SHAPES
    color: str  # one of COLORS
    rgb: tuple[int, int, int]  # the fill (or stroke) colour drawn
    style: str  # filled, bordered (darker border) or outline (stroke only, inside the edge)
    angle_deg: float
    anchor: tuple[float, float]  # a point inside the painted area (the figure's centre; on the stroke for outlines)
    box: Box  # exact extent of what was drawn

    @property
    def name(self) -> str:
        return f"{self.color} {self.kind}"

    @property
    def center(self) -> tuple[float, float]:
        return (self.box[0] + self.box[2]) / 2, (self.box[1] + self.box[3]) / 2


@dataclass
class IndependentScene:
    image: Image.Image
    shapes: list[DrawnShape]
    background: np.ndarray  # (H, W, 3) float: the picture before any shape was drawn, for checks

    @property
    def size(self) -> tuple[int, int]:
        return self.image.size


def relative_box(box: Box, size: tuple[int, int]) -> list[int]:
    """A pixel box on Qwen3-VL's 0-1000 relative scale."""
    w, h = size
    return [round(box[0] / w * 1000), round(box[1] / h * 1000), round(box[2] / w * 1000), round(box[3] / h * 1000)]


# -- geometry ----------------------------------------------------------------------------------------------


def outline(kind: str, cx: float, cy: float, radius: float, aspect: float, angle: float,
             inner: float) -> np.ndarray | None:
    """The polygon of a shape as (N, 2) vertices, rotated by `angle` radians about its centre; None for circles.
    `radius` is half the shape's width before rotation; `aspect` its height over its width (rectangles,
    triangles)."""
    if kind == "circle":
        return None
    if kind == "rectangle":
        w, h = radius, radius * aspect
        points = [(-w, -h), (w, -h), (w, h), (-w, h)]
    elif kind == "triangle":  # apex up
        h = radius * aspect
        points = [(0.0, -h), (radius, h), (-radius, h)]
    elif kind == "hexagon":  # flat top and bottom
        points = [(radius * math.cos(math.pi / 3 * i), radius * math.sin(math.pi / 3 * i)) for i in range(6)]
    else:  # five-pointed star, point up
        points = [((radius if i % 2 == 0 else radius * inner) * math.cos(-math.pi / 2 + math.pi / 5 * i),
                   (radius if i % 2 == 0 else radius * inner) * math.sin(-math.pi / 2 + math.pi / 5 * i))
                  for i in range(10)]
    c, s = math.cos(angle), math.sin(angle)
    return np.array([(cx + x * c - y * s, cy + x * s + y * c) for x, y in points])


def _polygon_sdf(px: np.ndarray, py: np.ndarray, vertices: np.ndarray) -> np.ndarray:
    """Signed distance from points to a simple polygon (negative inside): the nearest edge gives the distance,
    a crossing count the sign."""
    distance = np.full(px.shape, np.inf)
    sign = np.ones(px.shape)
    for i in range(len(vertices)):
        (ax, ay), (bx, by) = vertices[i], vertices[i - 1]
        ex, ey = bx - ax, by - ay
        wx, wy = px - ax, py - ay
        t = np.clip((wx * ex + wy * ey) / (ex * ex + ey * ey), 0.0, 1.0)
        distance = np.minimum(distance, (wx - ex * t) ** 2 + (wy - ey * t) ** 2)
        above_a, below_b, left = py >= ay, py < by, ex * wy > ey * wx
        crossing = (above_a & below_b & left) | (~above_a & ~below_b & ~left)
        sign = np.where(crossing, -sign, sign)
    return sign * np.sqrt(distance)


def _coverage(sdf: np.ndarray) -> np.ndarray:
    """Share of each pixel inside (sdf < 0), from the distance of its centre to the edge (one pixel ramp)."""
    return np.clip(0.5 - sdf, 0.0, 1.0)


# -- pictures ----------------------------------------------------------------------------------------------


class IndependentRenderer:
    def __init__(self, seed: int):
        self.rng = random.Random(seed)

    def _size(self) -> tuple[int, int]:
        rng = self.rng
        width = rng.choice(SIDES)
        if rng.random() < 0.4:
            return width, width
        height = rng.choice([s for s in SIDES if 0.6 <= s / width <= 1.6 and s != width])
        return width, height

    def background(self, width: int, height: int) -> np.ndarray:
        """A light tint with a linear gradient across it in a random direction."""
        rng = self.rng
        start = np.array([rng.uniform(215, 250) for _ in range(3)])
        end = np.clip(start + np.array([rng.uniform(-25, 25) for _ in range(3)]), 200, 255)
        angle = rng.uniform(0, 2 * math.pi)
        ys, xs = np.mgrid[0:height, 0:width] + 0.5
        along = (xs / width - 0.5) * math.cos(angle) + (ys / height - 0.5) * math.sin(angle)
        t = np.clip(along / math.sqrt(0.5) + 0.5, 0.0, 1.0)[..., None]  # 0..1 corner to corner
        return start * (1 - t) + end * t

    def shade(self, color: str) -> tuple[int, int, int]:
        j = SHADE_JITTER
        return tuple(min(255, max(0, c + self.rng.randint(-j, j))) for c in self.rng.choice(SHADES[color]))

    def scene(self, count: int, duplicate_share: float = 0.15) -> IndependentScene:
        """A picture of `count` shapes (fewer when they do not fit); with probability `duplicate_share` a shape
        repeats the previous one's colour and kind, so that "two red circles" happens."""
        if not 1 <= count <= 4:
            raise ValueError(f"count ({count}) must be 1 to 4")
        rng = self.rng
        width, height = self._size()
        background = self.background(width, height)
        canvas = background.copy()
        shapes: list[DrawnShape] = []
        short = min(width, height)
        low, high = (0.3, 0.6) if count == 1 else ((0.2, 0.36) if count > 2 else (0.24, 0.42))
        attempts = 0
        while len(shapes) < count and attempts < 300:
            attempts += 1
            if shapes and rng.random() < duplicate_share:
                kind, color = shapes[-1].kind, shapes[-1].color
            else:
                kind, color = rng.choice(SHAPES), rng.choice(COLORS)
            extent = rng.uniform(low, high) * short
            aspect = 1.0 if kind in ("circle", "hexagon", "star") else rng.uniform(0.6, 1.0)
            if kind == "rectangle" and rng.random() < 0.5:
                aspect = 1 / aspect  # taller than wide
            angle = 0.0 if kind == "circle" else math.radians(rng.uniform(-MAX_ROTATION_DEG, MAX_ROTATION_DEG))
            radius = extent / 2 / max(1.0, aspect)
            inner = rng.uniform(*STAR_INNER)
            cx, cy = rng.uniform(extent / 2, width - extent / 2), rng.uniform(extent / 2, height - extent / 2)
            polygon = outline(kind, cx, cy, radius, aspect, angle, inner)
            if polygon is None:
                box = (cx - radius, cy - radius, cx + radius, cy + radius)
            else:
                box = (polygon[:, 0].min(), polygon[:, 1].min(), polygon[:, 0].max(), polygon[:, 1].max())
            if box[0] < 2 or box[1] < 2 or box[2] > width - 2 or box[3] > height - 2:
                continue
            if any(_near(box, other.box, GAP_PX) for other in shapes):
                continue
            style = rng.choices([s for s, _ in STYLES], [w for _, w in STYLES])[0]
            rgb = self.shade(color)
            stroke = max(3.0, 0.14 * extent) if style == "outline" else max(2.0, 0.07 * extent)
            anchor = paint(canvas, box, polygon, (cx, cy, radius), style, rgb, stroke)
            shapes.append(DrawnShape(kind, color, rgb, style, math.degrees(angle), anchor, tuple(map(float, box))))
        image = Image.fromarray(np.round(canvas).astype(np.uint8), "RGB")
        return IndependentScene(image=image, shapes=shapes, background=background)


def paint(canvas: np.ndarray, box: Box, polygon: np.ndarray | None, circle: tuple[float, float, float],
           style: str, rgb: tuple[int, int, int], stroke: float) -> tuple[float, float]:
    """Composite one shape (`polygon`, or the circle (cx, cy, radius) when None) onto `canvas` (H, W, 3) in
    place, only in a window around its box; returns a point inside its painted area."""
    x0, y0 = max(0, int(box[0]) - 2), max(0, int(box[1]) - 2)
    x1, y1 = min(canvas.shape[1], int(box[2]) + 3), min(canvas.shape[0], int(box[3]) + 3)
    ys, xs = np.mgrid[y0:y1, x0:x1] + 0.5  # pixel centres
    cx, cy, radius = circle
    sdf = np.hypot(xs - cx, ys - cy) - radius if polygon is None else _polygon_sdf(xs, ys, polygon)
    window = canvas[y0:y1, x0:x1]
    color = np.array(rgb, dtype=float)
    if style == "outline":  # a band of width `stroke` just inside the edge
        alpha = _coverage(np.abs(sdf + stroke / 2) - stroke / 2)[..., None]
        window[:] = window * (1 - alpha) + color * alpha
        middle = np.argwhere((sdf > -stroke * 0.6) & (sdf < -stroke * 0.4))  # the middle of the stroke
        row, col = middle[len(middle) // 2] if len(middle) else np.argwhere(sdf < -stroke * 0.5)[0]
        return float(x0 + col + 0.5), float(y0 + row + 0.5)
    if style == "bordered":  # the whole shape in the darker shade, then the inside in the colour
        alpha = _coverage(sdf)[..., None]
        window[:] = window * (1 - alpha) + color * BORDER_DARKEN * alpha
        alpha = _coverage(sdf + stroke)[..., None]
    else:
        alpha = _coverage(sdf)[..., None]
    window[:] = window * (1 - alpha) + color * alpha
    return float(cx), float(cy)


def _near(a: Box, b: Box, gap: float) -> bool:
    return not (a[2] + gap < b[0] or b[2] + gap < a[0] or a[3] + gap < b[1] or b[3] + gap < a[1])
