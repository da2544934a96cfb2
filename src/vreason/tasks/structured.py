"""The values inside a task's parsed answer: verdicts as booleans, boxes as ordered 0-1000 lists, every
`bbox_2d` found at any depth and mapped to pixels. Boxes follow Qwen3-VL's convention, `bbox_2d` as
[x1, y1, x2, y2] on 0-1000 relative to the image. Finding the JSON in the answer text, repairing a cut-off
tail and checking the schema is `vreason.reasoning.json_output`'s job, shared with structured answers.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from vreason.reasoning.grounding import Detection

LABEL_KEYS = ("label", "type", "name")


def as_bool(value: Any) -> bool | None:
    """true/false, "yes"/"no", "correct"/"incorrect", 1/0 → bool; anything else None."""
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return bool(value)
    if isinstance(value, str):
        word = value.strip().casefold()
        if word in ("true", "yes", "y", "1", "correct", "是", "对", "正确"):
            return True
        if word in ("false", "no", "n", "0", "incorrect", "wrong", "否", "错", "错误"):
            return False
    return None


def as_box(value: Any) -> list[float] | None:
    """A [x1, y1, x2, y2] list of numbers on 0-1000, ordered and clamped; None when it is not one."""
    if not (isinstance(value, list) and len(value) == 4):
        return None
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
        return None
    x1, y1, x2, y2 = (min(max(v, 0), 1000) for v in value)
    return [min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2)]


def find_boxes(value: Any) -> Iterator[Detection]:
    """Every object with a well-formed `bbox_2d` anywhere in a parsed answer, labelled by its label/type/name."""
    if isinstance(value, dict):
        box = as_box(value.get("bbox_2d"))
        if box is not None:
            label = next((str(value[k]) for k in LABEL_KEYS if isinstance(value.get(k), str)), "")
            yield Detection(label, tuple(box))
        for child in value.values():
            yield from find_boxes(child)
    elif isinstance(value, list):
        for child in value:
            yield from find_boxes(child)


def add_pixel_boxes(value: Any, size: tuple[int, int]) -> Any:
    """A copy of a parsed answer where every `bbox_2d` gains a `box_pixels` for an image of `size` (w, h)."""
    if isinstance(value, dict):
        out = {k: add_pixel_boxes(v, size) for k, v in value.items()}
        box = as_box(value.get("bbox_2d"))
        if box is not None:
            pixels = Detection("", tuple(box)).to_pixels(size).box or ()
            out["box_pixels"] = [round(v, 1) for v in pixels]
        return out
    if isinstance(value, list):
        return [add_pixel_boxes(v, size) for v in value]
    return value
