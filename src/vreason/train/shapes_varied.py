"""Drawing for the shapes world's varied scenes (`ShapesWorld(varied=True)`): pictures drawn other ways than
the plain flat-colour squares the demo model first learnt from, so it also answers on those.

What varies: anti-aliasing (each shape drawn at 1-4x and box-downsampled: 1x keeps hard edges), outline-only
shapes (the ring in the shape's own colour, a tenth of its size or more thick) and filled shapes with a dark
border (1-4 px; `Styling`: other shares of styles and wider, lighter borders), thin and thick shapes, rotation
(within 25 degrees), wide shades of each colour name, picture sizes 64-512 px and non-square, tinted / gradient /
noisy light backgrounds, and JPEG artefacts (quality 40-90) baked in; shape sizes are shapes_world's (SMALL_SHARE:
some scenes only small shapes, in every number).

Every shape is a polygon (a circle is 48 points), drawn on its own small patch, so a shape's mask (coverage
>= 0.5 after downsampling) is exact for the rotated, anti-aliased shape: its pixel box and the label image
come from that mask. Random numbers come from the caller's `random.Random` (and a numpy generator seeded
from it), so the same seed draws the same pictures.
"""

from __future__ import annotations

import functools
import io
import math
import random
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageChops, ImageDraw

# lightest and darkest background channel: palette colours (jittered gray is at most 168) stay far from it
BACKGROUND_MIN = 215
STYLES = ("fill", "fill", "fill", "border", "outline")
BORDER_SHARE = 0.25  # a border over more of a shape than this is left out: it would hide a small shape's colour
JPEG_SHARE = 0.35
# A turned shape keeps its name: within 10 degrees (the first varied data) the model named shapes turned 11-15
# degrees only 0.65 of the time on pictures drawn by other code (1.00 within 10), so training turns them further
MAX_ROTATION = 25.0
ROTATED_SHARE = 0.6
# A colour name covers more than a tight cloud around its palette value (within +-40 a channel, the first varied
# data, the model called a (220, 20, 20) red "brown" and a (30, 200, 50) green "teal" on pictures drawn by other
# code): `shade` draws within SHADE_SPREAD a channel and keeps a shade only if, in CIELAB, it is nearer its own
# palette colour than SHADE_MARGIN times any other. RGB distance will not do: gray sits mid-cube with no near
# neighbour, so (147, 200, 59) was nearer "gray" than anything, and a crimson (205, 19, 32) nearer "brown".
# Gray and black move in lightness with a small tint only (chroma at most ACHROMATIC_CHROMA); brown is a dark,
# muted red-orange (L* and chroma at most BROWN_LIGHTNESS and BROWN_CHROMA: lighter or more vivid ones, (218, 11,
# 76) or (220, 105, 101), people call crimson, red or salmon; nor one bluer than green by more than
# BROWN_BLUE_OVER_GREEN, a raspberry); a purple's red is PURPLE_RED_TO_BLUE times its blue (a slate blue or a
# raspberry is not purple); one channel stays at most DARKEST_CHANNEL_MAX so every shade stands off the light
# backgrounds.
SHADE_SPREAD = 72
SHADE_MARGIN = 0.6
ACHROMATIC = ("black", "gray")
ACHROMATIC_TINT = 10
ACHROMATIC_CHROMA = 12.0
BROWN_LIGHTNESS = 45.0
BROWN_CHROMA = 60.0
BROWN_BLUE_OVER_GREEN = 24
PURPLE_RED_TO_BLUE = (0.65, 1.5)
DARKEST_CHANNEL_MAX = 168


@dataclass(frozen=True)
class Styling:
    """How a varied picture's shapes are styled, when not as the varied part (STYLES; borders 1-4 px, black or
    the colour at 0.4): `styles` to draw from; a border `stroke_share` of the shape's extent wide (at least 1 px)
    and drawn in the shape's colour times a factor within `shade` (`black_share` of them black); a border
    covering more than `border_share` of the shape left out.

    Why: on pictures drawn by other code (benchmarks/independent_style_eval.py) the model named colours 0.99 of
    the time where every shape was filled and 0.90 where one had a border, reading a red with a wide, half-dark
    border "brown"; outline-only shapes took colour to 0.86 and shape to 0.80. The varied part's borders are
    thin and either black or very dark, and two shapes in five are bordered or outlined."""

    styles: tuple[str, ...] = ("fill", "border", "border", "outline", "outline")
    stroke_share: tuple[float, float] = (0.02, 0.10)
    shade: tuple[float, float] = (0.3, 0.75)
    black_share: float = 0.25
    border_share: float = 0.4

    def stroke(self, rng: random.Random, extent: int) -> int:
        return max(1, round(extent * rng.uniform(*self.stroke_share)))

    def border_color(self, rng: random.Random, paint: tuple[int, int, int]) -> tuple[int, int, int]:
        if rng.random() < self.black_share:
            return (0, 0, 0)
        factor = rng.uniform(*self.shade)
        return tuple(round(c * factor) for c in paint)


@dataclass
class Drawn:
    """One shape drawn on a patch at (x, y) of the picture: coverage (0-255) of the whole shape (`fill`), of
    what is painted in its colour (`paint`: the ring for outline-only shapes) and of its dark border."""

    x: int
    y: int
    fill: Image.Image
    paint: Image.Image
    border: Image.Image | None

    def box(self) -> tuple[int, int, int, int]:
        """The picture-pixel box (x1, y1, x2, y2, inclusive) of the whole shape's mask."""
        rows, cols = np.nonzero(covered(self.fill))
        return (self.x + int(cols.min()), self.y + int(rows.min()), self.x + int(cols.max()),
                self.y + int(rows.max()))


def covered(coverage: Image.Image) -> np.ndarray:
    """The pixels at least half covered: a shape's mask."""
    return np.asarray(coverage) >= 128


SQUARE_SHARE = 0.5  # of the varied pictures, the share drawn square


def picture_size(rng: random.Random, smallest: int, square_share: float = SQUARE_SHARE) -> tuple[int, int]:
    """Width and height within `smallest`-512 px; `square_share` of the pictures square, the rest not (sides
    0.55-0.95 apart, wide or tall alike)."""
    long = rng.randint(smallest, 512)
    if rng.random() < square_share:
        return long, long
    short = max(64, round(long * rng.uniform(0.55, 0.95)))
    return (long, short) if rng.random() < 0.5 else (short, long)


def shade(rng: random.Random, name: str, palette: dict[str, tuple[int, int, int]]) -> tuple[int, int, int]:
    """A shade of colour `name` (a key of `palette`) that people would still call by that name (see SHADE_SPREAD);
    the palette colour itself when 16 draws found none."""
    base = palette[name]
    for _ in range(16):
        if name in ACHROMATIC:  # lighter or darker, barely tinted
            step = rng.randint(-SHADE_SPREAD, SHADE_SPREAD)
            painted = tuple(_reflect(c + step + rng.randint(-ACHROMATIC_TINT, ACHROMATIC_TINT)) for c in base)
        else:
            painted = tuple(_reflect(c + rng.randint(-SHADE_SPREAD, SHADE_SPREAD)) for c in base)
        if min(painted) <= DARKEST_CHANNEL_MAX and named(painted, name, palette):
            return painted
    return base


def named(rgb: tuple[int, int, int], name: str, palette: dict[str, tuple[int, int, int]]) -> bool:
    """`rgb` fits what `name` allows (`_fits`) and, in CIELAB, is nearer its palette colour than SHADE_MARGIN
    times any other's, leaving out brown and purple where they would not allow it: brown's palette colour sits
    ~50 from red's, so against it (200, 0, 0), too vivid for any brown, would be nobody's colour; and CIELAB bends
    saturated blues towards purple ((0, 60, 200) is nearer purple's colour there)."""
    here = lab(rgb)
    if not _fits(here, rgb, name):
        return False
    own = math.dist(here, lab(palette[name]))
    return all(own < SHADE_MARGIN * math.dist(here, lab(value)) for key, value in palette.items()
               if key != name and (key not in ("brown", "purple") or _fits(here, rgb, key)))


def _fits(here: tuple[float, float, float], rgb: tuple[int, int, int], name: str) -> bool:
    """What a name allows beyond nearness: gray and black are barely tinted; brown is dark, muted and no bluer
    than green; a purple has red and blue in like measure."""
    chroma = math.hypot(here[1], here[2])
    r, g, b = rgb
    if name in ACHROMATIC:
        return chroma <= ACHROMATIC_CHROMA
    if name == "brown":
        return here[0] <= BROWN_LIGHTNESS and chroma <= BROWN_CHROMA and b <= g + BROWN_BLUE_OVER_GREEN
    if name == "purple":
        return PURPLE_RED_TO_BLUE[0] * b <= r <= PURPLE_RED_TO_BLUE[1] * b
    return True


@functools.lru_cache(maxsize=4096)
def lab(rgb: tuple[int, int, int]) -> tuple[float, float, float]:
    """CIELAB (D65) of an sRGB colour. Written out (a dozen lines of the standard formulas) because shades are
    judged one at a time as they are drawn; Pillow's ImageCms converts whole images."""

    def linear(c: int) -> float:
        v = c / 255
        return v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4

    def f(t: float) -> float:
        return t ** (1 / 3) if t > 216 / 24389 else (24389 / 27 * t + 16) / 116

    r, g, b = (linear(c) for c in rgb)
    fx = f((0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047)
    fy = f(0.2126 * r + 0.7152 * g + 0.0722 * b)
    fz = f((0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883)
    return 116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)


def _reflect(value: int) -> int:
    """A channel pushed past 0 or 255 folds back inside (clipped, a palette colour's 0 and 255 channels would
    keep most of the draws: reds would rarely get any green or blue)."""
    return -value if value < 0 else 510 - value if value > 255 else value


def background(rng: random.Random, noise: np.random.Generator, size: tuple[int, int]) -> Image.Image:
    """A light RGB picture: a plain tint, or a gradient between two tints, with sensor-like noise for a share."""
    w, h = size

    def tint() -> tuple[int, int, int]:
        return tuple(rng.randint(BACKGROUND_MIN, 255) for _ in range(3))

    image = Image.new("RGB", size, tint())
    if rng.random() < 0.5:  # a linear gradient at any angle: drawn small, stretched (it stays linear)
        angle = rng.uniform(0, 2 * math.pi)
        t = np.linspace(0, math.sin(angle), 16)[:, None] + np.linspace(0, math.cos(angle), 16)[None, :]
        t = (t - t.min()) / max(float(t.max() - t.min()), 1e-6)
        ramp = Image.fromarray((t * 255).astype(np.uint8), "L").resize(size, Image.Resampling.BILINEAR)
        image = Image.composite(Image.new("RGB", size, tint()), image, ramp)
    if rng.random() < 0.4:
        grain = noise.standard_normal((h, w), dtype=np.float32) * rng.uniform(2, 7) + 128
        grain = Image.fromarray(np.clip(grain, 0, 255).astype(np.uint8), "L")
        image = ImageChops.add(image, Image.merge("RGB", (grain, grain, grain)), scale=1.0, offset=-128)
    return image


def outline(kind: str, w: float, h: float, angle: float) -> list[tuple[float, float]]:
    """The shape's polygon around (0, 0), `w` by `h` before turning by `angle` degrees."""
    if kind == "circle":
        points = [(w / 2 * math.cos(2 * math.pi * i / 48), h / 2 * math.sin(2 * math.pi * i / 48))
                  for i in range(48)]
    elif kind == "rectangle":
        points = [(-w / 2, -h / 2), (w / 2, -h / 2), (w / 2, h / 2), (-w / 2, h / 2)]
    elif kind == "triangle":  # point up, as in the plain scenes
        points = [(0.0, -h / 2), (w / 2, h / 2), (-w / 2, h / 2)]
    elif kind == "hexagon":
        points = [(w / 2 * math.cos(math.pi / 3 * i), h / 2 * math.sin(math.pi / 3 * i)) for i in range(6)]
    else:  # five-pointed star, point up
        points = []
        for i in range(10):
            radius = 1.0 if i % 2 == 0 else 0.45
            a = -math.pi / 2 + math.pi / 5 * i
            points.append((w / 2 * radius * math.cos(a), h / 2 * radius * math.sin(a)))
    turn = math.radians(angle)
    c, s = math.cos(turn), math.sin(turn)
    return [(x * c - y * s, x * s + y * c) for x, y in points]


def draw(points: list[tuple[float, float]], x: float, y: float, scale: int, style: str, stroke: int) -> Drawn:
    """Draw the polygon (coordinates relative to the picture point (x, y)) at `scale` times and downsample:
    `style` "fill", "border" (a dark `stroke`-px border inside the shape) or "outline" (only a `stroke`-px
    ring inside the shape's edge)."""
    xs, ys = [p[0] + x for p in points], [p[1] + y for p in points]
    left, top = math.floor(min(xs)) - 1, math.floor(min(ys)) - 1
    width, height = math.ceil(max(xs)) + 2 - left, math.ceil(max(ys)) + 2 - top
    scaled = [((px - left) * scale, (py - top) * scale) for px, py in zip(xs, ys, strict=True)]

    def coverage(ring: bool) -> Image.Image:
        image = Image.new("L", (width * scale, height * scale), 0)
        ImageDraw.Draw(image).polygon(scaled, fill=255)
        if ring:  # a line twice the stroke along the edge, kept where it is inside the shape
            edge = Image.new("L", image.size, 0)
            ImageDraw.Draw(edge).line([*scaled, scaled[0], scaled[1]], fill=255, width=2 * stroke * scale,
                                      joint="curve")
            image = ImageChops.darker(image, edge)
        return image.reduce(scale) if scale > 1 else image  # box filter: the share of a pixel covered

    fill = coverage(ring=False)
    ring = coverage(ring=True) if style != "fill" else None
    if style == "outline":
        return Drawn(left, top, fill, ring, None)
    return Drawn(left, top, fill, fill, ring)


def finish(picture: Image.Image, rng: random.Random) -> Image.Image:
    """The picture, round-tripped through JPEG (quality 40-90) for a share."""
    if rng.random() < JPEG_SHARE:
        buffer = io.BytesIO()
        picture.save(buffer, format="JPEG", quality=rng.randint(40, 90))
        picture = Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")
    return picture
