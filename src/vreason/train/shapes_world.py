"""The shapes world: deterministic synthetic scenes (shapes in colours, short rendered text) with questions
and exact answers about colour, shape, presence, counting, relative position, grounding and reading.

This module draws the scenes; their questions and answer forms are shapes_questions.py's (`SceneQuestions`,
which ShapesWorld mixes in). Same seed, same scenes, same questions. Colours include the easy-VQA palette with
its exact RGB values; boxes are Qwen3-VL's format: `[{"bbox_2d": [x1, y1, x2, y2], "label": ...}]`, coordinates
relative to the image on 0-1000.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from vreason.shapes_palette import PALETTE  # the shapes world draws in it (and re-exports it)
from vreason.train import shapes_varied as varied
from vreason.train.shapes_questions import QA, SHAPES, SceneQuestions, Shape
from vreason.train.shapes_varied import SQUARE_SHARE

WORDS = ("stop", "open", "exit", "cat", "dog", "sun", "red", "blue", "box", "tree", "fish", "moon", "star",
         "up", "down", "left", "right", "yes", "no", "hello")
TEXT_LABEL = 255
OVERLAP_SHARE = 0.25  # varied scenes whose shapes may overlap
MAX_HIDDEN = 0.15  # the most of a shape a later one may hide
# Varied scenes whose shapes are all small (SMALL_EXTENT of the picture's shorter side, at least 14 px, stars and
# hexagons 18: smaller ones read as circles) however many there are: otherwise shapes shrink as their number
# grows, and a model can answer "how many" from how big the shapes are (the built-in model undercounted
# small objects seen from above by one, more often the more there were).
SMALL_SHARE = 0.3
SMALL_EXTENT = (0.08, 0.22)
SMALL_MIN_PX = {"star": 18, "hexagon": 18}
# Varied scenes whose shapes share one or two colours and one or two kinds, so the same colour and shape come
# more than once (two yellow circles): with 10 x 5 to choose from they seldom do, and the model learned to count
# the different ones (seen from above, 3D objects have two silhouettes and repeat often).
REPEAT_SHARE = 0.2
POINTED = ("triangle", "star")  # never partly hidden: a triangle without its tip is no triangle


@dataclass
class Scene:
    image: Image.Image
    shapes: list[Shape] = field(default_factory=list)
    text: str | None = None
    text_color: str | None = None
    qas: list[QA] = field(default_factory=list)
    # which pixel shows what, same size as `image` ("L"): 0 background, i + 1 shapes[i], TEXT_LABEL the text
    labels: Image.Image | None = None
    # varied scenes: each shape's whole area in pixels (before any later shape hides part of it)
    areas: list[int] = field(default_factory=list)


class ShapesWorld(SceneQuestions):
    def __init__(self, seed: int = 0, color_jitter: int = 0, varied: bool = False,
                 turned: tuple[float, float] | None = None, repeat_share: float = REPEAT_SHARE,
                 square_share: float = SQUARE_SHARE, styling: varied.Styling | None = None,
                 kinds: tuple[str, ...] = SHAPES):
        """`color_jitter`: each channel of a drawn colour moves by up to this much from the palette's value, so
        a dark red is still red (0: the palette exactly, and the same scenes as before for a seed); on varied
        pictures any jitter draws shades across each name's share of colour space instead (shapes_varied.shade).
        `varied`: pictures drawn in varied ways (shapes_varied.py) and the "describe" and "json" families too;
        False draws exactly the scenes it always drew for a seed. `turned` (varied only): every shape turned by
        between these many degrees, either way (None: shapes_varied's share turned within its MAX_ROTATION).
        `repeat_share` (varied only): the share of varied scenes of two or more shapes drawn in only one or two
        colours and kinds, so that "how many red shapes" is often 2 or more (the default draws the same scenes
        as before for a seed). `square_share` (varied only): the share of varied pictures of shapes drawn square
        (the default draws the same scenes as before for a seed). `styling` (varied only): how shapes are
        styled and bordered (shapes_varied.Styling; None: the styles and borders the varied part was drawn with).
        `kinds` (varied only): what each shape's kind is drawn from, a kind named twice drawn twice as often (the
        default, each of SHAPES once, draws the same scenes as before for a seed); a repeated scene (`repeat_share`)
        still picks its one or two kinds from all of SHAPES."""
        if (turned is not None or styling is not None or tuple(kinds) != SHAPES) and not varied:
            raise ValueError("turned, styled or weighted shapes are drawn in varied scenes only (varied=True)")
        if not kinds or set(kinds) - set(SHAPES):
            raise ValueError(f"kinds must name shapes of {', '.join(SHAPES)}; got {kinds!r}")
        self.rng = random.Random(seed)
        self.color_jitter = color_jitter
        self.varied = varied
        self.turned = turned
        self.repeat_share = repeat_share
        self.square_share = square_share
        self.styling = styling
        self.kinds = tuple(kinds)

    def _paint(self, color: str) -> tuple[int, int, int]:
        if not self.color_jitter:
            return PALETTE[color]
        j = self.color_jitter
        if self.varied:  # shades people would still call by the name (shapes_varied.shade)
            return varied.shade(self.rng, color, PALETTE)
        return tuple(min(255, max(0, c + self.rng.randint(-j, j))) for c in PALETTE[color])

    # -- scenes ------------------------------------------------------------------------------------------

    def scene(self, kind: str | None = None) -> Scene:
        """A scene with questions; `kind` picks the question family (None: a mix)."""
        rng = self.rng
        if self.varied:
            return self._varied_scene(kind)
        if kind == "reading":
            return self._text_scene()
        single = kind in ("color", "shape", "presence", "grounding") and rng.random() < 0.6
        count = 1 if single else rng.randint(2 if kind == "position" else 1, 5)
        scene = self._shape_scene(count)
        scene.qas = self._questions(scene, kind)
        return scene

    def _background(self, size: int) -> Image.Image:
        rng = self.rng
        base = tuple(rng.randint(225, 255) for _ in range(3))
        return Image.new("RGB", (size, size), base)

    def _shape_scene(self, count: int) -> Scene:
        rng = self.rng
        side = rng.choice((128, 160, 192, 224, 256)) if count > 1 else rng.choice((64, 96, 128, 160, 192))
        image = self._background(side)
        draw = ImageDraw.Draw(image)
        labels = Image.new("L", image.size, 0)
        label_draw = ImageDraw.Draw(labels)
        shapes: list[Shape] = []
        attempts = 0
        while len(shapes) < count and attempts < 200:
            attempts += 1
            extent = rng.randint(int(side * (0.22 if count > 2 else 0.3)), int(side * (0.4 if count > 1 else 0.7)))
            x1 = rng.randint(1, side - extent - 1)
            y1 = rng.randint(1, side - extent - 1)
            kind = rng.choice(SHAPES)
            w = extent if kind in ("circle", "star", "hexagon") else rng.randint(int(extent * 0.6), extent)
            h = extent if kind in ("circle", "star", "hexagon") else rng.randint(int(extent * 0.6), extent)
            box = (x1, y1, x1 + w, y1 + h)
            margin = max(2, side // 40)
            if any(_overlaps(box, s.box, margin) for s in shapes):
                continue
            color = rng.choice(list(PALETTE))
            _draw(label_draw, kind, box, len(shapes) + 1)
            shapes.append(Shape(kind, color, _draw(draw, kind, box, self._paint(color))))
        return Scene(image=image, shapes=shapes, labels=labels)

    def _text_scene(self) -> Scene:
        rng = self.rng
        side = rng.choice((96, 128, 160))
        image = self._background(side)
        text = rng.choice(WORDS) if rng.random() < 0.5 else str(rng.randint(0, 999))
        font = ImageFont.load_default(size=rng.randint(side // 5, side // 3))
        color, labels, question = self._write(image, text, font)
        return Scene(image=image, text=text, text_color=color, qas=[QA("reading", question, text)], labels=labels)

    def _write(self, image: Image.Image, text: str, font) -> tuple[str, Image.Image, str]:
        """`text` somewhere on `image` in a random colour: its colour name, label image and reading question."""
        rng = self.rng
        draw = ImageDraw.Draw(image)
        left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
        x = rng.randint(0, max(0, image.width - (right - left))) - left
        y = rng.randint(0, max(0, image.height - (bottom - top))) - top
        color = rng.choice(("black", "blue", "red", "brown", "teal", "purple"))
        draw.text((x, y), text, fill=self._paint(color), font=font)
        labels = Image.new("L", image.size, 0)
        ImageDraw.Draw(labels).text((x, y), text, fill=TEXT_LABEL, font=font)
        question = rng.choice(("what does the text say?", "what is written in the image?", "read the text."))
        if text.isdigit():
            question = rng.choice((question, "what number is written?"))
        return color, labels, question

    # -- varied scenes (shapes_varied.py draws them) --------------------------------------------------------

    def _varied_scene(self, kind: str | None) -> Scene:
        rng = self.rng
        if kind == "reading":
            return self._varied_text_scene()
        single = kind in ("color", "shape", "presence", "grounding", "json") and rng.random() < 0.6
        count = 1 if single else rng.randint(2 if kind == "position" else 1, 5)
        scene = self._varied_shape_scene(count)
        scene.qas = self._questions(scene, kind)
        return scene

    def _varied_shape_scene(self, count: int) -> Scene:
        rng = self.rng
        noise = np.random.default_rng(rng.getrandbits(64))
        size = varied.picture_size(rng, 64 if count == 1 else 128, self.square_share)
        width, height = size
        side = min(size)
        image = varied.background(rng, noise, size)
        labels = np.zeros((height, width), np.uint8)
        scale = rng.randint(1, 4)  # 1: hard edges as in the plain scenes
        overlap = count > 1 and rng.random() < OVERLAP_SHARE
        gap = rng.choice((0, 1, 2, max(2, side // 40)))  # 0: shapes may touch
        small = rng.random() < SMALL_SHARE
        repeated = count > 1 and rng.random() < self.repeat_share
        colors = rng.sample(list(PALETTE), rng.randint(1, 2)) if repeated else list(PALETTE)
        kinds = rng.sample(SHAPES, rng.randint(1, 2)) if repeated else self.kinds
        if small:
            low, high = max(14, int(side * SMALL_EXTENT[0])), int(side * SMALL_EXTENT[1])
        else:
            low, high = max(16, int(side * (0.18 if count > 2 else 0.25))), int(side * (0.45 if count > 1 else 0.8))
        shapes: list[Shape] = []
        areas: list[int] = []
        styles: list[str] = []
        attempts = 0
        while len(shapes) < count and attempts < 200:
            attempts += 1
            extent = rng.randint(low, max(low, high))
            kind = rng.choice(kinds)
            if small:
                extent = max(extent, SMALL_MIN_PX.get(kind, 0))
            w = h = float(extent)
            if kind != "star" and kind != "hexagon":  # thin and thick ones; circles stay round
                h = extent * rng.uniform(*{"circle": (0.92, 1.0), "rectangle": (0.25, 1.0)}.get(kind, (0.5, 1.0)))
                if rng.random() < 0.5:
                    w, h = h, w
            turned = rng.random() < varied.ROTATED_SHARE
            angle = rng.uniform(-varied.MAX_ROTATION, varied.MAX_ROTATION) if turned else 0.0
            if self.turned:  # after the draws above, so that without it the scenes stay as they were
                angle = rng.choice((-1, 1)) * rng.uniform(*self.turned)
            points = varied.outline(kind, w, h, angle)
            half_w, half_h = max(abs(p[0]) for p in points), max(abs(p[1]) for p in points)
            if 2 * half_w + 4 > width or 2 * half_h + 4 > height:
                continue
            cx, cy = rng.uniform(half_w + 1, width - half_w - 2), rng.uniform(half_h + 1, height - half_h - 2)
            box = (round(cx - half_w), round(cy - half_h), round(cx + half_w), round(cy + half_h))
            style = rng.choice(self.styling.styles if self.styling else varied.STYLES)
            near = [i for i, s in enumerate(shapes) if _overlaps(box, s.box, gap)]
            if near and not (overlap and style != "outline" and all(styles[i] != "outline" for i in near)):
                continue  # outline-only shapes never overlap: what shows through them would be ambiguous
            if style == "border" and self.styling:
                stroke = self.styling.stroke(rng, extent)
            else:
                stroke = rng.randint(1, max(1, min(4, extent // 10))) if style == "border" else \
                    rng.randint(max(3, extent // 10), max(3, extent // 6))
            drawn = varied.draw(points, cx, cy, scale, style, stroke)
            covers, shows = varied.covered(drawn.fill), varied.covered(drawn.paint)
            if not shows.any():
                continue
            region = labels[drawn.y : drawn.y + covers.shape[0], drawn.x : drawn.x + covers.shape[1]]
            if near:  # what of each earlier shape would stay in view
                hidden = np.bincount(region[covers], minlength=len(shapes) + 1)[1:]
                visible = np.bincount(labels.ravel(), minlength=len(shapes) + 1)[1:]
                if any((area - visible[i] + hidden[i]) / area > MAX_HIDDEN for i, area in enumerate(areas)):
                    continue
                if any(hidden[i] and shapes[i].kind in POINTED for i in range(len(shapes))):
                    continue
            color = rng.choice(colors)
            paint = self._paint(color)
            image.paste(paint, (drawn.x, drawn.y), drawn.paint)  # blended by coverage: anti-aliased edges
            border_share = self.styling.border_share if self.styling else varied.BORDER_SHARE
            if drawn.border is not None and varied.covered(drawn.border).sum() > border_share * covers.sum():
                drawn.border = None  # a border over much of a small or thin shape would hide its colour
            if drawn.border is not None:  # black or a darker shade of the shape's colour
                if self.styling:
                    dark = self.styling.border_color(rng, paint)
                else:
                    dark = (0, 0, 0) if rng.random() < 0.5 else tuple(round(c * 0.4) for c in paint)
                image.paste(dark, (drawn.x, drawn.y), drawn.border)
            region[shows] = len(shapes) + 1
            shapes.append(Shape(kind, color, drawn.box()))
            areas.append(int(shows.sum()))
            styles.append(style)
        return Scene(image=varied.finish(image, rng), shapes=shapes, labels=Image.fromarray(labels, "L"),
                     areas=areas)

    def _varied_text_scene(self) -> Scene:
        rng = self.rng
        noise = np.random.default_rng(rng.getrandbits(64))
        size = varied.picture_size(rng, 96)
        image = varied.background(rng, noise, size)
        text = rng.choice(WORDS) if rng.random() < 0.5 else str(rng.randint(0, 999))
        draw = ImageDraw.Draw(image)
        points = rng.randint(min(size) // 5, min(size) // 3)
        while True:  # the whole text fits
            font = ImageFont.load_default(size=points)
            left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
            if right - left <= size[0] - 2 or points <= 10:
                break
            points -= 2
        color, labels, question = self._write(image, text, font)
        picture = varied.finish(image, rng)
        return Scene(image=picture, text=text, text_color=color, qas=[QA("reading", question, text)], labels=labels)

def _overlaps(a: tuple[int, int, int, int], b: tuple[int, int, int, int], margin: int) -> bool:
    return not (a[2] + margin < b[0] or b[2] + margin < a[0] or a[3] + margin < b[1] or b[3] + margin < a[1])


def _draw(draw: ImageDraw.ImageDraw, kind: str, box: tuple[int, int, int, int], color: tuple[int, int, int] | int):
    """Draw inside `box`; returns the tight box of what was drawn (hexagons and stars do not fill it)."""
    x1, y1, x2, y2 = box
    if kind == "circle":
        draw.ellipse(box, fill=color)
        return box
    if kind == "rectangle":
        draw.rectangle(box, fill=color)
        return box
    if kind == "triangle":
        draw.polygon([((x1 + x2) / 2, y1), (x2, y2), (x1, y2)], fill=color)
        return box
    cx, cy, r = (x1 + x2) / 2, (y1 + y2) / 2, (x2 - x1) / 2
    if kind == "hexagon":
        points = [(cx + r * math.cos(math.pi / 3 * i), cy + r * math.sin(math.pi / 3 * i)) for i in range(6)]
    else:  # five-pointed star, point up
        points = []
        for i in range(10):
            radius = r if i % 2 == 0 else r * 0.45
            angle = -math.pi / 2 + math.pi / 5 * i
            points.append((cx + radius * math.cos(angle), cy + radius * math.sin(angle)))
    draw.polygon(points, fill=color)
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    return (round(min(xs)), round(min(ys)), round(max(xs)), round(max(ys)))
