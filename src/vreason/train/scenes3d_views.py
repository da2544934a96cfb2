"""Training pictures of 3D scenes: bird's-eye views of spatial/scenes.py's synthetic scenes, rendered as `vreason
ask3d` and `ground3d` render them, with count, colour and box questions in the words of what the view shows.

Why: the built-in model never saw a 3D view in training, and on held-out scenes it counted 0.80 and named
colours 0.87 (issue 25's bars: 0.85 and 0.90). Every count error was one too few, mostly five objects read as
four: seen from above the objects are small (13-26% of the view's side) and the model judges "how many" partly
by how much of the picture is coloured. Views of the same kind of scene teach it that picture directly.

Seeds: scene `index` of seed `seed` is `make_scene(SEED_BASE + seed * 100_000 + index)`, far from the held-out
scenes the evaluation draws (benchmarks/pointcloud_demo_eval.py: 5000-5099; dev 6000-6099). The evaluation
that matters for the card also draws scenes by other code (eval/scenes_independent.py: ray-cast scans).
Deterministic per seed and index.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass

import numpy as np
from PIL import Image

from vreason.reasoning.grounding import box_prompt
from vreason.spatial.scenes import SILHOUETTES, SyntheticScene, make_scene
from vreason.spatial.views import DEFAULT_SIZE, View, prepared_for_views, render_views

SEED_BASE = 10_000_000
# objects per scene: more fours and fives than make_scene's uniform 1-5 (those are the ones read one too few)
COUNTS = (1, 2, 3, 3, 4, 4, 5, 5)
MAX_BOXES = 2  # box questions per scene (every uniquely named object would make box answers most of a view's rows)


@dataclass
class BevScene:
    image: Image.Image
    qas: list[tuple[str, str]]  # (question, answer)
    scene: SyntheticScene  # what was drawn: the objects with their colours, kinds and 3D boxes
    view: View  # the image's camera and depth (view.image is `image`)


def bev_scene(seed: int, index: int, size: int = DEFAULT_SIZE) -> BevScene:
    """Scene `index` of `seed`: its bird's-eye view and questions (half the scenes one sensor's scan)."""
    rng = random.Random(f"bev:{seed}:{index}")
    scene = make_scene(SEED_BASE + seed * 100_000 + index, count=rng.choice(COUNTS), occlusion=rng.random() < 0.5)
    cloud, _ = prepared_for_views(scene.cloud, size)
    (view,) = render_views(cloud, ("bev",), size=size)
    return BevScene(view.image, questions(scene, view, rng), scene, view)


def questions(scene: SyntheticScene, view: View, rng: random.Random) -> list[tuple[str, str]]:
    """How many shapes (always), how many of one silhouette (half the scenes), the colour of every object whose
    silhouette is its own, and boxes (the product's grounding prompt) of up to MAX_BOXES uniquely named objects."""
    seen = [SILHOUETTES["bev"][o.kind] for o in scene.objects]
    qas = [("how many shapes are there?", str(len(scene.objects)))]
    if rng.random() < 0.5:
        shape = rng.choice(("circle", "rectangle"))
        qas.append((f"how many {shape}s are there?", str(seen.count(shape))))
    for obj, shape in zip(scene.objects, seen, strict=True):
        if seen.count(shape) == 1:
            question = "what color is the shape?" if len(seen) == 1 else f"what color is the {shape}?"
            qas.append((question, obj.color))
    names = [f"{o.color} {s}" for o, s in zip(scene.objects, seen, strict=True)]
    unique = [(o, n) for o, n in zip(scene.objects, names, strict=True) if names.count(n) == 1]
    for obj, name in rng.sample(unique, min(MAX_BOXES, len(unique))):
        qas.append((box_prompt(name), json.dumps([{"bbox_2d": view_box(view, obj.box.corners()), "label": name}])))
    return qas


def view_box(view: View, corners: np.ndarray) -> list[int]:
    """The pixel bounds of 3D `corners` on `view`, in Qwen's 0-1000 relative coordinates (as shapes-world
    boxes are): seen from above, an object's box corners bound its silhouette."""
    u, v, _ = view.camera.project(np.asarray(corners, dtype=np.float64))
    w, h = view.image.size
    x1, x2 = np.clip([u.min(), u.max()], 0, w)
    y1, y2 = np.clip([v.min(), v.max()], 0, h)
    return [round(x1 / w * 1000), round(y1 / h * 1000), round(x2 / w * 1000), round(y2 / h * 1000)]
