"""Annotated images: boxes and points drawn over the original image, one distinct colour per label.

Line width and font size follow the image size so that labels stay readable on a phone photo and on a
4000-pixel scan alike. Pillow only; the input image is never modified.
"""

from __future__ import annotations

import colorsys
from collections.abc import Sequence

from PIL import Image, ImageDraw, ImageFont

from vreason.reasoning.grounding import Detection

# Well separated on screen and in print (Tableau 10); further labels take golden-ratio hues.
PALETTE: tuple[tuple[int, int, int], ...] = (
    (31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
    (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207),
)
_GOLDEN = 0.618033988749895


def label_colors(labels: Sequence[str]) -> dict[str, tuple[int, int, int]]:
    """A colour per distinct label, in order of first appearance; never two labels with one colour."""
    colors: dict[str, tuple[int, int, int]] = {}
    for label in labels:
        if label in colors:
            continue
        n = len(colors)
        if n < len(PALETTE):
            colors[label] = PALETTE[n]
        else:
            r, g, b = colorsys.hsv_to_rgb((n * _GOLDEN) % 1.0, 0.85, 0.9)
            colors[label] = (round(r * 255), round(g * 255), round(b * 255))
    return colors


def draw_detections(image: Image.Image, detections: Sequence[Detection]) -> Image.Image:
    """A copy of `image` (RGB) with each detection's box or point and its label; coordinates in its pixels."""
    canvas = image.convert("RGB").copy()
    draw = ImageDraw.Draw(canvas)
    short_side = min(canvas.size)
    width = max(2, round(short_side / 250))
    font = ImageFont.load_default(size=max(12, round(short_side / 40)))
    colors = label_colors([d.label for d in detections])
    for detection in detections:
        color = colors[detection.label]
        if detection.box is not None:
            draw.rectangle(detection.box, outline=color, width=width)
            anchor = (detection.box[0], detection.box[1])
        elif detection.point is not None:
            x, y = detection.point
            radius = width * 3
            draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=color, outline=(255, 255, 255))
            anchor = (x + radius, y - radius)
        else:
            continue
        if detection.label:
            _label(draw, anchor, detection.label, color, font, canvas.size)
    return canvas


def _label(draw: ImageDraw.ImageDraw, anchor: tuple[float, float], text: str, color: tuple[int, int, int],
           font: ImageFont.ImageFont | ImageFont.FreeTypeFont, size: tuple[int, int]) -> None:
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    w, h = right - left + 6, bottom - top + 4
    x = min(max(anchor[0], 0), max(size[0] - w, 0))
    y = anchor[1] - h if anchor[1] - h >= 0 else anchor[1]  # above the box, or inside it at the top edge
    draw.rectangle((x, y, x + w, y + h), fill=color)
    luminance = 0.299 * color[0] + 0.587 * color[1] + 0.114 * color[2]
    draw.text((x + 3 - left, y + 2 - top), text, fill=(0, 0, 0) if luminance > 150 else (255, 255, 255), font=font)
