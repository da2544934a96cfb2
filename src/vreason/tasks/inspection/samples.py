"""Sample data for the inspection pack: rendered metal plates, some good, some with one planted defect
(scratch, dent or stain) whose pixel box is known exactly.

The pictures are drawings, not photographs: they exercise prompts, parsing and metrics end to end, and say
nothing about accuracy on a real production line. Same seed, same images.
"""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter

from vreason.tasks.inspection.taxonomy import GOOD

SIZE = (320, 240)
MARGIN = 24  # bench visible around the plate
KINDS = (GOOD, "scratch", "dent", "stain")  # the defect types this renderer can draw (the default taxonomy's)


def write_samples(out: Path, count: int = 12, seed: int = 0) -> Path:
    """`count` images cycling through good / scratch / dent / stain, and inspection.jsonl describing them."""
    rng = random.Random(seed)
    (out / "images").mkdir(parents=True, exist_ok=True)
    path = out / "inspection.jsonl"
    with path.open("w", encoding="utf-8") as handle:
        for index in range(count):
            kind = KINDS[index % len(KINDS)]
            image, box = render_part(kind, rng)
            name = f"images/part-{index:04d}.png"
            image.save(out / name)
            row = {"id": f"part-{index:04d}", "image": name, "kind": kind,
                   "target": {"defect": kind != GOOD, "type": None if kind == GOOD else kind},
                   "boxes": [] if box is None else [{"bbox": box, "label": kind}]}
            handle.write(json.dumps(row) + "\n")
    return path


def render_part(kind: str, rng: random.Random) -> tuple[Image.Image, list[int] | None]:
    """A plate with bolt holes and brushed texture, plus the defect `kind` (or none); its pixel box."""
    w, h = SIZE
    image = Image.new("RGB", SIZE, (38, 40, 44))
    plate = Image.new("RGB", SIZE, (0, 0, 0))
    draw = ImageDraw.Draw(plate)
    base = rng.randint(160, 185)
    for y in range(MARGIN, h - MARGIN):  # brushed metal: each row a little lighter or darker
        tone = base + rng.randint(-7, 7)
        draw.line([(MARGIN, y), (w - MARGIN, y)], fill=(tone, tone + 1, tone + 3))
    mask = Image.new("L", SIZE, 0)
    ImageDraw.Draw(mask).rounded_rectangle([MARGIN, MARGIN, w - MARGIN, h - MARGIN], radius=14, fill=255)
    image.paste(plate, (0, 0), mask)
    draw = ImageDraw.Draw(image)
    for cx, cy in ((MARGIN + 20, MARGIN + 20), (w - MARGIN - 20, MARGIN + 20), (MARGIN + 20, h - MARGIN - 20),
                   (w - MARGIN - 20, h - MARGIN - 20)):
        draw.ellipse([cx - 9, cy - 9, cx + 9, cy + 9], fill=(25, 25, 28), outline=(215, 215, 220), width=2)
    if kind == GOOD:
        return image, None
    # Defects stay clear of the bolt holes so every box has plain metal around it.
    cx, cy = rng.randint(MARGIN + 60, w - MARGIN - 60), rng.randint(MARGIN + 45, h - MARGIN - 45)
    drawers = {"scratch": _scratch, "dent": _dent, "stain": _stain}
    if kind not in drawers:
        raise ValueError(f"the sample renderer draws {', '.join(KINDS)}, not {kind!r}")
    box = drawers[kind](image, cx, cy, rng)
    return image, [max(0, box[0]), max(0, box[1]), min(w, box[2]), min(h, box[3])]


def _scratch(image: Image.Image, cx: int, cy: int, rng: random.Random) -> list[int]:
    length, angle = rng.randint(50, 110), rng.uniform(0, math.pi)
    dx, dy = math.cos(angle) * length / 2, math.sin(angle) * length / 2
    tone = rng.choice((238, 92))
    ImageDraw.Draw(image).line([(cx - dx, cy - dy), (cx + dx, cy + dy)], fill=(tone, tone, tone),
                               width=rng.randint(2, 3))
    pad = 4
    return [int(cx - abs(dx)) - pad, int(cy - abs(dy)) - pad, int(cx + abs(dx)) + pad, int(cy + abs(dy)) + pad]


def _dent(image: Image.Image, cx: int, cy: int, rng: random.Random) -> list[int]:
    r = rng.randint(10, 17)
    layer = image.copy()
    draw = ImageDraw.Draw(layer)
    draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=(105, 106, 110))
    draw.arc([cx - r, cy - r, cx + r, cy + r], start=200, end=290, fill=(245, 245, 248), width=3)
    mask = Image.new("L", image.size, 0)
    ImageDraw.Draw(mask).ellipse([cx - r - 2, cy - r - 2, cx + r + 2, cy + r + 2], fill=255)
    image.paste(layer.filter(ImageFilter.GaussianBlur(1.5)), (0, 0), mask)
    return [cx - r - 3, cy - r - 3, cx + r + 3, cy + r + 3]


def _stain(image: Image.Image, cx: int, cy: int, rng: random.Random) -> list[int]:
    mask = Image.new("L", image.size, 0)
    draw = ImageDraw.Draw(mask)
    left, top, right, bottom = cx, cy, cx, cy
    for _ in range(rng.randint(3, 5)):
        ox, oy, rx, ry = rng.randint(-14, 14), rng.randint(-10, 10), rng.randint(8, 16), rng.randint(6, 12)
        draw.ellipse([cx + ox - rx, cy + oy - ry, cx + ox + rx, cy + oy + ry], fill=170)
        left, top = min(left, cx + ox - rx), min(top, cy + oy - ry)
        right, bottom = max(right, cx + ox + rx), max(bottom, cy + oy + ry)
    colour = Image.new("RGB", image.size, (112, 78, 48))
    image.paste(colour, (0, 0), mask.filter(ImageFilter.GaussianBlur(2)))
    return [left - 2, top - 2, right + 2, bottom + 2]
