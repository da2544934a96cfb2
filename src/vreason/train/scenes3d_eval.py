"""The built-in model on 3D scenes: colour, count and 3D-box questions asked on the bird's-eye view of held-out
synthetic scenes, from either generator.

- "scenes": spatial/scenes.py, the generator whose views the model may train on (train/scenes3d_views.py draws
  seeds from 10,000,000 on; these are 5000 onwards);
- "independent": eval/scenes_independent.py, simulated scanners written only for evaluation.

Half the scenes (odd seeds) are one sensor's scan with its occlusion shadows. Each scene: "how many shapes are
there?"; "what color is the {circle|rectangle}?" for every object whose silhouette from above is its own ("the
shape" when it is alone); and every object whose colour and silhouette are its own is grounded as `vreason
ground3d` grounds it (`locate_3d`, the lifted boxes): found when one box has 3D IoU (with yaw) >= 0.25 with it.
Bars (issue 25): colour >= 0.90, count >= 0.85, boxes >= 0.80 of targets. Greedy decoding.

Each row also says whether the view shows what it asks about ("in_sight"): an object is in sight when its
pixels on the bird's-eye view cover at least IN_SIGHT of its footprint (a one-sensor scan can hide an object
behind another, or show a pyramid as the one face towards the sensor); a count row when every object is. The
bars are on all rows; the in-sight rows are a diagnostic (benchmarks/pointcloud_demo_eval.py prints them).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from vreason.spatial.boxes3d import centre_distance, iou_3d, iou_axis_aligned
from vreason.spatial.questions import ask_3d, locate_3d, view_target
from vreason.spatial.scenes import SILHOUETTES, SyntheticScene, make_scene
from vreason.spatial.views import prepared_for_views, render_views

if TYPE_CHECKING:
    from vreason.api import VReason

GENERATORS = ("scenes", "independent")
FIRST_SEED = 5000
BAR = {"color": 0.90, "count": 0.85, "box3d": 0.80}
IN_SIGHT = 0.5  # share of an object's footprint its pixels must cover on the bird's-eye view


def scene_for(generator: str, seed: int) -> SyntheticScene:
    occluded = seed % 2 == 1
    if generator == "independent":
        from vreason.eval.scenes_independent import make_scan

        return make_scan(seed, single_sensor=occluded)
    if generator != "scenes":
        raise ValueError(f"unknown 3D scene generator {generator!r}; choose from {', '.join(GENERATORS)}")
    return make_scene(seed, occlusion=occluded)


def evaluate_scenes(vr: VReason, scenes: int, generator: str = "scenes", first_seed: int = FIRST_SEED) -> list[dict]:
    """One row per question: kind ("count", "color", "box3d"), seed, occlusion, what was expected and said, ok."""
    rows: list[dict] = []
    for seed in range(first_seed, first_seed + scenes):
        scene = scene_for(generator, seed)
        base = {"seed": seed, "occlusion": seed % 2 == 1}
        seen = [SILHOUETTES["bev"][o.kind] for o in scene.objects]
        shown = in_sight(scene)
        said = _ask(vr, scene, "how many shapes are there?")
        rows.append({**base, "kind": "count", "expected": str(len(scene.objects)), "answer": said,
                     "ok": said == str(len(scene.objects)), "in_sight": all(shown)})
        names = [f"{o.color} {s}" for o, s in zip(scene.objects, seen, strict=True)]
        for obj, shape, name, visible in zip(scene.objects, seen, names, shown, strict=True):
            if seen.count(shape) == 1:  # the question names the shape: it must be the only one
                said = _ask(vr, scene, "what color is the shape?" if len(seen) == 1 else f"what color is the {shape}?")
                rows.append({**base, "kind": "color", "expected": obj.color, "answer": said, "ok": said == obj.color,
                             "in_sight": visible})
            if names.count(name) == 1:
                rows.append({**base, **_box_row(vr, scene, obj), "in_sight": visible})
    return rows


def in_sight(scene: SyntheticScene) -> list[bool]:
    """Per object: do its pixels on the bird's-eye view (as `ask_3d` renders it) cover IN_SIGHT of its footprint
    (a disc for spheres and cylinders, its length x width otherwise)? Needs the scene's per-point `owner`."""
    if scene.owner is None:
        raise ValueError("in_sight needs a scene whose generator records each point's object (owner)")
    cloud, kept = prepared_for_views(scene.cloud)
    (view,) = render_views(cloud, ("bev",))
    owner = scene.owner if kept is None else scene.owner[kept]
    shown = view.index[view.index >= 0]
    pixels = np.bincount(owner[shown] + 1, minlength=len(scene.objects) + 1)[1:]
    out = []
    for obj, covered in zip(scene.objects, pixels, strict=True):
        length, width, _ = obj.box.size
        footprint = length * width * (math.pi / 4 if obj.kind in ("sphere", "cylinder") else 1.0)
        out.append(bool(covered >= IN_SIGHT * footprint * view.camera.fx * view.camera.fy))
    return out


def _ask(vr: VReason, scene: SyntheticScene, question: str) -> str:
    answer, _ = ask_3d(vr, scene.cloud, question, temperature=0.0)
    return answer.text.strip()


def _box_row(vr: VReason, scene: SyntheticScene, obj) -> dict:
    result = locate_3d(vr, scene.cloud, obj.name)
    ious = [iou_3d(b, obj.box) for b in result.boxes]
    best = max(range(len(ious)), key=ious.__getitem__) if ious else None
    return {
        "kind": "box3d",
        "target": obj.name,
        "asked": view_target(obj.name, "bev"),
        "boxes": len(result.boxes),
        "iou": ious[best] if ious else 0.0,
        "first_iou": ious[0] if ious else 0.0,  # strict: the model's first box, no choosing
        "iou_axis_aligned": iou_axis_aligned(result.boxes[best], obj.box) if ious else 0.0,
        "centre_distance": centre_distance(result.boxes[best], obj.box) if ious else None,
        "ok": bool(ious) and ious[best] >= 0.25,
    }


def summarize(rows: list[dict]) -> dict[str, dict]:
    """Per kind: questions asked and the share right ("exact_match"; for boxes the share found at IoU >= 0.25,
    also as "iou_at_0.25", and the mean best IoU)."""
    out: dict[str, dict] = {}
    for kind in BAR:
        items = [r for r in rows if r["kind"] == kind]
        if not items:
            continue
        entry = {"count": len(items), "exact_match": sum(r["ok"] for r in items) / len(items)}
        if kind == "box3d":
            entry["iou_at_0.25"] = entry["exact_match"]
            entry["mean_iou"] = sum(r["iou"] for r in items) / len(items)
        out[kind] = entry
    return out
