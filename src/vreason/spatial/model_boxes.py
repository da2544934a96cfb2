"""Qwen3-VL's own 3D boxes (`bbox_3d`) read from its answer and placed in the cloud's coordinates.

Asked for 3D boxes in the form of the Qwen3-VL 3D-grounding cookbook (cookbooks/3d_grounding.ipynb: the prompt
asks for `[{"bbox_3d":[x_center, y_center, z_center, x_size, y_size, z_size, roll, pitch, yaw],"label":
"category"}]`), the model answers centre and size in metres in the camera frame (OpenCV: x right, y down,
z forward) and three angles. We read them the way the cookbook's drawing code does (`convert_3dbbox`), not
the way its prompt names them: the angles are taken as pitch, yaw, roll (about the camera's x, y and z
axes, applied in that order: R = Rz(roll) Ry(yaw) Rx(pitch)), in units of pi (the drawing multiplies them
by 180 and reads degrees). That reading is the one that puts the cookbook's published boxes on their
objects: its first car, angles (0.75, 0.49, 0.75), comes out upright with its 4.45 m along the road; read
as radians it would lean by 40 degrees. So `COOKBOOK_ANGLE_UNIT` is "pi"; "rad" and "deg" stay for models
fine-tuned otherwise. Parsing is as tolerant as 2D grounding's: fences, prose, wrapped lists, truncation
(reasoning/json_output.py finds the JSON). `to_world_box` needs a pinhole camera: a perspective view's or an
RGB-D frame's. No model, no rendering.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Literal

import numpy as np

from vreason.errors import InvalidRequestError
from vreason.reasoning.json_output import json_region, json_start
from vreason.spatial.boxes3d import Box3D
from vreason.spatial.camera import Camera

AngleUnit = Literal["rad", "pi", "deg"]
COOKBOOK_ANGLE_UNIT: AngleUnit = "pi"  # the cookbook's drawing code: angle * 180, in degrees
# The answer form the cookbook's prompts ask for (its examples 1 and 4), word for word.
COOKBOOK_FORMAT = (
    '[{"bbox_3d":[x_center, y_center, z_center, x_size, y_size, z_size, roll, pitch, yaw],"label":"category"}]'
)
_OBJECT = re.compile(r"\{[^{}]*\}")


@dataclass(frozen=True)
class CameraBox:
    label: str
    values: tuple[float, ...]  # x, y, z, x_size, y_size, z_size, pitch, yaw, roll (camera frame, as answered)


def bbox_3d_prompt(target: str, camera: Camera) -> str:
    """The cookbook's question and answer form, then the view's intrinsics (the cookbook leaves them out of
    the prompt and assumes a camera; a rendered view or an RGB-D frame knows its own)."""
    k = camera.intrinsics()
    return (
        f"Find every {target} in this image. For each, provide its 3D bounding box. "
        f"The output format required is JSON: `{COOKBOOK_FORMAT}`. "
        f"Camera intrinsics: fx={k['fx']:.1f}, fy={k['fy']:.1f}, cx={k['cx']:.1f}, cy={k['cy']:.1f}."
    )


def parse_bbox_3d(text: str) -> list[CameraBox]:
    """Every well-formed `bbox_3d` entry in `text` (9 numbers; 7 are taken as no pitch/roll: x, y, z, sizes,
    yaw; 6 as no rotation); malformed entries are dropped, never raised."""
    body = json_region(text)
    decoder = json.JSONDecoder()
    start = json_start(body)
    items: list = []
    while start >= 0:
        try:
            data, end = decoder.raw_decode(body, start)
        except json.JSONDecodeError:
            items = [_loads(m.group(0)) for m in _OBJECT.finditer(body[start:])]  # truncated: take whole objects
            break
        items = data if isinstance(data, list) else [data]
        if any(isinstance(i, dict) and "bbox_3d" in i for i in items):
            break
        if isinstance(data, dict):  # {"objects": [...]}
            nested = [v for v in data.values() if isinstance(v, list)]
            items = nested[0] if nested else []
            if items:
                break
        start = json_start(body, end)
    return [box for box in (_camera_box(i) for i in items) if box is not None]


def _loads(text: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return None


def _camera_box(item) -> CameraBox | None:
    if not isinstance(item, dict):
        return None
    values = item.get("bbox_3d")
    if not isinstance(values, (list, tuple)) or len(values) not in (6, 7, 9):
        return None
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in values):
        return None
    values = [float(v) for v in values]
    if len(values) == 6:
        values += [0.0, 0.0, 0.0]
    elif len(values) == 7:
        values = values[:6] + [0.0, values[6], 0.0]
    if min(values[3:6]) <= 0:
        return None
    return CameraBox(str(item.get("label", "")), tuple(values))


def rotation_matrix(pitch: float, yaw: float, roll: float) -> np.ndarray:
    """The cookbook's rotation: about x by pitch, then y by yaw, then z by roll (camera frame)."""
    cp, sp, cy, sy, cr, sr = (
        math.cos(pitch),
        math.sin(pitch),
        math.cos(yaw),
        math.sin(yaw),
        math.cos(roll),
        math.sin(roll),
    )
    rx = np.array([[1, 0, 0], [0, cp, -sp], [0, sp, cp]])
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rz = np.array([[cr, -sr, 0], [sr, cr, 0], [0, 0, 1]])
    return rz @ ry @ rx


def to_world_box(box: CameraBox, camera: Camera, *, angle_unit: AngleUnit = COOKBOOK_ANGLE_UNIT) -> Box3D:
    """The camera-frame box as a `Box3D` in world coordinates (z up): centre moved by the camera pose, the
    box axis closest to vertical taken as its height, yaw from the first of the other two."""
    if camera.kind != "perspective":
        raise InvalidRequestError(
            "bbox_3d answers are in a pinhole camera's frame: ask on a perspective view "
            "(--views persp) or an RGB-D frame",
            param="views",
        )
    factor = {"rad": 1.0, "pi": math.pi, "deg": math.pi / 180}[angle_unit]
    x, y, z, sx, sy, sz, pitch, yaw, roll = box.values
    axes_cam = rotation_matrix(pitch * factor, yaw * factor, roll * factor)  # columns: box axes in camera frame
    axes_world = camera.rotation.T @ axes_cam
    centre = camera.to_world(np.array([x, y, z]))
    sizes = np.array([sx, sy, sz])
    up = int(np.argmax(np.abs(axes_world[2])))
    flat = [i for i in range(3) if i != up]
    first = axes_world[:, flat[0]]
    heading = math.atan2(first[1], first[0])
    return Box3D(
        tuple(float(c) for c in centre),
        (float(sizes[flat[0]]), float(sizes[flat[1]]), float(sizes[up])),
        (heading + math.pi / 2) % math.pi - math.pi / 2,
        label=box.label,
        view="bbox_3d",
    )
