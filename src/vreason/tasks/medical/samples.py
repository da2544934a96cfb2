"""Sample data for the medical pack: synthetic grey-scale "scans" (a body outline, two darker fields, smooth
noise) with planted bright blobs whose boxes are known: nodules (small, round), masses (large, lobulated),
calcifications (tiny, very bright). Some scans have no finding.

These are not medical images and teach nothing about medicine: they exist so that the pack's prompt,
parsing and metrics run end to end on any machine. Same seed, same images.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

SIZE = 256
NORMAL = "normal"
FINDINGS = ("nodule", "mass", "calcification")
KINDS = (NORMAL, *FINDINGS)


def write_samples(out: Path, count: int = 12, seed: int = 0) -> Path:
    rng = random.Random(seed)
    (out / "images").mkdir(parents=True, exist_ok=True)
    path = out / "medical.jsonl"
    with path.open("w", encoding="utf-8") as handle:
        for index in range(count):
            kind = KINDS[index % len(KINDS)]
            image, boxes = render_scan(kind, rng)
            name = f"images/scan-{index:04d}.png"
            image.save(out / name)
            row = {"id": f"scan-{index:04d}", "image": name, "kind": kind,
                   "target": {"findings": [] if kind == NORMAL else [kind]},
                   "boxes": [{"bbox": box, "label": kind} for box in boxes]}
            handle.write(json.dumps(row) + "\n")
    return path


def render_scan(kind: str, rng: random.Random) -> tuple[Image.Image, list[list[int]]]:
    """A scan with one or two findings of `kind` (none for `normal`), and their pixel boxes."""
    noise = np.random.default_rng(rng.randrange(2**32)).normal(0, 1, (SIZE // 8, SIZE // 8))
    texture = Image.fromarray(np.uint8(np.clip(128 + 22 * noise, 0, 255))).resize((SIZE, SIZE), Image.BICUBIC)
    body = Image.new("L", (SIZE, SIZE), 0)
    draw = ImageDraw.Draw(body)
    draw.ellipse([18, 28, SIZE - 18, SIZE - 20], fill=150)
    draw.ellipse([42, 52, 120, 212], fill=70)  # the two darker fields where findings sit
    draw.ellipse([136, 52, 214, 212], fill=70)
    body = body.filter(ImageFilter.GaussianBlur(4))
    scan = Image.fromarray(np.uint8(np.clip(np.asarray(body, float) * np.asarray(texture, float) / 128, 0, 255)))
    boxes = []
    if kind != NORMAL:
        count = 1 if kind == "mass" else rng.choice((1, 1, 2))
        fields = rng.sample([(81, 132), (175, 132)], count)
        for fx, fy in fields:
            cx, cy = fx + rng.randint(-18, 18), fy + rng.randint(-40, 40)
            boxes.append(_blob(scan, kind, cx, cy, rng))
    return scan.convert("RGB"), boxes


def _blob(scan: Image.Image, kind: str, cx: int, cy: int, rng: random.Random) -> list[int]:
    layer = Image.new("L", scan.size, 0)
    draw = ImageDraw.Draw(layer)
    if kind == "nodule":
        r = rng.randint(6, 11)
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=200)
        blur, brightness = 1.5, 200
    elif kind == "mass":
        r = rng.randint(17, 24)
        for _ in range(4):  # lobulated: several overlapping ellipses
            ox, oy = rng.randint(-r // 3, r // 3), rng.randint(-r // 3, r // 3)
            draw.ellipse([cx + ox - r * 2 // 3, cy + oy - r * 2 // 3, cx + ox + r * 2 // 3, cy + oy + r * 2 // 3],
                         fill=185)
        blur, brightness = 2.5, 185
    else:
        r = rng.randint(2, 3)
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=255)
        blur, brightness = 0.6, 255
    mask = layer.filter(ImageFilter.GaussianBlur(blur))
    scan.paste(Image.new("L", scan.size, brightness), (0, 0), mask)
    left, top, right, bottom = layer.getbbox() or (cx - r, cy - r, cx + r, cy + r)
    pad = 2
    return [max(0, left - pad), max(0, top - pad), min(SIZE, right + pad), min(SIZE, bottom + pad)]
