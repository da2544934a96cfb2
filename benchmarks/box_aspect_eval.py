"""The built-in demo model's single-object boxes split by the picture's shape (near-square, wide, tall), with how the
boxes miss: their width and height against the true ones' and their centres' offset, per axis.

    .venv/bin/python benchmarks/box_aspect_eval.py [--questions 200] [--pictures independent|training]
        [--seed N] [--model DIR] [--json F]

`make eval-demo` reports one number for "independent/grounding" (IoU >= 0.5 for the first box answered). This asks
the same questions (the independent renderer's, `write_independent_eval(kinds=("grounding",))`, the card's seed
by default, other pictures than the card's 400) or the training generator's own varied held-out pictures
(`--pictures training`: `ShapesWorld(varied=True)`, the card's varied seed 1002 and its rule for which question
of a scene is asked, but other pictures than the card's 200, which are drawn after its other families), and
splits the hits by picture shape: wide when the width is over 1.2 times the height, tall the other way round,
near-square otherwise (square or within 1.2:1, so some pictures drawn not square count here). Each row has
its 95% Wilson interval, the mean IoU, and the medians of the answered box's width / true width, height / true
height and centre offset in x and y (0-1000 scale, the answer's minus the truth's). A model that scales both axes
of a box alike shows it at once: on tall pictures its boxes come out narrower (width ratio under 1) and to the
left, on wide ones shorter and higher.
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

from PIL import Image

from vreason.reasoning.grounding import iou
from vreason.train.demo_eval import VARIED_SEED
from vreason.train.qa_eval import IOU_HIT, parse_boxes
from vreason.train.shapes_world import ShapesWorld

sys.path.insert(0, str(Path(__file__).resolve().parent))
import demo_questions  # noqa: E402
from pointcloud_demo_eval import wilson  # noqa: E402

WIDE = 1.2  # a side this many times the other makes a picture wide or tall


def picture_shape(size: tuple[int, int]) -> str:
    w, h = size
    return "wide" if w > WIDE * h else "tall" if h > WIDE * w else "near-square"


def miss(said: list[float] | None, true: list[float]) -> dict:
    """IoU of the answered box with the true one, and how it differs: width and height ratios, centre offset."""
    if said is None:
        return {"iou": 0.0}
    return {"iou": iou(said, true),
            "width_ratio": (said[2] - said[0]) / max(1.0, true[2] - true[0]),
            "height_ratio": (said[3] - said[1]) / max(1.0, true[3] - true[1]),
            "dx": (said[0] + said[2] - true[0] - true[2]) / 2, "dy": (said[1] + said[3] - true[1] - true[3]) / 2}


def breakdown(records: list[dict]) -> dict:
    """Per picture shape and over all: n, share at IoU >= 0.5, mean IoU, the medians of the answered boxes'
    ratios and offsets (over the records that answered a box)."""
    split: dict[str, list[dict]] = defaultdict(list)
    for r in records:
        split["all"].append(r)
        split[r["shape"]].append(r)
    out = {}
    for key, rows in split.items():
        boxed = [r for r in rows if "width_ratio" in r]
        entry = {"count": len(rows), "iou_at_0.5": sum(r["iou"] >= IOU_HIT for r in rows) / len(rows),
                 "mean_iou": sum(r["iou"] for r in rows) / len(rows), "no_box": len(rows) - len(boxed)}
        for name in ("width_ratio", "height_ratio", "dx", "dy"):
            entry[name] = statistics.median(r[name] for r in boxed) if boxed else None
        out[key] = entry
    return out


def write_training_eval(out: Path, questions: int, seed: int) -> Path:
    """`questions` single-object box questions about the training generator's varied pictures into
    out/eval.jsonl, chosen as the card's "varied/grounding" rows are (a scene's first such question); the
    pictures are not the card's, whose generator draws its other families first."""
    world = ShapesWorld(seed, varied=True)
    (out / "images").mkdir(parents=True, exist_ok=True)
    target = out / "eval.jsonl"
    with target.open("w") as handle:
        written = 0
        while written < questions:
            scene = world.scene("grounding")
            single = [qa for qa in scene.qas if qa.kind == "grounding" and qa.answer.count("bbox_2d") == 1]
            if not single:
                continue
            name = f"images/grounding{written:05d}.png"
            scene.image.save(out / name)
            handle.write(json.dumps({"image": name, "question": single[0].question, "answer": single[0].answer})
                         + "\n")
            written += 1
    return target


def main() -> None:
    args = demo_questions.parse_args(__doc__.split("\n\n")[0], 200, "varied pictures", VARIED_SEED)

    from vreason.api import VReason

    vr = VReason(model=args.model)
    records = []
    with tempfile.TemporaryDirectory() as folder:
        data = demo_questions.write_questions(args, Path(folder), "grounding", write_training_eval)
        for line in data.read_text().splitlines():
            row = json.loads(line)
            picture = Path(folder) / row["image"]
            said = vr.ask(str(picture), row["question"], temperature=0.0, presence_penalty=0.0,
                          max_new_tokens=64).text
            boxes = parse_boxes(said)
            with Image.open(picture) as image:
                size = image.size
            records.append({"question": row["question"], "size": size, "shape": picture_shape(size), "said": said,
                            **miss(boxes[0] if boxes else None, parse_boxes(row["answer"])[0])})
    report = breakdown(records)
    print("| pictures | n | IoU >= 0.5 | 95% interval | mean IoU | width ratio | height ratio | dx | dy |")
    print("|---|---:|---:|---|---:|---:|---:|---:|---:|")
    for key in ("all", "near-square", "wide", "tall"):
        if key not in report:
            continue
        row = report[key]
        low, high = wilson(row["iou_at_0.5"], row["count"])
        ratios = " | ".join("-" if row[n] is None else f"{row[n]:.2f}" for n in ("width_ratio", "height_ratio"))
        offsets = " | ".join("-" if row[n] is None else f"{row[n]:+.0f}" for n in ("dx", "dy"))
        print(f"| {key} | {row['count']} | {row['iou_at_0.5']:.3f} | {low:.2f}-{high:.2f} | {row['mean_iou']:.3f} | "
              f"{ratios} | {offsets} |")
    if args.json:
        args.json.write_text(json.dumps({"report": report, "answers": records}, indent=1))


if __name__ == "__main__":
    main()
