"""Boxes and points in Qwen3-VL's output format, mapped back to the user's pixels.

Qwen3-VL answers grounding prompts with JSON like `[{"bbox_2d": [x1, y1, x2, y2], "label": "cat"}]` or
`{"point_2d": [x, y], "label": ...}`, coordinates relative to the image on 0-1000, often inside a ```json
fence, sometimes followed by prose or cut off by max_new_tokens. `parse_detections` tolerates all of that;
`to_pixels` maps onto the original image (not the resized one the model saw). No torch, no model.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

SCALE = 1000.0
_FENCE = re.compile(r"```(?:json)?\s*(.*?)(?:```|$)", re.S)
_OBJECT = re.compile(r"\{[^{}]*\}")


@dataclass(frozen=True)
class Detection:
    label: str
    box: tuple[float, float, float, float] | None = None  # x1, y1, x2, y2
    point: tuple[float, float] | None = None  # x, y

    def to_pixels(self, size: tuple[int, int]) -> Detection:
        """From Qwen's 0-1000 relative coordinates to pixels of an image of `size` (width, height)."""
        w, h = size
        box = None
        if self.box is not None:
            x1, y1, x2, y2 = self.box
            box = (_clamp(x1 / SCALE * w, w), _clamp(y1 / SCALE * h, h), _clamp(x2 / SCALE * w, w),
                   _clamp(y2 / SCALE * h, h))
        point = None
        if self.point is not None:
            point = (_clamp(self.point[0] / SCALE * w, w), _clamp(self.point[1] / SCALE * h, h))
        return Detection(self.label, box, point)


def parse_detections(text: str) -> list[Detection]:
    """Every well-formed box or point in `text`; malformed entries are dropped, never raised."""
    fenced = _FENCE.search(text)
    body = fenced.group(1) if fenced else text
    candidates: list = []
    starts = [i for i in (body.find("["), body.find("{")) if i >= 0]
    if starts:
        start = min(starts)
        try:
            data, _ = json.JSONDecoder().raw_decode(body[start:])
            candidates = data if isinstance(data, list) else [data]
        except json.JSONDecodeError:
            # Truncated or trailing garbage: take each complete {...} object on its own.
            for match in _OBJECT.finditer(body):
                try:
                    candidates.append(json.loads(match.group(0)))
                except json.JSONDecodeError:
                    continue
    return [d for d in (_detection(item) for item in candidates) if d is not None]


def _detection(item: object) -> Detection | None:
    if not isinstance(item, dict):
        return None
    label = str(item.get("label", ""))
    box = _numbers(item.get("bbox_2d"), 4)
    point = _numbers(item.get("point_2d"), 2)
    if box is None and point is None:
        return None
    if box is not None:
        x1, y1, x2, y2 = box
        box = (min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2))
    return Detection(label, box, point)


def _numbers(value: object, count: int) -> tuple | None:
    if not isinstance(value, (list, tuple)) or len(value) != count:
        return None
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
        return None
    return tuple(float(v) for v in value)


def _clamp(value: float, limit: int) -> float:
    return min(max(value, 0.0), float(limit))


def iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def match_boxes(predicted: list[tuple], expected: list[tuple], threshold: float = 0.5) -> list[tuple[int, int, float]]:
    """Greedy one-to-one matching by IoU (highest first): (predicted index, expected index, IoU) pairs."""
    pairs = sorted(
        ((iou(p, e), i, j) for i, p in enumerate(predicted) for j, e in enumerate(expected)), reverse=True
    )
    used_p, used_e, out = set(), set(), []
    for overlap, i, j in pairs:
        if overlap < threshold or i in used_p or j in used_e:
            continue
        used_p.add(i)
        used_e.add(j)
        out.append((i, j, overlap))
    return out
