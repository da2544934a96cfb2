"""How well the built-in demo model names a shape turned by an angle, on both renderers.

    .venv/bin/python benchmarks/turned_shapes_eval.py [--model DIR] [--angles 0,5,10,15,20,25,30]
        [--independent 300] [--seed N] [--json F]

Most of the card's wrong "independent/shape" answers are turned shapes (run 55: 24 of its 32 wrong answers in 400
were hexagons, 13 called circles). This asks "what shape is in the image?" about single shapes and splits the
answers by angle:

- **training generator**: `shapes_varied.outline` filled with PIL on a white 224 px picture, every pointed shape
  (triangle, rectangle, star, hexagon) at each of `--angles` degrees, three sizes (40, 60, 90 px) by three
  colours: right of 9 per cell, and what the wrong ones were called. A hexagon has six-fold symmetry, so 30 degrees
  is its other upright form (a point on top); 25 degrees is the most the varied training pictures turn a shape.
- **independent renderer**: `--independent` single-shape pictures of `IndependentRenderer(seed).scene(1)` (every
  style, shade, background and size it draws; it turns shapes within 15 degrees), right per shape and by how far
  the shape is turned (under 5, 5-10, 10-15 degrees; circles are never turned).

The earlier probe of RESULTS.md ("Turned shapes", runs 26-28) is the first part with the angles 0, 10, 15, 20, 25.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections import Counter, defaultdict
from pathlib import Path

from PIL import Image, ImageDraw

from vreason.eval.shapes_independent import IndependentRenderer
from vreason.models.placement import SYSTEM_FLAGS, cpu_summary
from vreason.train.demo_eval import INDEPENDENT_SEED
from vreason.train.shapes_varied import outline

QUESTION = "what shape is in the image?"
POINTED = ("triangle", "rectangle", "star", "hexagon")
SIZES = (40, 60, 90)
COLORS = ((220, 30, 30), (30, 60, 220), (30, 160, 60))
BUCKETS = ((0, 5), (5, 10), (10, 15))  # degrees turned, either way: the independent renderer's range in three


def training_pictures(folder: Path, angles: list[int]) -> list[dict]:
    """One picture per pointed shape, angle, size and colour: a rectangle 0.6 as tall as wide, the others as
    wide as tall, filled at the centre of a white 224 px picture."""
    items = []
    for kind in POINTED:
        for angle in angles:
            for size in SIZES:
                for index, color in enumerate(COLORS):
                    picture = Image.new("RGB", (224, 224), "white")
                    height = size * 0.6 if kind == "rectangle" else size
                    points = [(112 + x, 112 + y) for x, y in outline(kind, size, height, angle)]
                    ImageDraw.Draw(picture).polygon(points, fill=color)
                    path = folder / f"training-{kind}-{angle}-{size}-{index}.png"
                    picture.save(path)
                    items.append({"kind": kind, "angle": angle, "path": str(path)})
    return items


def independent_pictures(folder: Path, count: int, seed: int) -> list[dict]:
    """`count` single shapes of the independent renderer (a scene that fits none is drawn again)."""
    renderer = IndependentRenderer(seed)
    items = []
    while len(items) < count:
        scene = renderer.scene(1)
        if len(scene.shapes) != 1:
            continue
        shape = scene.shapes[0]
        path = folder / f"independent-{len(items):04d}.png"
        scene.image.save(path)
        items.append({"kind": shape.kind, "angle": abs(shape.angle_deg), "style": shape.style, "path": str(path)})
    return items


def bucket(angle: float) -> str:
    for low, high in BUCKETS:
        if angle < high:
            return f"{low}-{high}"
    return f"{BUCKETS[-1][0]}-{BUCKETS[-1][1]}"  # exactly the largest angle the renderer draws


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="default: the built-in demo model")
    parser.add_argument("--angles", default="0,5,10,15,20,25,30", help="degrees, comma-separated")
    parser.add_argument("--independent", type=int, default=300, help="independent single-shape pictures (0: none)")
    parser.add_argument("--seed", type=int, default=INDEPENDENT_SEED, help="the independent renderer's seed")
    parser.add_argument("--json", type=Path, help="also write every answer here")
    args = parser.parse_args()
    angles = [int(a) for a in args.angles.split(",") if a.strip()]
    print(f"machine: {cpu_summary(SYSTEM_FLAGS)}; model: {args.model or 'built-in demo model'}; "
          f"independent seed {args.seed}")

    from vreason.api import VReason

    vr = VReason(model=args.model)
    with tempfile.TemporaryDirectory() as folder:
        items = training_pictures(Path(folder), angles)
        independent = independent_pictures(Path(folder), args.independent, args.seed)
        answers = vr.ask_many([(item["path"], QUESTION) for item in items + independent], max_new_tokens=8,
                              temperature=0.0)
    for item, answer in zip(items + independent, answers, strict=True):
        item["said"] = answer.text.strip()
        del item["path"]

    print(f"\nTraining generator, right of {len(SIZES) * len(COLORS)} by degrees turned:\n")
    print("| shape | " + " | ".join(f"{a}°" for a in angles) + " | called instead |")
    print("|---|" + "---:|" * len(angles) + "---|")
    for kind in POINTED:
        rows = [i for i in items if i["kind"] == kind]
        right = [sum(i["said"] == kind for i in rows if i["angle"] == a) for a in angles]
        wrong = Counter(i["said"] for i in rows if i["said"] != kind)
        print(f"| {kind} | " + " | ".join(map(str, right)) + f" | {_counts(wrong)} |")

    if independent:
        print(f"\nIndependent renderer, {len(independent)} single shapes, right / asked by degrees turned:\n")
        print("| shape | " + " | ".join(f"{low}-{high}°" for low, high in BUCKETS) + " | all | called instead |")
        print("|---|" + "---:|" * (len(BUCKETS) + 1) + "---|")
        for kind in ("circle", *POINTED):
            rows = [i for i in independent if i["kind"] == kind]
            split: dict[str, list[dict]] = defaultdict(list)
            for i in rows:
                split[bucket(i["angle"])].append(i)
            cells = [_share(split[f"{low}-{high}"], kind) for low, high in BUCKETS]
            wrong = Counter(i["said"] for i in rows if i["said"] != kind)
            print(f"| {kind} | " + " | ".join(cells) + f" | {_share(rows, kind)} | {_counts(wrong)} |")
        right = sum(i["said"] == i["kind"] for i in independent)
        print(f"\nall independent single shapes: {right} / {len(independent)} = {right / len(independent):.3f}")
    if args.json:
        args.json.write_text(json.dumps({"training": items, "independent": independent}, indent=1))


def _share(rows: list[dict], kind: str) -> str:
    return f"{sum(i['said'] == kind for i in rows)} / {len(rows)}" if rows else "-"


def _counts(wrong: Counter) -> str:
    return ", ".join(f"{word or '(nothing)'} {n}" for word, n in wrong.most_common()) or "-"


if __name__ == "__main__":
    main()
