"""Questions about the independent renderer's pictures, and the evaluation set written from them.

The question forms and answer formats are the training generator's (vreason.train.shapes_questions), copied as
text: the model is asked what it was trained to be asked, about pictures it was not trained on. Two families
the training data never asks are added for open questions about what the model can say: "describe" (every
shape, left to right) and "json" (a single shape's colour and shape as a JSON object); they have no bar.
"describe-reworded" asks for the same list in words people type that no training question uses
(`REWORDED_DESCRIBE`): "describe" itself asks in one of the training data's wordings, so only this family says
whether the model understood the request or learnt its words. It is the last family, so adding it left every
earlier family's pictures and questions as they were.

    write_independent_eval(out, per_kind, seed) -> out / "eval.jsonl"

writes one picture per question and single-question rows tagged with their `kind`, the format of
vreason.train.demo_data.write_shapes_eval, so vreason.train.qa_eval scores them.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from vreason.eval.shapes_independent import (
    COLORS,
    SHAPES,
    DrawnShape,
    IndependentRenderer,
    IndependentScene,
    relative_box,
)

KINDS = ("color", "shape", "presence", "count", "position", "grounding", "describe", "json", "describe-reworded")
NUMBER_WORDS = {2: "two", 3: "three", 4: "four"}
DESCRIBE_QUESTION = "what is in the image?"
JSON_QUESTION = "answer in JSON with color and shape"
# none of these is near a training question (shapes_questions.DESCRIBE_QUESTIONS, train/open_wordings' two sets):
# case, closing marks and "what's" aside, each is two or more words away from every one, neither holds the other,
# and they share no run of four words (tests/unit/test_shapes_independent.py checks it)
REWORDED_DESCRIBE = ("Describe this picture.", "what does this picture contain?", "Can you list the objects in this "
                     "image?", "what shapes are there?", "Which shapes can you see?", "tell me about this picture",
                     "What is shown here?", "name the shapes you see")


def grounding_answer(shapes: list[DrawnShape], size: tuple[int, int]) -> str:
    return json.dumps([{"bbox_2d": relative_box(s.box, size), "label": s.name} for s in shapes])


def describe_answer(shapes: list[DrawnShape]) -> str:
    """"a red circle and two blue stars": one entry per colour and kind, left to right by the leftmost centre."""
    groups: dict[str, list[DrawnShape]] = {}
    for s in sorted(shapes, key=lambda s: s.center):  # left to right, then top to bottom, as training names them
        groups.setdefault(s.name, []).append(s)
    parts = [f"{_article(name)} {name}" if len(members) == 1 else f"{NUMBER_WORDS[len(members)]} {name}s"
             for name, members in groups.items()]
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def _unique(shapes: list[DrawnShape], attr: str) -> list[DrawnShape]:
    values = [getattr(s, attr) for s in shapes]
    return [s for s in shapes if values.count(getattr(s, attr)) == 1]


def _named_once(shapes: list[DrawnShape]) -> list[DrawnShape]:
    names = [s.name for s in shapes]
    return [s for s in shapes if names.count(s.name) == 1]


def _color(scene: IndependentScene, rng: random.Random) -> list[tuple[str, str]]:
    if len(scene.shapes) == 1:
        s = scene.shapes[0]
        q = rng.choice(("what color is the shape?", f"what color is the {s.kind}?",
                        "what is the color of the shape?", f"what is the color of the {s.kind}?"))
        return [(q, s.color)]
    return [(f"what color is the {s.kind}?", s.color) for s in _unique(scene.shapes, "kind")]


def _shape(scene: IndependentScene, rng: random.Random) -> list[tuple[str, str]]:
    if len(scene.shapes) == 1:
        s = scene.shapes[0]
        q = rng.choice(("what shape is in the image?", "what shape is present?", f"what is the {s.color} shape?",
                        "what shape does the image contain?"))
        return [(q, s.kind)]
    return [(f"what is the {s.color} shape?", s.kind) for s in _unique(scene.shapes, "color")]


def _presence(scene: IndependentScene, rng: random.Random) -> list[tuple[str, str]]:
    if rng.random() < 0.5:
        attr, value = "color", rng.choice(COLORS)
        thing = f"{value} shape"
    else:
        attr, value = "kind", rng.choice(SHAPES)
        thing = value
    present = any(getattr(s, attr) == value for s in scene.shapes)
    article = _article(thing)
    if rng.random() < 0.4:
        q = rng.choice((f"is there not {article} {thing}?", f"does the image not contain {article} {thing}?",
                        f"is no {thing} present?"))
        return [(q, "no" if present else "yes")]
    q = rng.choice((f"is there {article} {thing}?", f"does the image contain {article} {thing}?",
                    f"is {article} {thing} present?", f"is there {article} {thing} in the image?"))
    return [(q, "yes" if present else "no")]


def _count(scene: IndependentScene, rng: random.Random) -> list[tuple[str, str]]:
    kind = rng.choice(SHAPES)
    color = rng.choice([s.color for s in scene.shapes])
    return [
        ("how many shapes are there?", str(len(scene.shapes))),
        (f"how many {kind}s are there?", str(sum(s.kind == kind for s in scene.shapes))),
        (f"how many {color} shapes are there?", str(sum(s.color == color for s in scene.shapes))),
    ]


def _position(scene: IndependentScene, rng: random.Random) -> list[tuple[str, str]]:
    named = _named_once(scene.shapes)
    out = []
    clear = min(scene.size) * 0.15
    for a in named:
        for b in named:
            if a is b:
                continue
            dx, dy = a.center[0] - b.center[0], a.center[1] - b.center[1]
            if max(abs(dx), abs(dy)) < clear or 0.6 < abs(dx) / (abs(dy) + 1e-6) < 1.6:
                continue  # too close or diagonal: no clear answer
            horizontal = abs(dx) > abs(dy)
            relation = ("left" if dx < 0 else "right") if horizontal else ("above" if dy < 0 else "below")
            if rng.random() < 0.5:
                out.append((f"where is the {a.name} relative to the {b.name}?", relation))
            else:
                asked = rng.choice(("left", "right", "above", "below"))
                phrase = {"left": "to the left of", "right": "to the right of", "above": "above", "below": "below"}
                out.append((f"is the {a.name} {phrase[asked]} the {b.name}?", "yes" if asked == relation else "no"))
    return out


def _grounding(scene: IndependentScene, rng: random.Random) -> list[tuple[str, str]]:
    """Single objects only: the quality bar is about one box."""
    out = []
    for s in _named_once(scene.shapes):
        q = rng.choice((f"locate the {s.name} and output its bbox_2d in JSON.",
                        f"where is the {s.name}? give the box.", f"detect the {s.name}."))
        out.append((q, grounding_answer([s], scene.size)))
    return out


def _describe(scene: IndependentScene, rng: random.Random) -> list[tuple[str, str]]:
    return [(DESCRIBE_QUESTION, describe_answer(scene.shapes))]


def _describe_reworded(scene: IndependentScene, rng: random.Random) -> list[tuple[str, str]]:
    return [(rng.choice(REWORDED_DESCRIBE), describe_answer(scene.shapes))]


def _json(scene: IndependentScene, rng: random.Random) -> list[tuple[str, str]]:
    if len(scene.shapes) != 1:
        return []
    s = scene.shapes[0]
    return [(JSON_QUESTION, json.dumps({"color": s.color, "shape": s.kind}))]


FAMILIES = {"color": _color, "shape": _shape, "presence": _presence, "count": _count, "position": _position,
            "grounding": _grounding, "describe": _describe, "json": _json, "describe-reworded": _describe_reworded}


def scene_count(kind: str, rng: random.Random) -> int:
    """How many shapes a picture for a question of `kind` gets."""
    if kind == "json":
        return 1
    if kind == "position":
        return rng.randint(2, 4)
    if kind in ("color", "shape", "presence", "grounding") and rng.random() < 0.4:
        return 1
    return rng.randint(1, 4)


def questions(scene: IndependentScene, kind: str, rng: random.Random) -> list[tuple[str, str]]:
    """Every (question, answer) of family `kind` the scene supports (possibly none)."""
    if kind not in FAMILIES:
        raise ValueError(f"kind ({kind!r}) must be one of {KINDS}")
    return FAMILIES[kind](scene, rng)


def write_independent_eval(out: Path, per_kind: int, seed: int, kinds: tuple[str, ...] = KINDS) -> Path:
    """`per_kind` questions of each family in `kinds`, one picture each, into out/images and out/eval.jsonl;
    returns the JSONL's path. Rows: image (relative to `out`), question, answer, kind, and the drawing styles
    of the picture's shapes (so a score can be broken down by them)."""
    if per_kind < 1:
        raise ValueError(f"per_kind ({per_kind}) must be at least 1")
    unknown = [k for k in kinds if k not in FAMILIES]
    if unknown:
        raise ValueError(f"unknown kinds {unknown}; known: {KINDS}")
    renderer = IndependentRenderer(seed)
    rng = random.Random(seed + 1)
    (out / "images").mkdir(parents=True, exist_ok=True)
    target = out / "eval.jsonl"
    with target.open("w") as handle:
        for kind in kinds:
            written = 0
            while written < per_kind:
                scene = renderer.scene(scene_count(kind, rng))
                qas = questions(scene, kind, rng)
                if not qas:
                    continue
                question, answer = rng.choice(qas)
                name = f"images/{kind}{written:05d}.png"
                scene.image.save(out / name)
                row = {"image": name, "question": question, "answer": answer, "kind": kind,
                       "styles": [s.style for s in scene.shapes]}
                handle.write(json.dumps(row) + "\n")
                written += 1
    return target
