"""2D boxes on a view to oriented 3D boxes in the cloud's own coordinates.

A box drawn on a view is a prism (orthographic) or a frustum (perspective) through the cloud. The points
inside it, less the ground, are grouped along the view's depth axis; the nearest group with a fair share of
the points is the surface the box was drawn around (what lies behind it is background or another object).
Its box: yaw from the smallest-area rectangle around the points on the ground plane (a search over angles,
which unlike PCA also orients squares), extents from trimmed percentiles (sensor noise), and a bottom that
reaches the ground when the points come close to it (the foot of an object is often hidden). Boxes of the
same object found on several views are merged: their points pooled, one box fitted. Numpy only; no model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from vreason.spatial.boxes3d import Box3D, iou_3d
from vreason.spatial.readers import PointCloud
from vreason.spatial.views import View

GROUND_SHARE = 0.1  # a plane holding less than this share of the points is not taken for the ground
MIN_POINTS = 12  # fewer points than this inside a 2D box: nothing to lift
_TRIM = 0.5  # percent trimmed at each end of every extent (noise, stray points)
FOCUS_MARGIN = 0.15  # share of the objects' extent kept around them when views are framed on them
GROW = 1.0  # a 2D box may miss up to its own size of the object on each side
ROUND_TOLERANCE = 0.04  # footprint areas within 4% over all angles: round, yaw 0
_YAW_STEPS = 90  # one degree apart over the quarter turn a rectangle's orientation spans


@dataclass(frozen=True)
class GroundPlane:
    normal: np.ndarray  # (3,) unit, pointing up
    offset: float  # height(p) = normal . p + offset
    tolerance: float  # points lower than this above the plane are ground

    def height(self, points: np.ndarray) -> np.ndarray:
        return np.asarray(points, dtype=np.float64) @ self.normal + self.offset

    def to_dict(self) -> dict:
        return {
            "normal": np.round(self.normal, 5).tolist(),
            "offset": round(self.offset, 5),
            "tolerance": round(self.tolerance, 5),
        }


def estimate_ground(
    cloud: PointCloud, *, tolerance: float | None = None, seed: int = 0, iterations: int = 96
) -> GroundPlane | None:
    """The dominant near-horizontal plane among the lowest points (RANSAC on a sample), or None when no
    plane holds `GROUND_SHARE` of the cloud (a scan of one object with no floor)."""
    points = cloud.points
    rng = np.random.default_rng(seed)
    sample = points[rng.choice(len(points), size=min(len(points), 20_000), replace=False)].astype(np.float64)
    lo, hi = sample.min(axis=0), sample.max(axis=0)
    if tolerance is None:
        tolerance = max(0.01 * float(np.max(hi[:2] - lo[:2])), 1e-6)
    low = sample[sample[:, 2] <= np.percentile(sample[:, 2], 30)]
    if len(low) < 3:  # a cloud of a few points: no plane to fit
        return None
    best, best_count = None, 0
    for _ in range(iterations):
        a, b, c = low[rng.choice(len(low), 3, replace=False)]
        normal = np.cross(b - a, c - a)
        norm = np.linalg.norm(normal)
        if norm < 1e-12:
            continue
        normal = normal / norm
        if normal[2] < 0:
            normal = -normal
        if normal[2] < math.cos(math.radians(25)):  # walls are not floors
            continue
        offset = -float(normal @ a)
        count = int((np.abs(sample @ normal + offset) <= tolerance).sum())
        if count > best_count:
            best, best_count = (normal, offset), count
    if best is None or best_count < GROUND_SHARE * len(sample):
        return None
    normal, offset = best
    inliers = sample[np.abs(sample @ normal + offset) <= tolerance]
    # Refit by least squares on the inliers (z = ax + by + c), which RANSAC's three points only approximate.
    design = np.column_stack([inliers[:, 0], inliers[:, 1], np.ones(len(inliers))])
    (ax, by, c), *_ = np.linalg.lstsq(design, inliers[:, 2], rcond=None)
    normal = np.array([-ax, -by, 1.0])
    scale = float(np.linalg.norm(normal))
    return GroundPlane(normal / scale, -c / scale, tolerance)


def objects_bounds(cloud: PointCloud, ground: GroundPlane | None, margin: float = FOCUS_MARGIN):
    """(lo, hi) around what stands on the ground, widened by `margin` of its size on each side (and down to
    the ground), or None when nothing does: views framed on the objects, not on the whole floor."""
    if ground is None:
        return None
    above = cloud.points[ground.height(cloud.points) > ground.tolerance]
    if len(above) < MIN_POINTS:
        return None
    lo, hi = above.min(axis=0).astype(np.float64), above.max(axis=0).astype(np.float64)
    pad = margin * float(np.max(hi[:2] - lo[:2]))
    c_lo, c_hi = cloud.bounds
    lo = np.maximum(lo - [pad, pad, 0], c_lo)
    hi = np.minimum(hi + [pad, pad, 0], c_hi)
    lo[2] = min(lo[2], float(c_lo[2]))
    return lo, hi


def points_in_box(view: View, cloud: PointCloud, box: tuple[float, float, float, float]) -> np.ndarray:
    """Indices of the points of `cloud` that project inside the 2D `box` (view pixels) in front of the camera."""
    u, v, depth = view.camera.project(cloud.points)
    x1, y1, x2, y2 = box
    return np.flatnonzero((u >= x1) & (u < x2) & (v >= y1) & (v < y2) & (depth > 0))


def nearest_surface(depth: np.ndarray, gap: float, min_share: float = 0.15) -> np.ndarray:
    """Positions (into `depth`) of the nearest group of depths, groups split where consecutive sorted depths
    are more than `gap` apart; groups under `min_share` of the largest are skipped as stray points."""
    order = np.argsort(depth, kind="stable")
    breaks = np.flatnonzero(np.diff(depth[order]) > gap) + 1
    groups = np.split(order, breaks)
    largest = max(len(g) for g in groups)
    for group in groups:
        if len(group) >= max(MIN_POINTS, min_share * largest):
            return group
    return groups[int(np.argmax([len(g) for g in groups]))]


def lift_box(
    view: View,
    cloud: PointCloud,
    box: tuple[float, float, float, float],
    *,
    ground: GroundPlane | None,
    label: str = "",
    gap: float | None = None,
    grow: float = GROW,
) -> tuple[Box3D, np.ndarray] | None:
    """The 3D box of the object drawn as `box` on `view`, and the indices of its points; None when the 2D
    box holds too few points above the ground. A loosely drawn box (cutting the object, as small models
    draw them) is completed: the object is the connected set of points it touches, up to `grow` times the
    box's size beyond each side."""
    inside = points_in_box(view, cloud, box)
    if ground is not None and len(inside):
        inside = inside[ground.height(cloud.points[inside]) > ground.tolerance]
    if len(inside) < MIN_POINTS:
        return None
    _, _, depth = view.camera.project(cloud.points[inside])
    lo, hi = cloud.bounds
    extent = float(np.max(hi - lo))
    if gap is None:
        gap = 0.04 * extent
        if ground is not None:
            gap = max(gap, 2 * ground.tolerance)
    chosen = inside[nearest_surface(np.asarray(depth, dtype=np.float64), gap)]
    if len(chosen) < MIN_POINTS:
        return None
    if grow > 0:
        chosen = grow_to_object(view, cloud, box, chosen, ground=ground, grow=grow, voxel=0.01 * extent)
    fitted = fit_box(cloud.points[chosen], ground, label=label)
    fitted.view = view.name
    fitted.extra = {"box_2d": [round(float(v), 1) for v in box]}
    return fitted, chosen


def grow_to_object(
    view: View,
    cloud: PointCloud,
    box: tuple[float, float, float, float],
    seeds: np.ndarray,
    *,
    ground: GroundPlane | None,
    grow: float,
    voxel: float,
) -> np.ndarray:
    """The points (above the ground, within the grown 2D box) connected to `seeds` through occupied voxels
    of edge `voxel`: the whole object whose nearest surface the box found."""
    x1, y1, x2, y2 = box
    dx, dy = (x2 - x1) * grow, (y2 - y1) * grow
    region = points_in_box(view, cloud, (x1 - dx, y1 - dy, x2 + dx, y2 + dy))
    if ground is not None:
        region = region[ground.height(cloud.points[region]) > ground.tolerance]
    labels = voxel_components(cloud.points[region], voxel)
    seed_labels = labels[np.isin(region, seeds)]
    if len(seed_labels) == 0:
        return seeds
    values, counts = np.unique(seed_labels, return_counts=True)
    grown = region[labels == values[np.argmax(counts)]]
    # The one object most of the seeds belong to, even when the seeds spread over several at one depth.
    return grown if len(grown) >= MIN_POINTS else seeds


def voxel_components(points: np.ndarray, voxel: float) -> np.ndarray:
    """A component label per point: points whose voxels touch (26-neighbourhood) share one."""
    cells = np.floor((points - points.min(axis=0)) / voxel).astype(np.int64)
    dims = cells.max(axis=0) + 3
    keys = ((cells[:, 2] + 1) * dims[1] + cells[:, 1] + 1) * dims[0] + cells[:, 0] + 1
    occupied, of_point = np.unique(keys, return_inverse=True)
    labels = np.arange(len(occupied))
    steps = [
        (dz * dims[1] + dy) * dims[0] + dx
        for dz in (-1, 0, 1)
        for dy in (-1, 0, 1)
        for dx in (-1, 0, 1)
        if (dx, dy, dz) > (0, 0, 0)
    ]
    pairs = []
    for step in steps:
        at = np.searchsorted(occupied, occupied + step)
        found = (at < len(occupied)) & (occupied[np.minimum(at, len(occupied) - 1)] == occupied + step)
        pairs.append(np.stack([np.flatnonzero(found), at[found]]))
    a, b = np.concatenate(pairs, axis=1) if pairs else (np.empty(0, int), np.empty(0, int))
    while True:  # propagate the smallest label along edges, with pointer jumping: converges in few rounds
        low = np.minimum(labels[a], labels[b])
        new = labels.copy()
        np.minimum.at(new, a, low)
        np.minimum.at(new, b, low)
        new = new[new]
        if np.array_equal(new, labels):
            return labels[of_point]
        labels = new


def fit_box(points: np.ndarray, ground: GroundPlane | None, *, label: str = "") -> Box3D:
    """An oriented box around `points`: yaw of the smallest-area ground rectangle, trimmed extents."""
    pts = np.asarray(points, dtype=np.float64)
    xy = pts[:, :2]
    sample = xy if len(xy) <= 4000 else xy[np.random.default_rng(0).choice(len(xy), 4000, replace=False)]
    centred = sample - sample.mean(axis=0)
    angles = np.linspace(0, math.pi / 2, _YAW_STEPS, endpoint=False)
    # (steps, 2, 2) rotations applied at once: (steps, n, 2) coordinates along each candidate's axes
    c, s = np.cos(angles), np.sin(angles)
    along = centred[None, :, 0] * c[:, None] + centred[None, :, 1] * s[:, None]
    across = -centred[None, :, 0] * s[:, None] + centred[None, :, 1] * c[:, None]
    lo_a, hi_a = np.percentile(along, [_TRIM, 100 - _TRIM], axis=1)
    lo_c, hi_c = np.percentile(across, [_TRIM, 100 - _TRIM], axis=1)
    areas = (hi_a - lo_a) * (hi_c - lo_c)
    # A round footprint (sphere, cylinder) has no orientation: every angle fits alike, so say yaw 0.
    yaw = 0.0 if areas.max() < (1 + ROUND_TOLERANCE) * areas.min() else float(angles[int(np.argmin(areas))])
    ca, sa = math.cos(yaw), math.sin(yaw)
    a = xy[:, 0] * ca + xy[:, 1] * sa
    b = -xy[:, 0] * sa + xy[:, 1] * ca
    a_lo, a_hi = np.percentile(a, [_TRIM, 100 - _TRIM])
    b_lo, b_hi = np.percentile(b, [_TRIM, 100 - _TRIM])
    length, width = a_hi - a_lo, b_hi - b_lo
    if width > length:  # the length runs along the box's own x: turn a quarter so it does
        length, width, yaw = width, length, yaw + math.pi / 2
    a_mid, b_mid = (a_lo + a_hi) / 2, (b_lo + b_hi) / 2
    cx, cy = a_mid * ca - b_mid * sa, a_mid * sa + b_mid * ca
    z_lo, z_hi = np.percentile(pts[:, 2], [_TRIM, 100 - _TRIM])
    if ground is not None:
        floor = _ground_z(ground, cx, cy)
        if z_lo - floor < 3 * ground.tolerance:  # close to the floor: the object stands on it
            z_lo = floor
    yaw = (yaw + math.pi / 2) % math.pi - math.pi / 2  # a box's yaw is only defined up to half a turn
    return Box3D(
        (float(cx), float(cy), float(z_lo + z_hi) / 2),
        (float(length), float(width), float(z_hi - z_lo)),
        yaw,
        label=label,
        points=len(pts),
    )


def _ground_z(ground: GroundPlane, x: float, y: float) -> float:
    n = ground.normal
    return float(-(n[0] * x + n[1] * y + ground.offset) / n[2])


def merge_lifted(
    found: list[tuple[Box3D, np.ndarray]], cloud: PointCloud, ground: GroundPlane | None, *, threshold: float = 0.2
) -> list[Box3D]:
    """One box per object: boxes (from different views) overlapping by more than `threshold` IoU are merged
    by pooling their points and fitting again."""
    groups: list[list[int]] = []
    for i, (box, _) in enumerate(found):
        for group in groups:
            if any(_same_object(box, found[j][0], threshold) for j in group):
                group.append(i)
                break
        else:
            groups.append([i])
    merged = []
    for group in groups:
        if len(group) == 1:
            merged.append(found[group[0]][0])
            continue
        indices = np.unique(np.concatenate([found[j][1] for j in group]))
        first = found[group[0]][0]
        box = fit_box(cloud.points[indices], ground, label=first.label)
        box.view = "+".join(dict.fromkeys(found[j][0].view for j in group))
        box.extra = {"merged_from": len(group)}
        merged.append(box)
    return merged


def _same_object(a: Box3D, b: Box3D, threshold: float) -> bool:
    # IoU alone: "centres close" chained loose boxes from poor views into one box spanning several objects.
    return iou_3d(a, b) > threshold
