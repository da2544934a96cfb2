"""Annotated views: the model's 2D boxes (thin) and the lifted 3D boxes projected back as wireframes (thick),
so a reader sees at once what the model drew and what it became in 3D. Pillow only; views are not modified.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from PIL import Image, ImageDraw

from vreason.reasoning.draw import draw_detections, label_colors
from vreason.reasoning.grounding import Detection
from vreason.spatial.boxes3d import EDGES, Box3D
from vreason.spatial.views import View


def draw_boxes_3d(view: View, boxes: Sequence[Box3D], detections: Sequence[Detection] = ()) -> Image.Image:
    image = draw_detections(view.image, detections) if detections else view.image.convert("RGB").copy()
    draw = ImageDraw.Draw(image)
    colors = label_colors([b.label for b in boxes])
    width = max(2, round(max(image.size) / 200))
    for box in boxes:
        u, v, depth = view.camera.project(box.corners())
        if (depth <= 0).any():  # a corner behind a perspective camera: the wireframe would fold over
            continue
        for a, b in EDGES:
            draw.line([(float(u[a]), float(v[a])), (float(u[b]), float(v[b]))], fill=colors[box.label], width=width)
    return image


def save_annotated(
    views: Sequence[View], boxes: Sequence[Box3D], out: str | Path, detections: dict[str, list[Detection]] | None = None
) -> list[Path]:
    """One PNG per view beside `out` ("boxes.ply" -> "boxes.bev.png", ...); the paths written."""
    out = Path(out)
    written = []
    for view in views:
        path = out.with_name(f"{out.stem}.{view.name}.png")
        draw_boxes_3d(view, boxes, (detections or {}).get(view.name, [])).save(path)
        written.append(path)
    return written
