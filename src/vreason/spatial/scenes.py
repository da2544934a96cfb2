"""Synthetic 3D scenes: coloured primitives (spheres, boxes, pyramids, cylinders) standing on a ground plane,
sampled as a point cloud with sensor-like noise and, optionally, a single sensor's occlusion.

Made for tests and evaluation, with exact answers: each object's colour, kind and ground-truth `Box3D`.
Colours are the shapes world's palette (train/shapes_world.py) and the ground is near-white, so a bird's-eye
view looks like the flat scenes the demo model was trained on: a sphere or cylinder seen from above is a
circle, a box or pyramid a rectangle (`SILHOUETTES`). Same seed, same scene.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from vreason.shapes_palette import PALETTE
from vreason.spatial.boxes3d import Box3D, iou_axis_aligned
from vreason.spatial.readers import PointCloud, checked_cloud

KINDS = ("sphere", "box", "pyramid", "cylinder")
# How each kind looks in each view: the words a model trained on flat shapes knows.
SILHOUETTES = {
    "bev": {"sphere": "circle", "cylinder": "circle", "box": "rectangle", "pyramid": "rectangle"},
    "front": {"sphere": "circle", "cylinder": "rectangle", "box": "rectangle", "pyramid": "triangle"},
}
GROUND_RGB = (238, 238, 238)
POINTS_PER_M2 = 6000  # surface density of the simulated scan


@dataclass
class SceneObject:
    kind: str  # one of KINDS
    color: str  # a PALETTE name
    box: Box3D  # ground truth: centre, size, yaw
    rgb: tuple[int, int, int] | None = None  # the colour it is painted (its points stray +-8 a channel from it)

    @property
    def name(self) -> str:
        return f"{self.color} {self.kind}"


@dataclass
class SyntheticScene:
    cloud: PointCloud
    objects: list[SceneObject] = field(default_factory=list)
    extent: float = 4.0  # the ground is [-extent/2, extent/2]^2
    density: float | None = None  # make_scene's points per square metre of surface, before occlusion
    owner: np.ndarray | None = None  # per point of `cloud`: the index of its object in `objects`, -1 the ground

    def object_points(self) -> np.ndarray:
        """How many of `cloud`'s points lie on each object (after any occlusion), counted from `owner`."""
        if self.owner is None:
            raise ValueError("this scene's generator did not record each point's object (owner)")
        return np.bincount(self.owner + 1, minlength=len(self.objects) + 1)[1:]


def make_scene(
    seed: int,
    *,
    count: int | None = None,
    kinds: tuple[str, ...] = KINDS,
    noise: float = 0.004,
    occlusion: bool = False,
    density: float = POINTS_PER_M2,
    max_yaw_deg: float = 25.0,
    sensor: tuple[float, float, float] | None = None,
    sensor_pixels: int = 1400,
    shade: Callable[[str], tuple[int, int, int]] | None = None,
    ground_rgb: tuple[int, int, int] = GROUND_RGB,
) -> SyntheticScene:
    """A scene of `count` (default 1-5) objects that do not touch. `noise`: Gaussian jitter (metres) on
    every point; `occlusion`: keep only what one sensor sees (shadows on the ground), by default one above a
    corner, else at `sensor` (looking at the scene's centre; in units of half the ground's side, so the default
    is (2, -2, 2.5)), whose 90-degree view is `sensor_pixels` square (a surface hides what lies behind it where
    its points cover the sensor's pixels: sparse points want fewer). `shade(colour name)`: an object's base colour
    (default: the palette's); `ground_rgb`: the floor's. Neither draws from the scene's random numbers: the same
    seed places the same objects however they are painted and seen."""
    rng = np.random.default_rng(seed)
    count = int(rng.integers(1, 6)) if count is None else count
    extent = 2.6 if count == 1 else 4.0
    objects: list[SceneObject] = []
    attempts = 0
    while len(objects) < count and attempts < 500:
        attempts += 1
        kind = str(rng.choice(kinds))
        side = float(rng.uniform(0.55, 1.15) if count > 1 else rng.uniform(0.8, 1.4))
        height = float(rng.uniform(0.4, 1.0)) if kind != "sphere" else side
        length, width = side, side
        if kind == "box":
            width = side * float(rng.uniform(0.6, 1.0))
        yaw = math.radians(float(rng.uniform(-max_yaw_deg, max_yaw_deg))) if kind in ("box", "pyramid") else 0.0
        half = math.hypot(length, width) / 2
        x, y = (float(v) for v in rng.uniform(-extent / 2 + half + 0.05, extent / 2 - half - 0.05, size=2))
        box = Box3D((x, y, height / 2), (length, width, height), yaw, label=kind)
        if any(iou_axis_aligned(_grown(box, 0.12), _grown(o.box, 0.12)) > 0 for o in objects):
            continue
        objects.append(SceneObject(kind, str(rng.choice(list(PALETTE))), box))
    for o in objects:
        o.box.label = o.name
    parts = [_ground(rng, extent, density, objects, ground_rgb)]
    for o in objects:
        o.rgb = tuple(shade(o.color)) if shade else PALETTE[o.color]
    parts += [_surface(rng, o, density, o.rgb) for o in objects]
    points = np.concatenate([p for p, _ in parts])
    colors = np.concatenate([c for _, c in parts])
    owner = np.repeat(np.arange(-1, len(objects)), [len(p) for p, _ in parts])  # -1: the ground
    if noise:
        points = points + rng.normal(0, noise, points.shape)
    if occlusion:
        eye = np.array((2.0, -2.0, 2.5) if sensor is None else sensor, dtype=np.float64) * extent / 2
        keep = _visible_from(points, eye, sensor_pixels)
        points, colors, owner = points[keep], colors[keep], owner[keep]
    return SyntheticScene(checked_cloud(points, colors, source=f"scene-{seed}"), objects, extent, density, owner)


def _grown(box: Box3D, margin: float) -> Box3D:
    return Box3D(box.center, (box.size[0] + margin, box.size[1] + margin, box.size[2]), box.yaw)


def _ground(rng, extent: float, density: float, objects: list[SceneObject], rgb: tuple[int, int, int]):
    """The floor, less what lies under the objects (no scanner sees there, and it would show through)."""
    n = int(extent * extent * density)
    xy = rng.uniform(-extent / 2, extent / 2, size=(n, 2))
    for o in objects:
        c, s = math.cos(o.box.yaw), math.sin(o.box.yaw)
        dx, dy = xy[:, 0] - o.box.center[0], xy[:, 1] - o.box.center[1]
        a, b = dx * c + dy * s, -dx * s + dy * c
        if o.kind in ("sphere", "cylinder"):
            under = a * a + b * b < (o.box.size[0] / 2) ** 2
        else:
            under = (np.abs(a) < o.box.size[0] / 2) & (np.abs(b) < o.box.size[1] / 2)
        xy = xy[~under]
    n = len(xy)
    colors = np.clip(np.array(rgb) + rng.integers(-6, 7, size=(n, 1)), 0, 255).astype(np.uint8)
    return np.column_stack([xy, np.zeros(n)]), colors


def _surface(rng, obj: SceneObject, density: float, rgb: tuple[int, int, int]):
    """Points on the visible surfaces (no bottom face) in the box's own frame, then placed and yawed."""
    length, width, height = obj.box.size
    if obj.kind == "sphere":
        r = length / 2
        n = int(4 * math.pi * r * r * density)
        d = rng.normal(size=(n, 3))
        local = d / np.linalg.norm(d, axis=1, keepdims=True) * r
    elif obj.kind == "cylinder":
        r = length / 2
        n_side, n_top = int(2 * math.pi * r * height * density), int(math.pi * r * r * density)
        angle = rng.uniform(0, 2 * math.pi, n_side)
        side = np.column_stack([r * np.cos(angle), r * np.sin(angle), rng.uniform(-height / 2, height / 2, n_side)])
        rad, angle = r * np.sqrt(rng.uniform(0, 1, n_top)), rng.uniform(0, 2 * math.pi, n_top)
        top = np.column_stack([rad * np.cos(angle), rad * np.sin(angle), np.full(n_top, height / 2)])
        local = np.concatenate([side, top])
    elif obj.kind == "box":
        faces = []
        for axis, sign in ((0, -1), (0, 1), (1, -1), (1, 1), (2, 1)):
            dims = np.array([length, width, height])
            area = float(np.prod(np.delete(dims, axis)))
            pts = (rng.uniform(-0.5, 0.5, size=(int(area * density), 3))) * dims
            pts[:, axis] = sign * dims[axis] / 2
            faces.append(pts)
        local = np.concatenate(faces)
    else:  # pyramid: four triangles from the base edges to the apex
        apex = np.array([0.0, 0.0, height / 2])
        base = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]]) * np.array([length, width]) / 2
        tris = []
        for i in range(4):
            a, b = np.append(base[i], -height / 2), np.append(base[(i + 1) % 4], -height / 2)
            area = float(np.linalg.norm(np.cross(b - a, apex - a)) / 2)
            n = int(area * density)
            s, t = rng.uniform(size=(2, n))
            flip = s + t > 1
            s[flip], t[flip] = 1 - s[flip], 1 - t[flip]
            tris.append(a + s[:, None] * (b - a) + t[:, None] * (apex - a))
        local = np.concatenate(tris)
    c, s = math.cos(obj.box.yaw), math.sin(obj.box.yaw)
    rot = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])
    points = local @ rot.T + np.asarray(obj.box.center)
    shade = np.clip(np.array(rgb) + rng.integers(-8, 9, size=(len(points), 1)), 0, 255)
    return points, shade.astype(np.uint8)


def _visible_from(points: np.ndarray, sensor: np.ndarray, resolution: int = 1400, tolerance: float = 0.03):
    """Points a pinhole sensor at `sensor` looking at the origin sees: within `tolerance` of the nearest surface
    along each of its pixels' rays, or within two pixel widths at the point's distance where that is more (a
    coarse pixel spans a surface seen at a slant over more depth than that, and would cut notches in it)."""
    from vreason.spatial.camera import look_at

    rot = look_at(sensor, np.zeros(3))
    cam = (points - sensor) @ rot.T
    f = resolution / 2 / math.tan(math.radians(45))
    u = np.floor(f * cam[:, 0] / cam[:, 2] + resolution / 2).astype(np.int64)
    v = np.floor(f * cam[:, 1] / cam[:, 2] + resolution / 2).astype(np.int64)
    ok = (cam[:, 2] > 0) & (u >= 0) & (u < resolution) & (v >= 0) & (v < resolution)
    lin = np.where(ok, v * resolution + u, 0)
    dist = np.linalg.norm(points - sensor, axis=1)
    zbuf = np.full(resolution * resolution, np.inf)
    np.minimum.at(zbuf, lin[ok], dist[ok])
    slack = np.maximum(tolerance, 2 * dist / f)  # two pixel widths at the point's distance
    return ok & (dist <= zbuf[lin] + slack)
