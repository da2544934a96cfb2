"""Boxes and points drawn onto a copy of the user's image, one distinct colour per label.

Stands in until the reasoning layer ships its own annotated-image drawing; coordinates are pixels of the
original image (`Detection.to_pixels`), so the drawing matches what the user uploaded.
"""

from __future__ import annotations

from PIL import Image, ImageDraw, ImageFont

from vreason.reasoning.grounding import Detection

# Distinct, readable on light and dark backgrounds (Tableau 10).
PALETTE = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f",
           "#bab0ac")


def draw_detections(image: Image.Image, detections: list[Detection]) -> Image.Image:
    """A copy of `image` with every box and point of `detections` (pixel coordinates) and its label."""
    out = image.convert("RGB")
    draw = ImageDraw.Draw(out)
    width = max(2, round(min(out.size) / 150))
    font = ImageFont.load_default(size=max(12, round(min(out.size) / 30)))
    colours: dict[str, str] = {}
    for det in detections:
        colour = colours.setdefault(det.label, PALETTE[len(colours) % len(PALETTE)])
        if det.box is not None:
            x1, y1, x2, y2 = det.box
            draw.rectangle((x1, y1, x2, y2), outline=colour, width=width)
            anchor = (x1, y1)
        elif det.point is not None:
            x, y = det.point
            r = width * 3
            draw.ellipse((x - r, y - r, x + r, y + r), fill=colour, outline="white", width=max(1, width // 2))
            anchor = (x + r, y - r)
        else:
            continue
        if det.label:
            _label(draw, anchor, det.label, colour, font, out.size)
    return out


def _label(draw: ImageDraw.ImageDraw, anchor: tuple[float, float], text: str, colour: str,
           font: ImageFont.ImageFont, size: tuple[int, int]) -> None:
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    w, h = right - left + 6, bottom - top + 4
    x = min(max(anchor[0], 0), max(size[0] - w, 0))
    y = anchor[1] - h if anchor[1] - h >= 0 else anchor[1]  # above the box, or inside when at the top edge
    draw.rectangle((x, y, x + w, y + h), fill=colour)
    draw.text((x + 3 - left, y + 2 - top), text, fill="white", font=font)
