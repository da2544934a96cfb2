"""The shapes world: deterministic synthetic scenes (shapes in colours, short rendered text) with questions
and exact answers about colour, shape, presence, counting, relative position, grounding and reading.

Same seed, same scenes, same questions. Colours include the easy-VQA palette with its exact RGB values;
boxes are Qwen3-VL's format: `[{"bbox_2d": [x1, y1, x2, y2], "label": ...}]`, coordinates relative to the
image on 0-1000.
"""

from __future__ import annotations

import json
import math
import random
import re
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from vreason.shapes_palette import PALETTE  # the shapes world draws in it (and re-exports it)
from vreason.train import shapes_varied as varied
from vreason.train.shapes_varied import SQUARE_SHARE

SHAPES = ("circle", "rectangle", "triangle", "star", "hexagon")
WORDS = ("stop", "open", "exit", "cat", "dog", "sun", "red", "blue", "box", "tree", "fish", "moon", "star",
         "up", "down", "left", "right", "yes", "no", "hello")
KINDS = ("color", "shape", "presence", "count", "position", "grounding", "reading")
# varied scenes (ShapesWorld(varied=True)) also ask for a description and for JSON
VARIED_KINDS = (*KINDS, "describe", "json")
NUMBERS = {2: "two", 3: "three", 4: "four", 5: "five"}
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
# Varied scenes also ask for a colour in the words people use beyond the plain scenes' four
VARIED_COLOR_QUESTIONS = ("what colour is the shape?", "what colour is it?", "what color is it?",
                          "which colour is the {kind}?", "which color is the {kind}?", "what colour is the {kind}?")
VARIED_WORDING_SHARE = 0.4
POINTED = ("triangle", "star")  # never partly hidden: a triangle without its tip is no triangle
DESCRIBE_QUESTIONS = ("what is in the image?", "describe the image.", "what shapes are in the image?",
                      "what do you see in the image?", "which shapes are in the picture?",
                      "list the shapes in the image.")
JSON_QUESTIONS = ("answer in JSON with color and shape", "give the color and shape as JSON.",
                  "reply in json: color, shape", "what color and shape is it? answer in JSON.")
JSON_LIST_QUESTIONS = ("list the shapes as JSON.", "list every shape as JSON with color and shape.",
                       "reply in json: a list of the shapes with color and shape")


@dataclass(frozen=True)
class Shape:
    kind: str
    color: str
    box: tuple[int, int, int, int]  # pixel box (x1, y1, x2, y2), inclusive of the drawn shape

    @property
    def name(self) -> str:
        return f"{self.color} {self.kind}"

    @property
    def center(self) -> tuple[float, float]:
        return (self.box[0] + self.box[2]) / 2, (self.box[1] + self.box[3]) / 2


@dataclass
class QA:
    kind: str  # one of KINDS (VARIED_KINDS in varied scenes)
    question: str
    answer: str


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


def relative_box(box: tuple[int, int, int, int], size: tuple[int, int]) -> list[int]:
    w, h = size
    return [round(box[0] / w * 1000), round(box[1] / h * 1000), round(box[2] / w * 1000), round(box[3] / h * 1000)]


def grounding_answer(shapes: list[Shape], size: tuple[int, int]) -> str:
    return json.dumps([{"bbox_2d": relative_box(s.box, size), "label": s.name} for s in shapes])


class ShapesWorld:
    def __init__(self, seed: int = 0, color_jitter: int = 0, varied: bool = False,
                 turned: tuple[float, float] | None = None, repeat_share: float = REPEAT_SHARE,
                 square_share: float = SQUARE_SHARE, styling: varied.Styling | None = None):
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
        styled and bordered (shapes_varied.Styling; None: the styles and borders the varied part was drawn with)."""
        if (turned is not None or styling is not None) and not varied:
            raise ValueError("turned or styled shapes are drawn in varied scenes only (varied=True)")
        self.rng = random.Random(seed)
        self.color_jitter = color_jitter
        self.varied = varied
        self.turned = turned
        self.repeat_share = repeat_share
        self.square_share = square_share
        self.styling = styling

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
        kinds = rng.sample(SHAPES, rng.randint(1, 2)) if repeated else SHAPES
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

    # -- questions -----------------------------------------------------------------------------------------

    def _questions(self, scene: Scene, kind: str | None) -> list[QA]:
        families = {
            "color": self._color_qas,
            "shape": self._shape_qas,
            "presence": self._presence_qas,
            "count": self._count_qas,
            "position": self._position_qas,
            "grounding": self._grounding_qas,
        }
        if self.varied:
            families |= {"describe": self._describe_qas, "json": self._json_qas}
        chosen = [kind] if kind else list(families)
        qas = [qa for name in chosen for qa in families[name](scene)]
        self.rng.shuffle(qas)
        return qas

    def _unique(self, scene: Scene, attr: str) -> list[Shape]:
        values = [getattr(s, attr) for s in scene.shapes]
        return [s for s in scene.shapes if values.count(getattr(s, attr)) == 1]

    def _color_qas(self, scene: Scene) -> list[QA]:
        rng = self.rng
        if len(scene.shapes) == 1:
            s = scene.shapes[0]
            if self.varied and rng.random() < VARIED_WORDING_SHARE:
                return [QA("color", rng.choice(VARIED_COLOR_QUESTIONS).format(kind=s.kind), s.color)]
            q = rng.choice(("what color is the shape?", f"what color is the {s.kind}?",
                            "what is the color of the shape?", f"what is the color of the {s.kind}?"))
            return [QA("color", q, s.color)]
        out = []
        for s in self._unique(scene, "kind")[:2]:
            q = f"what color is the {s.kind}?"
            if self.varied and rng.random() < VARIED_WORDING_SHARE:  # only wordings that name the shape
                q = rng.choice([w for w in VARIED_COLOR_QUESTIONS if "{kind}" in w]).format(kind=s.kind)
            out.append(QA("color", q, s.color))
        return out

    def _shape_qas(self, scene: Scene) -> list[QA]:
        rng = self.rng
        if len(scene.shapes) == 1:
            s = scene.shapes[0]
            q = rng.choice(("what shape is in the image?", "what shape is present?", f"what is the {s.color} shape?",
                            "what shape does the image contain?"))
            return [QA("shape", q, s.kind)]
        return [QA("shape", f"what is the {s.color} shape?", s.kind) for s in self._unique(scene, "color")[:2]]

    def _presence_qas(self, scene: Scene) -> list[QA]:
        rng = self.rng
        out = []
        for _ in range(2):
            if rng.random() < 0.5:
                attr, value = "color", rng.choice(list(PALETTE))
                thing = f"{value} shape"
            else:
                attr, value = "kind", rng.choice(SHAPES)
                thing = value
            present = any(getattr(s, attr) == value for s in scene.shapes)
            article = "an" if thing[0] in "aeiou" else "a"
            negated = rng.random() < 0.4
            if negated:
                q = rng.choice((f"is there not {article} {thing}?", f"does the image not contain {article} {thing}?",
                                f"is no {thing} present?"))
                out.append(QA("presence", q, "no" if present else "yes"))
            else:
                q = rng.choice((f"is there {article} {thing}?", f"does the image contain {article} {thing}?",
                                f"is {article} {thing} present?", f"is there {article} {thing} in the image?"))
                out.append(QA("presence", q, "yes" if present else "no"))
        return out

    def _count_qas(self, scene: Scene) -> list[QA]:
        rng = self.rng
        kind = rng.choice(SHAPES)
        color = rng.choice([s.color for s in scene.shapes])
        return [
            QA("count", "how many shapes are there?", str(len(scene.shapes))),
            QA("count", f"how many {kind}s are there?", str(sum(s.kind == kind for s in scene.shapes))),
            QA("count", f"how many {color} shapes are there?", str(sum(s.color == color for s in scene.shapes))),
        ]

    def _position_qas(self, scene: Scene) -> list[QA]:
        rng = self.rng
        named = [s for s in scene.shapes if [t.name for t in scene.shapes].count(s.name) == 1]
        out = []
        pairs = [(a, b) for a in named for b in named if a is not b]
        rng.shuffle(pairs)
        side = min(scene.image.size)  # the plain scenes are square
        for a, b in pairs:
            dx, dy = a.center[0] - b.center[0], a.center[1] - b.center[1]
            if max(abs(dx), abs(dy)) < side * 0.15 or 0.6 < abs(dx) / (abs(dy) + 1e-6) < 1.6:
                continue  # too close or diagonal: no clear answer
            horizontal = abs(dx) > abs(dy)
            relation = ("left" if dx < 0 else "right") if horizontal else ("above" if dy < 0 else "below")
            if rng.random() < 0.5:
                out.append(QA("position", f"where is the {a.name} relative to the {b.name}?", relation))
            else:
                asked = rng.choice(("left", "right", "above", "below"))
                phrase = {"left": "to the left of", "right": "to the right of", "above": "above", "below": "below"}
                out.append(QA("position", f"is the {a.name} {phrase[asked]} the {b.name}?",
                              "yes" if asked == relation else "no"))
            if len(out) == 2:
                break
        return out

    def _grounding_qas(self, scene: Scene) -> list[QA]:
        rng = self.rng
        out = []
        unique = [s for s in scene.shapes if [t.name for t in scene.shapes].count(s.name) == 1]
        if unique:
            s = rng.choice(unique)
            q = rng.choice((f"locate the {s.name} and output its bbox_2d in JSON.",
                            f"where is the {s.name}? give the box.", f"detect the {s.name}."))
            out.append(QA("grounding", q, grounding_answer([s], scene.image.size)))
        kind = rng.choice([s.kind for s in scene.shapes])
        matches = box_order([s for s in scene.shapes if s.kind == kind])
        if len(matches) > 1 or not unique:
            out.append(QA("grounding", f"locate every {kind} and output bbox_2d in JSON.",
                          grounding_answer(matches, scene.image.size)))
        return out

    def _describe_qas(self, scene: Scene) -> list[QA]:
        """"a red circle, two blue stars and an orange hexagon": shapes named left to right by centre x (the
        same name counted once, where it first appears)."""
        return [QA("describe", self.rng.choice(DESCRIBE_QUESTIONS), describe_answer(scene.shapes))]

    def _json_qas(self, scene: Scene) -> list[QA]:
        """`{"color": "red", "shape": "circle"}` for one shape; a list of those, left to right, for more."""
        objects = [{"color": s.color, "shape": s.kind} for s in left_to_right(scene.shapes)]
        if len(objects) == 1:
            return [QA("json", self.rng.choice(JSON_QUESTIONS), json.dumps(objects[0]))]
        return [QA("json", self.rng.choice(JSON_LIST_QUESTIONS), json.dumps(objects))]


def described_shapes(text: str) -> Counter[str] | None:
    """The shapes a describe answer names, {"red circle": 1, "blue star": 2} for "A red circle and two blue
    stars."; None where the text is not such a list (a number, "no", an unknown colour or shape): the inverse of
    `ShapesWorld._describe_qas`' answers, in any order."""
    named: Counter[str] = Counter()
    counts = {"a": 1, "an": 1} | {word: n for n, word in NUMBERS.items()}
    items = re.split(r", and |, | and ", text.strip().lower().rstrip("."))
    for item in items:
        words = item.split()
        if len(words) != 3 or words[0] not in counts or words[1] not in PALETTE:
            return None
        n, shape = counts[words[0]], words[2]
        if (shape.removesuffix("s") if n > 1 else shape) not in SHAPES:
            return None
        named[f"{words[1]} {shape.removesuffix('s') if n > 1 else shape}"] += n
    return named


def describe_answer(shapes: list[Shape]) -> str:
    """"a red circle, two blue stars and an orange hexagon": shapes named left to right by centre x (the same name
    counted once, where it first appears)."""
    named: dict[str, int] = {}
    for s in left_to_right(shapes):
        named[s.name] = named.get(s.name, 0) + 1
    return spoken_list([f"{'an' if name[0] in 'aeiou' else 'a'} {name}" if n == 1 else f"{NUMBERS[n]} {name}s"
                        for name, n in named.items()])


def spoken_list(parts: list[str]) -> str:
    """"a red circle, a blue star and an orange hexagon": the parts as a sentence names them."""
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def box_order(shapes: list[Shape]) -> list[Shape]:
    """The order every box of a "locate every ..." answer is listed in: by the boxes' left, then top, edges."""
    return sorted(shapes, key=lambda s: (s.box[0], s.box[1]))


def left_to_right(shapes: list[Shape]) -> list[Shape]:
    """The order descriptions and JSON lists name shapes in: by centre x, then centre y."""
    return sorted(shapes, key=lambda s: s.center)


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
