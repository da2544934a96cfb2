"""The built-in demo model's count of every shape against its count of one colour, on the same pictures.

    .venv/bin/python benchmarks/count_filter_eval.py [--pictures 300] [--seed 7007] [--model DIR] [--json F]

The card's count families mix three questions: "how many shapes are there?", "how many {colour} shapes are
there?" and "how many {kind}s are there?". The built-in model is right about a colour or a kind that is there two
or more times less than half the time (qa_eval's `many_exact_match`). This tells whether it cannot see the shapes
apart or cannot count only some of them: it draws pictures of 2-4 shapes with the independent renderer
(eval/shapes_independent.py, a colour there two or more times in each: `duplicate_share` 0.6, pictures without a
repeated colour drawn again) and asks each picture both questions, for a colour that repeats. Rows: pictures
whose every shape is that colour (both questions have one answer) and pictures with other colours too; per row
the share right of each question, of the colour question where the all-shape answer was right, and the share of
colour answers that are "1". A model that counts the shapes right and the colour wrong on the same picture sees
the shapes apart and has not learnt the filter (benchmarks/RESULTS.md, "Where the independent count goes wrong").
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
from collections import Counter, defaultdict
from pathlib import Path

from vreason.eval.shapes_independent import IndependentRenderer, IndependentScene
from vreason.models.placement import SYSTEM_FLAGS, cpu_summary

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pointcloud_demo_eval import wilson  # noqa: E402

SEED = 7007  # neither the card's independent seed (2002) nor its clips' (4004)
DUPLICATE_SHARE = 0.6
ALL = "how many shapes are there?"
QUESTIONS = ("all shapes", "that colour", "that colour, all shapes right", "that colour said 1")  # a row's order


def repeated_colour(scene: IndependentScene, rng: random.Random) -> str | None:
    """A colour that two or more of the scene's shapes have (None if none does)."""
    counts = Counter(s.color for s in scene.shapes)
    repeated = sorted(c for c, n in counts.items() if n >= 2)
    return rng.choice(repeated) if repeated else None


def draw(folder: Path, pictures: int, seed: int) -> list[dict]:
    """`pictures` pictures saved in `folder`, each with a repeated colour; rows: image, colour, its count, the
    number of shapes and whether every shape is that colour."""
    renderer, rng = IndependentRenderer(seed), random.Random(seed)
    rows: list[dict] = []
    while len(rows) < pictures:
        scene = renderer.scene(rng.randint(2, 4), duplicate_share=DUPLICATE_SHARE)
        colour = repeated_colour(scene, rng)
        if colour is None:
            continue
        name = f"p{len(rows):04d}.png"
        scene.image.save(folder / name)
        counted = sum(s.color == colour for s in scene.shapes)
        rows.append({"image": name, "colour": colour, "colour_count": counted, "shapes": len(scene.shapes),
                     "one_colour": counted == len(scene.shapes)})
    return rows


def breakdown(rows: list[dict]) -> dict[str, dict[str, list[bool]]]:
    """Per kind of picture: right / wrong of each question, of the colour question where the all-shape answer was
    right, and whether the colour answer was "1"."""
    split: dict[str, dict[str, list[bool]]] = defaultdict(lambda: defaultdict(list))
    for r in rows:
        key = "every shape that colour" if r["one_colour"] else "other colours too"
        all_right, colour_right = r["said_all"] == str(r["shapes"]), r["said_colour"] == str(r["colour_count"])
        split[key]["all shapes"].append(all_right)
        split[key]["that colour"].append(colour_right)
        if all_right:
            split[key]["that colour, all shapes right"].append(colour_right)
        split[key]["that colour said 1"].append(r["said_colour"] == "1")
    return split


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pictures", type=int, default=300)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--model", help="default: the built-in demo model")
    parser.add_argument("--json", type=Path, help="also write every answer here")
    args = parser.parse_args()
    print(f"machine: {cpu_summary(SYSTEM_FLAGS)}; model: {args.model or 'built-in demo model'}; seed {args.seed}")

    from vreason.api import VReason

    vr = VReason(model=args.model)
    with tempfile.TemporaryDirectory() as folder:
        rows = draw(Path(folder), args.pictures, args.seed)
        asked = [(str(Path(folder) / r["image"]), q) for r in rows
                 for q in (ALL, f"how many {r['colour']} shapes are there?")]
        said = [a.text.strip() for a in vr.ask_many(asked, temperature=0.0, presence_penalty=0.0,
                                                  max_new_tokens=8)]
    for r, all_said, colour_said in zip(rows, said[::2], said[1::2], strict=True):
        r["said_all"], r["said_colour"] = all_said, colour_said
    print("| pictures | question | n | right | 95% interval |")
    print("|---|---|---:|---:|---|")
    for key, found in sorted(breakdown(rows).items()):
        for question, right in sorted(found.items(), key=lambda item: QUESTIONS.index(item[0])):
            share = sum(right) / len(right)
            low, high = wilson(share, len(right))
            print(f"| {key} | {question} | {len(right)} | {share:.3f} | {low:.2f}-{high:.2f} |")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
