"""Questions about a shapes-world scene and their exact answers, in the forms the built-in model is trained on:
colour, shape, presence, counting, relative position, grounding (Qwen3-VL's `bbox_2d` boxes, relative to the
image on 0-1000), and on varied scenes a description ("a red circle and two blue stars") and JSON.

`SceneQuestions` is ShapesWorld's question half (shapes_world.py draws the scenes): its methods draw from the
world's `rng` and ask the varied wordings when the world is `varied`, so the same seed asks the same questions.
The answer forms are module functions, so evaluation can read answers back (`described_shapes`) and other
generators (clips, 3D views, memory rows) can speak them the same way.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from vreason.shapes_palette import PALETTE

if TYPE_CHECKING:
    import random

    from PIL import Image

SHAPES = ("circle", "rectangle", "triangle", "star", "hexagon")
KINDS = ("color", "shape", "presence", "count", "position", "grounding", "reading")
# varied scenes (ShapesWorld(varied=True)) also ask for a description and for JSON
VARIED_KINDS = (*KINDS, "describe", "json")
NUMBERS = {2: "two", 3: "three", 4: "four", 5: "five"}
# Varied scenes also ask for a colour in the words people use beyond the plain scenes' four
VARIED_COLOR_QUESTIONS = ("what colour is the shape?", "what colour is it?", "what color is it?",
                          "which colour is the {kind}?", "which color is the {kind}?", "what colour is the {kind}?")
VARIED_WORDING_SHARE = 0.4
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


def relative_box(box: tuple[int, int, int, int], size: tuple[int, int]) -> list[int]:
    w, h = size
    return [round(box[0] / w * 1000), round(box[1] / h * 1000), round(box[2] / w * 1000), round(box[3] / h * 1000)]


def grounding_answer(shapes: list[Shape], size: tuple[int, int]) -> str:
    return json.dumps([{"bbox_2d": relative_box(s.box, size), "label": s.name} for s in shapes])


class Scene(Protocol):
    """What the questions read of a scene (shapes_world.Scene is one): its picture and its shapes."""

    image: Image.Image
    shapes: list[Shape]


class SceneQuestions:
    """The question families of a scene; the class that mixes it in has `rng` (random.Random) and `varied`."""

    rng: random.Random
    varied: bool

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
    `SceneQuestions._describe_qas`' answers, in any order."""
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
