"""Reading a model's JSON answer for a task pack: leniently, and with one clear error when there is nothing
to read.

Constrained decoding (`OutputFormat("json_schema", ...)`) makes the output valid JSON under the schema when
the engine enforces it; this module still has to cope with engines that do not (remote backends, older
builds): a ```json fence, prose around the object, a thinking block, a cut-off tail. Boxes follow Qwen3-VL's
convention, `bbox_2d` as [x1, y1, x2, y2] on 0-1000 relative to the image.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from vreason.errors import VReasonError
from vreason.reasoning.grounding import Detection

_FENCE = re.compile(r"```(?:json)?\s*(.*?)(?:```|$)", re.S)
_THINK = re.compile(r"<think>.*?(?:</think>|$)", re.S)
LABEL_KEYS = ("label", "type", "name")


class TaskOutputError(VReasonError):
    """The model's answer could not be read as the task's output; the message quotes the start of it."""

    def __init__(self, problem: str, text: str):
        shown = " ".join(text.split())[:80]
        super().__init__(f"{problem}; the model answered {shown!r}{'...' if len(text) > 80 else ''} "
                         "(a real model, or constrained decoding, is needed for reliable JSON)")


def parse_json_object(text: str) -> tuple[dict[str, Any], bool]:
    """The first JSON object in `text`, tolerating fences, prose and thinking blocks, and whether it had to be
    cut back to its last complete value (an answer stopped by max_new_tokens). Raises TaskOutputError."""
    body = _THINK.sub("", text)
    fenced = _FENCE.search(body)
    if fenced:
        body = fenced.group(1)
    start = body.find("{")
    if start < 0:
        raise TaskOutputError("the answer holds no JSON object", text)
    repaired = False
    try:
        value, _ = json.JSONDecoder().raw_decode(body[start:])
    except json.JSONDecodeError as err:
        value = close_truncated(body[start:])
        if value is None:
            raise TaskOutputError(f"the answer's JSON does not parse ({err.msg} at character {err.pos})",
                                  text) from None
        repaired = True
    if not isinstance(value, dict):
        raise TaskOutputError("the answer's JSON is not an object", text)
    return value, repaired


def close_truncated(body: str, attempts: int = 64) -> Any | None:
    """Read a JSON text that was cut off: drop the tail back to the last complete value and close the open
    brackets. Tries cut points from the end (after a closing bracket, before a comma); None if none works."""
    cuts = []  # (position, brackets open there)
    stack: list[str] = []
    in_string = escaped = False
    for i, ch in enumerate(body):
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
            continue
        if ch == '"':
            in_string = True
        elif ch in "[{":
            stack.append("]" if ch == "[" else "}")
        elif ch in "]}":
            if not stack:
                break
            stack.pop()
            if stack:
                cuts.append((i + 1, "".join(reversed(stack))))
        elif ch == "," and stack:
            cuts.append((i, "".join(reversed(stack))))
    for position, closers in reversed(cuts[-attempts:]):
        try:
            return json.loads(body[:position] + closers)
        except json.JSONDecodeError:
            continue
    return None


def schema_errors(value: Any, schema: dict[str, Any]) -> list[str]:
    """Where `value` breaks `schema` (empty when it conforms), one short line per problem."""
    try:
        import jsonschema
    except ImportError:
        raise VReasonError("task packs check answers with jsonschema: pip install 'vreason[eval]'") from None

    validator = jsonschema.Draft202012Validator(schema)
    return [f"{'/'.join(str(p) for p in e.absolute_path) or '(root)'}: {e.message}"
            for e in validator.iter_errors(value)]


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
