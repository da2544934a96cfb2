"""Questions about a point cloud, through the async API: ask about its views, ground a target in 3D.

`aask_3d` renders the views and sends them as the images of one request. `alocate_3d` grounds the target on
each view with the 2D grounding (reasoning/locate.py:`alocate`, one request per view, sent together so the
engine batches them) and lifts every box to 3D (lift.py); boxes of one object seen on several views become
one. With `method="bbox_3d"` a real Qwen3-VL is asked for its own 3D boxes on a perspective view instead
(model_boxes.py). Targets are phrased for the view (`view_target`): from above a box is a rectangle and a
sphere a circle, words a model reading flat images knows; the boxes keep the user's words as labels.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from PIL import Image

from vreason.engine.types import Answer
from vreason.reasoning.grounding import Detection
from vreason.reasoning.locate import EXACT_SAMPLING, Grounding, alocate
from vreason.spatial.boxes3d import Box3D
from vreason.spatial.camera import Camera
from vreason.spatial.lift import GroundPlane, estimate_ground, lift_box, merge_lifted, objects_bounds
from vreason.spatial.model_boxes import COOKBOOK_ANGLE_UNIT, AngleUnit, bbox_3d_prompt, parse_bbox_3d, to_world_box
from vreason.spatial.readers import PointCloud
from vreason.spatial.scenes import SILHOUETTES
from vreason.spatial.views import DEFAULT_SIZE, View, prepared_for_views, render_views

if TYPE_CHECKING:
    from vreason.api import VReason
    from vreason.async_api import AsyncVReason

Method = Literal["lift", "bbox_3d"]
_SYNONYMS = {
    "cube": "box",
    "cuboid": "box",
    "crate": "box",
    "ball": "sphere",
    "cone": "pyramid",
    "can": "cylinder",
    "barrel": "cylinder",
    "objects": "shapes",
    "object": "shape",
}


def view_target(target: str, view: str) -> str:
    """`target` in the words of how it looks on `view` ("red box" on the bird's-eye view: "red rectangle")."""
    words = SILHOUETTES.get("front" if view in ("front", "side", "persp") else "bev", {})

    def swap(match: re.Match) -> str:
        word = match.group(0)
        plural = word.lower().endswith("s") and word.lower()[:-1] in {**words, **_SYNONYMS}
        stem = word.lower()[:-1] if plural else word.lower()
        stem = _SYNONYMS.get(stem, stem)
        seen = words.get(stem, stem)
        return seen + ("s" if plural else "")

    return re.sub(r"[A-Za-z]+", swap, target)


@dataclass
class Grounding3D:
    target: str
    method: Method
    boxes: list[Box3D]
    views: list[View]
    groundings: list[Grounding] = field(default_factory=list)  # the 2D answer on each view (method "lift")
    ground: GroundPlane | None = None
    raw_outputs: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "target": self.target,
            "method": self.method,
            "boxes": [b.to_dict() for b in self.boxes],
            "views": [v.to_dict() for v in self.views],
            "detections_2d": {g.image: [d.to_dict() for d in g.detections] for g in self.groundings},
            "ground": None if self.ground is None else self.ground.to_dict(),
            "raw_outputs": self.raw_outputs,
        }


async def aprepare(
    cloud: PointCloud, views: tuple[str, ...], size: int = DEFAULT_SIZE, focus: bool = False
) -> tuple[PointCloud, list[View], GroundPlane | None]:
    """The cloud as rendered (voxel down-sampled when over the render budget), its views and its ground, off
    the event loop (numpy work on a million points takes a fraction of a second). `focus` frames the views
    on what stands on the ground rather than the whole floor (a room scan's objects stay large enough to see);
    off by default: on synthetic scenes it cut the demo model's counting from 0.62 to 0.23 (40 dev scenes)."""

    def work():
        rendered_cloud, _ = prepared_for_views(cloud, size)
        ground = estimate_ground(rendered_cloud)
        bounds = objects_bounds(rendered_cloud, ground) if focus else None
        return rendered_cloud, render_views(rendered_cloud, views, size=size, bounds=bounds), ground

    return await asyncio.to_thread(work)


async def aask_3d(
    vr: AsyncVReason,
    cloud: PointCloud,
    question: str,
    *,
    views: tuple[str, ...] = ("bev",),
    size: int = DEFAULT_SIZE,
    focus: bool = False,
    **sampling: Any,
) -> tuple[Answer, list[View]]:
    """The answer to `question` about `cloud`, its views sent as the images of one request (in `views` order)."""
    _, rendered, _ = await aprepare(cloud, views, size, focus)
    answer = await vr.ask([v.image for v in rendered], question, **sampling)
    return answer, rendered


def ask_3d(vr: VReason, cloud: PointCloud, question: str, **kwargs: Any) -> tuple[Answer, list[View]]:
    return vr.run(aask_3d(vr.aio, cloud, question, **kwargs))


async def alocate_3d(
    vr: AsyncVReason,
    cloud: PointCloud,
    target: str,
    *,
    views: tuple[str, ...] = ("bev",),
    size: int = DEFAULT_SIZE,
    method: Method = "lift",
    angle_unit: AngleUnit = COOKBOOK_ANGLE_UNIT,
    view_words: bool = True,
    focus: bool = False,
    **sampling: Any,
) -> Grounding3D:
    """Every `target` in `cloud` as oriented 3D boxes in the cloud's coordinates (point counts are of the
    rendered, possibly down-sampled, cloud)."""
    if method == "bbox_3d":
        return await _abbox_3d(vr, cloud, target, size, angle_unit, **sampling)
    cloud, rendered, ground = await aprepare(cloud, views, size, focus)
    asked = [view_target(target, v.name) if view_words else target for v in rendered]
    groundings = list(
        await asyncio.gather(*(alocate(vr, v.image, t, **sampling) for v, t in zip(rendered, asked, strict=True)))
    )
    found = []
    for view, grounding in zip(rendered, groundings, strict=True):
        grounding.image = view.name
        for detection in grounding.detections:
            if detection.box is None:
                continue
            lifted = await asyncio.to_thread(lift_box, view, cloud, detection.box, ground=ground, label=target)
            if lifted is not None:
                found.append(lifted)
    boxes = merge_lifted(found, cloud, ground)
    return Grounding3D(target, "lift", boxes, rendered, groundings, ground, [g.raw_output for g in groundings])


async def _abbox_3d(
    vr: AsyncVReason, cloud: PointCloud, target: str, size: int, angle_unit: AngleUnit, **sampling: Any
) -> Grounding3D:
    _, (view,), _ = await aprepare(cloud, ("persp",), size)
    answer = await vr.ask([view.image], bbox_3d_prompt(target, view.camera), **{**EXACT_SAMPLING, **sampling})
    boxes = [to_world_box(b, view.camera, angle_unit=angle_unit) for b in parse_bbox_3d(answer.text)]
    return Grounding3D(target, "bbox_3d", boxes, [view], raw_outputs=[answer.text])


async def alocate_3d_in_frame(
    vr: AsyncVReason,
    image: Image.Image,
    camera: Camera,
    target: str,
    *,
    angle_unit: AngleUnit = COOKBOOK_ANGLE_UNIT,
    **sampling: Any,
) -> Grounding3D:
    """Qwen3-VL's own 3D boxes on a real camera frame (an RGB-D colour image, `camera` from
    rgbd.frame_camera): the cookbook's use, the boxes placed in the frame's cloud coordinates."""
    answer = await vr.ask([image], bbox_3d_prompt(target, camera), **{**EXACT_SAMPLING, **sampling})
    boxes = [to_world_box(b, camera, angle_unit=angle_unit) for b in parse_bbox_3d(answer.text)]
    for box in boxes:
        box.label = box.label or target
    h, w = image.height, image.width
    view = View("image", image, camera, np.full((h, w), np.inf, dtype=np.float32), np.full((h, w), -1, np.int32))
    return Grounding3D(target, "bbox_3d", boxes, [view], raw_outputs=[answer.text])


def locate_3d(vr: VReason, cloud: PointCloud, target: str, **kwargs: Any) -> Grounding3D:
    return vr.run(alocate_3d(vr.aio, cloud, target, **kwargs))


def detections_on(view: View, result: Grounding3D) -> list[Detection]:
    """The 2D detections the model gave on `view` (for drawing)."""
    return [d for g in result.groundings if g.image == view.name for d in g.detections]
