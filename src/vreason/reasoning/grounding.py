"""Boxes and points in Qwen3-VL's output format, mapped back to the user's pixels.

Qwen3-VL answers grounding prompts with JSON like `[{"bbox_2d": [x1, y1, x2, y2], "label": "cat"}]` or
`{"point_2d": [x, y], "label": ...}`, coordinates relative to the image on 0-1000, often inside a ```json
fence, sometimes followed by prose or cut off by max_new_tokens. `parse_detections` tolerates all of that;
`to_pixels` maps onto the original image (not the resized one the model saw). `box_prompt`/`point_prompt`
ask in the phrasing Qwen3-VL was trained on; `as_kind` gives the caller the kind asked for (a box answered to
a point prompt becomes its centre). No torch, no model.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from typing import Literal

from vreason.errors import InvalidRequestError
from vreason.reasoning.json_output import json_region, json_start

SCALE = 1000.0
_OBJECT = re.compile(r"\{[^{}]*\}")
# How many '[' / '{' positions to try before giving up: prose before the JSON may hold brackets of its own.
_MAX_JSON_STARTS = 16
# A target that starts with "every" (as the CLI's help suggests: "every person"): the prompt says "every" itself.
_LEADING_EVERY = re.compile(r"^every\s+(?=\S)", re.IGNORECASE)

GroundingKind = Literal["box", "point"]


def box_prompt(target: str) -> str:
    """Ask for every `target` as boxes (Qwen3-VL's cookbook phrasing; the demo model was trained on it)."""
    return f"locate every {_target(target)} and output bbox_2d in JSON."


def point_prompt(target: str) -> str:
    return f"point to every {_target(target)} and output point_2d in JSON."


def grounding_prompt(target: str, kind: GroundingKind = "box") -> str:
    if kind not in ("box", "point"):
        raise InvalidRequestError(f"grounding kind ({kind!r}) must be 'box' or 'point'", param="kind")
    return box_prompt(target) if kind == "box" else point_prompt(target)


def as_kind(detections: list[Detection], kind: GroundingKind) -> list[Detection]:
    """The detections in the kind the caller asked for. Asked for points, models (the demo among them) often
    answer with boxes: each becomes its centre. Asked for boxes, a point stays a point (no box can be made up)."""
    return [d.as_point() for d in detections] if kind == "point" else detections


def _target(target: str) -> str:
    cleaned = " ".join(target.split()).rstrip(".?!")
    if not cleaned:
        raise InvalidRequestError("say what to find (the target is empty)", param="target")
    return _LEADING_EVERY.sub("", cleaned, count=1)


@dataclass(frozen=True)
class Detection:
    label: str
    box: tuple[float, float, float, float] | None = None  # x1, y1, x2, y2
    point: tuple[float, float] | None = None  # x, y
    # Confidence for NMS; the model gives none, so merging code sets it (e.g. lower for boxes cut by a tile edge).
    score: float = 1.0

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
        return replace(self, box=box, point=point)

    def to_relative(self, size: tuple[int, int]) -> Detection:
        """The inverse of `to_pixels`: pixels of an image of `size` back to 0-1000 (what the model speaks)."""
        w, h = size
        box = None
        if self.box is not None:
            x1, y1, x2, y2 = self.box
            box = (round(x1 / w * SCALE), round(y1 / h * SCALE), round(x2 / w * SCALE), round(y2 / h * SCALE))
        point = None
        if self.point is not None:
            point = (round(self.point[0] / w * SCALE), round(self.point[1] / h * SCALE))
        return replace(self, box=box, point=point)

    def shifted(self, dx: float, dy: float) -> Detection:
        """Moved by (dx, dy) pixels: a tile's detections into the coordinates of the whole image."""
        box = None if self.box is None else (self.box[0] + dx, self.box[1] + dy, self.box[2] + dx, self.box[3] + dy)
        point = None if self.point is None else (self.point[0] + dx, self.point[1] + dy)
        return replace(self, box=box, point=point)

    def as_point(self) -> Detection:
        """A point: its own, else the centre of its box."""
        if self.point is not None or self.box is None:
            return replace(self, box=None)
        x1, y1, x2, y2 = self.box
        return replace(self, box=None, point=((x1 + x2) / 2, (y1 + y2) / 2))

    def to_dict(self, ndigits: int = 1) -> dict:
        data: dict = {"label": self.label}
        if self.box is not None:
            data["bbox"] = [round(v, ndigits) for v in self.box]
        if self.point is not None:
            data["point"] = [round(v, ndigits) for v in self.point]
        if self.score != 1.0:
            data["score"] = round(self.score, 3)
        return data


def parse_detections(text: str) -> list[Detection]:
    """Every well-formed box or point in `text`; malformed entries are dropped, never raised."""
    body = json_region(text)
    decoder = json.JSONDecoder()
    position = 0
    for _ in range(_MAX_JSON_STARTS):
        start = json_start(body, position)
        if start < 0:
            return []
        try:
            data, end = decoder.raw_decode(body, start)
        except json.JSONDecodeError:
            # Truncated or broken from here on: take each complete {...} object on its own.
            return _salvage(body[start:])
        found = [d for d in (_detection(item) for item in _items(data)) if d is not None]
        if found:
            return found
        position = end  # prose such as "[2] items:" before the real answer
    return []


def _salvage(body: str) -> list[Detection]:
    candidates = []
    for match in _OBJECT.finditer(body):
        try:
            candidates.append(json.loads(match.group(0)))
        except json.JSONDecodeError:
            continue
    return [d for d in (_detection(item) for item in candidates) if d is not None]


def _items(data: object) -> list:
    if isinstance(data, list):
        return data
    if isinstance(data, dict):
        # Some answers wrap the list: {"objects": [...]} or {"detections": [...]}.
        nested = [v for v in data.values() if isinstance(v, list) and v and isinstance(v[0], dict)]
        return nested[0] if nested and "bbox_2d" not in data and "point_2d" not in data else [data]
    return []


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
