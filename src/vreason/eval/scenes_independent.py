"""A second 3D scene generator, used only for evaluation: synthetic scenes made by other code than the ones the
built-in model may be trained on (spatial/scenes.py, whose bird's-eye views train/scenes3d_views.py teaches).

spatial/scenes.py samples points uniformly on each primitive's surface and, for one sensor's view, removes
what a z-buffer says it cannot see. This one simulates scanners instead: each sensor casts a grid of rays,
every ray keeps its nearest hit among the floor and the objects (analytic ray-sphere, ray-cylinder, slab and
ray-triangle tests), and the range along the ray is noisy. So point density falls with distance and incidence
like a real depth camera's, the floor is a tinted rectangle of its own size, objects are placed by footprint
circles (not boxes), are sized from other ranges, and take the colour shades of the independent 2D renderer
(eval/shapes_independent.py), not the palette. "full" scans add a sensor overhead; "single" scans are one
oblique sensor's, with its occlusion shadows. It shares with spatial/scenes.py only the result's types (the
product's Box3D, PointCloud, SceneObject) and the kinds' names.

Same seed, same scene.
"""

from __future__ import annotations

import math

import numpy as np

from vreason.eval.shapes_independent import SHADE_JITTER, SHADES
from vreason.spatial.boxes3d import Box3D
from vreason.spatial.readers import checked_cloud
from vreason.spatial.scenes import SceneObject, SyntheticScene

KINDS = ("sphere", "box", "pyramid", "cylinder")
RAYS = 420  # a sensor's ray grid is RAYS x RAYS
RANGE_NOISE = 0.005  # metres, along the ray


def make_scan(seed: int, *, single_sensor: bool = False, count: int | None = None) -> SyntheticScene:
    """A scene of `count` (default 1-5) objects on a tinted floor, scanned by simulated sensors."""
    rng = np.random.default_rng([seed, 2027])
    count = int(rng.integers(1, 6)) if count is None else count
    half = float(rng.uniform(1.7, 2.3)) if count > 1 else float(rng.uniform(1.2, 1.5))
    objects = _place(rng, count, half)
    sensors = _sensors(rng, half, single_sensor)
    points, colors, owners = [], [], []
    floor_rgb = np.array([rng.integers(222, 246) for _ in range(3)], dtype=np.float64)
    palette = np.array([_shade(rng, o.color) for o in objects] + [floor_rgb])  # the floor last
    for eye, fov in sensors:
        origins, dirs = _rays(eye, fov)
        t, hit = _cast(origins, dirs, objects, half)
        keep = np.isfinite(t)
        t = t[keep] + rng.normal(0, RANGE_NOISE, int(keep.sum()))
        points.append(origins[keep] + dirs[keep] * t[:, None])
        which = hit[keep]
        owners.append(which)
        rgb = palette[np.where(which < 0, len(objects), which)]
        colors.append(rgb + rng.integers(-5, 6, size=(len(which), 1)))
    cloud = checked_cloud(np.concatenate(points), np.clip(np.concatenate(colors), 0, 255).astype(np.uint8),
                          source=f"scan-{seed}")
    return SyntheticScene(cloud, objects, extent=2 * half, owner=np.concatenate(owners))


def _place(rng: np.random.Generator, count: int, half: float) -> list[SceneObject]:
    objects: list[SceneObject] = []
    circles: list[tuple[float, float, float]] = []  # footprint centre and radius of each placed object
    for _ in range(400):
        if len(objects) == count:
            break
        kind = str(KINDS[int(rng.integers(len(KINDS)))])
        side = float(np.exp(rng.uniform(math.log(0.5), math.log(1.2 if count > 1 else 1.5))))
        width = side * float(rng.uniform(0.55, 1.0)) if kind == "box" else side
        height = side if kind == "sphere" else float(rng.uniform(0.3, 1.1))
        radius = math.hypot(side, width) / 2
        x, y = (float(v) for v in rng.uniform(-half + radius, half - radius, size=2))
        if any(math.hypot(x - cx, y - cy) < radius + r + 0.15 for cx, cy, r in circles):
            continue
        yaw = float(rng.uniform(-0.45, 0.45)) if kind in ("box", "pyramid") else 0.0
        color = str(list(SHADES)[int(rng.integers(len(SHADES)))])
        circles.append((x, y, radius))
        box = Box3D((x, y, height / 2), (side, width, height), yaw, label=f"{color} {kind}")
        objects.append(SceneObject(kind, color, box))
    return objects


def _shade(rng: np.random.Generator, color: str) -> np.ndarray:
    shades = SHADES[color]
    base = np.array(shades[int(rng.integers(len(shades)))], dtype=np.float64)
    return np.clip(base + rng.integers(-SHADE_JITTER, SHADE_JITTER + 1, size=3), 0, 255)


def _sensors(rng: np.random.Generator, half: float, single: bool) -> list[tuple[np.ndarray, float]]:
    """(eye, field of view in radians): oblique sensors around the scene, and one overhead for a full scan."""
    around = 1 if single else int(rng.integers(2, 4))
    start = float(rng.uniform(0, 2 * math.pi))
    out = []
    for k in range(around):
        angle = start + 2 * math.pi * k / around
        distance, height = half * float(rng.uniform(1.8, 2.4)), half * float(rng.uniform(1.1, 1.7))
        out.append((np.array([distance * math.cos(angle), distance * math.sin(angle), height]), math.radians(75)))
    if not single:
        out.append((np.array([float(rng.uniform(-0.2, 0.2)), float(rng.uniform(-0.2, 0.2)), 3.2 * half]),
                    math.radians(70)))
    return out


def _rays(eye: np.ndarray, fov: float) -> tuple[np.ndarray, np.ndarray]:
    """A RAYS x RAYS pinhole grid from `eye` towards the floor's centre."""
    forward = -eye / np.linalg.norm(eye)
    up = np.array([0.0, 0.0, 1.0]) if abs(forward[2]) < 0.99 else np.array([0.0, 1.0, 0.0])
    right = np.cross(forward, up)
    right /= np.linalg.norm(right)
    down = np.cross(forward, right)
    span = math.tan(fov / 2)
    a = np.linspace(-span, span, RAYS)
    gx, gy = np.meshgrid(a, a)
    dirs = forward + gx.reshape(-1, 1) * right + gy.reshape(-1, 1) * down
    dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
    return np.broadcast_to(eye, dirs.shape).copy(), dirs


def _cast(origins: np.ndarray, dirs: np.ndarray, objects: list[SceneObject], half: float):
    """Nearest hit distance per ray (inf: none) and what it hit (-1 floor, i objects[i])."""
    best = np.full(len(dirs), np.inf)
    hit = np.full(len(dirs), -1)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(dirs[:, 2] < 0, -origins[:, 2] / dirs[:, 2], np.inf)
        p = origins + dirs * np.where(np.isfinite(t), t, 0)[:, None]
        best = np.where(np.isfinite(t) & (np.abs(p[:, 0]) <= half) & (np.abs(p[:, 1]) <= half), t, np.inf)
        for i, obj in enumerate(objects):
            # exact tests only for rays that meet the object's bounding sphere (most rays miss any one object)
            centre, size = np.asarray(obj.box.center), np.asarray(obj.box.size)
            near = np.flatnonzero(np.isfinite(_sphere(origins - centre, dirs, float(np.linalg.norm(size)) / 2)))
            t = np.full(len(dirs), np.inf)
            t[near] = _hit(origins[near], dirs[near], obj)
            nearer = t < best
            best, hit = np.where(nearer, t, best), np.where(nearer, i, hit)
    return best, hit


def _hit(o: np.ndarray, d: np.ndarray, obj: SceneObject) -> np.ndarray:
    (cx, cy, cz), (length, width, height), yaw = obj.box.center, obj.box.size, obj.box.yaw
    c, s = math.cos(yaw), math.sin(yaw)
    rot = np.array([[c, s, 0.0], [-s, c, 0.0], [0.0, 0.0, 1.0]])  # world to the object's frame
    lo = (o - np.array([cx, cy, 0.0])) @ rot.T  # base at z = 0
    ld = d @ rot.T
    if obj.kind == "sphere":
        return _sphere(lo - np.array([0.0, 0.0, cz]), ld, length / 2)
    if obj.kind == "cylinder":
        return _cylinder(lo, ld, length / 2, height)
    if obj.kind == "box":
        return _slab(lo, ld, np.array([length / 2, width / 2, height]))
    apex = np.array([0.0, 0.0, height])
    base = [np.array([x * length / 2, y * width / 2, 0.0]) for x, y in ((-1, -1), (1, -1), (1, 1), (-1, 1))]
    return np.min([_triangle(lo, ld, base[k], base[(k + 1) % 4], apex) for k in range(4)], axis=0)


def _sphere(o, d, r):
    b = np.einsum("ij,ij->i", o, d)
    disc = b * b - (np.einsum("ij,ij->i", o, o) - r * r)
    t = -b - np.sqrt(np.where(disc >= 0, disc, 0))
    return np.where((disc >= 0) & (t > 0), t, np.inf)


def _cylinder(o, d, r, height):
    a = d[:, 0] ** 2 + d[:, 1] ** 2
    b = o[:, 0] * d[:, 0] + o[:, 1] * d[:, 1]
    disc = b * b - a * (o[:, 0] ** 2 + o[:, 1] ** 2 - r * r)
    side = (-b - np.sqrt(np.where(disc >= 0, disc, 0))) / np.where(a > 0, a, 1)
    z = o[:, 2] + side * d[:, 2]
    side = np.where((disc >= 0) & (a > 0) & (side > 0) & (z >= 0) & (z <= height), side, np.inf)
    top = (height - o[:, 2]) / d[:, 2]
    p = o + d * np.where(np.isfinite(top), top, 0)[:, None]
    top = np.where((top > 0) & (p[:, 0] ** 2 + p[:, 1] ** 2 <= r * r), top, np.inf)
    return np.minimum(side, top)


def _slab(o, d, half):
    """A box from (-hx, -hy, 0) to (hx, hy, h) (`half` = (hx, hy, h))."""
    lo, hi = np.array([-half[0], -half[1], 0.0]), half
    t1, t2 = (lo - o) / d, (hi - o) / d
    near = np.max(np.minimum(t1, t2), axis=1)
    far = np.min(np.maximum(t1, t2), axis=1)
    return np.where((near <= far) & (near > 0), near, np.inf)


def _triangle(o, d, a, b, c):
    """Moller-Trumbore, every ray against one triangle."""
    e1, e2 = b - a, c - a
    p = np.cross(d, e2)
    det = p @ e1
    inv = 1.0 / np.where(np.abs(det) > 1e-12, det, np.nan)
    s = o - a
    u = np.einsum("ij,ij->i", s, p) * inv
    q = np.cross(s, e1)
    v = np.einsum("ij,ij->i", d, q) * inv
    t = (q @ e2) * inv
    ok = (u >= 0) & (v >= 0) & (u + v <= 1) & (t > 0)
    return np.where(ok, t, np.inf)
