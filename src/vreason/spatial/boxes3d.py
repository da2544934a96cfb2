"""Oriented 3D boxes on a z-up ground: the result type of 3D grounding, its metrics and its PLY export.

A `Box3D` is a centre, a size (length along its own x, width along its own y, height along z) and a yaw:
the rotation about the vertical axis, in radians, counter-clockwise from world +x. Metrics: `iou_3d` (exact
for yawed boxes: the ground-plane overlap of two rotated rectangles, clipped as convex polygons, times the
vertical overlap), `iou_axis_aligned` (the IoU of the boxes' axis-aligned hulls; the same number when both
yaws are 0) and `centre_distance`. `write_boxes_ply` writes the boxes as line sets (8 vertices and 12 edges
each, coloured), which MeshLab, CloudCompare and Open3D open beside the cloud. No model, no rendering.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

# Corner order: bottom face counter-clockwise from (-x, -y), then the top face in the same order.
_UNIT_CORNERS = (
    np.array(
        [[-1, -1, -1], [1, -1, -1], [1, 1, -1], [-1, 1, -1], [-1, -1, 1], [1, -1, 1], [1, 1, 1], [-1, 1, 1]],
        dtype=np.float64,
    )
    / 2
)
EDGES = ((0, 1), (1, 2), (2, 3), (3, 0), (4, 5), (5, 6), (6, 7), (7, 4), (0, 4), (1, 5), (2, 6), (3, 7))


@dataclass
class Box3D:
    center: tuple[float, float, float]
    size: tuple[float, float, float]  # along the box's own x (length), y (width), and z (height)
    yaw: float = 0.0  # radians about +z, counter-clockwise from +x
    label: str = ""
    points: int = 0  # cloud points inside (0 when not measured, e.g. ground truth)
    view: str = ""  # the view it was found on ("" for ground truth; "+"-joined when views were merged)
    extra: dict = field(default_factory=dict)  # e.g. the 2D box it was lifted from

    def corners(self) -> np.ndarray:
        """(8, 3) corners in `_UNIT_CORNERS` order."""
        local = _UNIT_CORNERS * np.asarray(self.size, dtype=np.float64)
        c, s = math.cos(self.yaw), math.sin(self.yaw)
        rot = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])
        return local @ rot.T + np.asarray(self.center, dtype=np.float64)

    def footprint(self) -> np.ndarray:
        """(4, 2) ground-plane corners, counter-clockwise."""
        return self.corners()[:4, :2]

    @property
    def volume(self) -> float:
        return float(np.prod(self.size))

    def to_dict(self, ndigits: int = 4) -> dict:
        data = {
            "label": self.label,
            "center": [round(float(v), ndigits) for v in self.center],
            "size": [round(float(v), ndigits) for v in self.size],
            "yaw": round(float(self.yaw), ndigits),
            "yaw_deg": round(math.degrees(self.yaw), 2),
            "points": int(self.points),
        }
        if self.view:
            data["view"] = self.view
        data.update(self.extra)
        return data


def centre_distance(a: Box3D, b: Box3D) -> float:
    return float(np.linalg.norm(np.asarray(a.center, dtype=np.float64) - np.asarray(b.center, dtype=np.float64)))


def _z_overlap(a: Box3D, b: Box3D) -> float:
    a_lo, a_hi = a.center[2] - a.size[2] / 2, a.center[2] + a.size[2] / 2
    b_lo, b_hi = b.center[2] - b.size[2] / 2, b.center[2] + b.size[2] / 2
    return max(0.0, min(a_hi, b_hi) - max(a_lo, b_lo))


def iou_3d(a: Box3D, b: Box3D) -> float:
    """Intersection over union of two yawed boxes (exact)."""
    inter = polygon_area(clip_convex(a.footprint(), b.footprint())) * _z_overlap(a, b)
    union = a.volume + b.volume - inter
    return float(inter / union) if union > 0 else 0.0


def axis_aligned_hull(box: Box3D) -> Box3D:
    """The smallest box with yaw 0 that holds `box`."""
    corners = box.corners()
    lo, hi = corners.min(axis=0), corners.max(axis=0)
    return Box3D(tuple((lo + hi) / 2), tuple(hi - lo), 0.0, box.label, box.points, box.view)


def iou_axis_aligned(a: Box3D, b: Box3D) -> float:
    """IoU of the axis-aligned hulls: the metric of benchmarks that ignore orientation."""
    return iou_3d(axis_aligned_hull(a), axis_aligned_hull(b))


def polygon_area(polygon: np.ndarray) -> float:
    """Shoelace area of a simple polygon given as (K, 2) vertices in order (0 for fewer than 3)."""
    if len(polygon) < 3:
        return 0.0
    x, y = polygon[:, 0], polygon[:, 1]
    return float(abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))) / 2)


def clip_convex(subject: np.ndarray, clip: np.ndarray) -> np.ndarray:
    """Sutherland-Hodgman: the part of convex polygon `subject` inside convex polygon `clip` (both
    counter-clockwise, (K, 2)); an empty (0, 2) array when they do not overlap."""
    output = [tuple(p) for p in subject]
    for i in range(len(clip)):
        if not output:
            break
        a, b = clip[i], clip[(i + 1) % len(clip)]
        edge = b - a

        def inside(p, a=a, edge=edge) -> bool:
            return edge[0] * (p[1] - a[1]) - edge[1] * (p[0] - a[0]) >= -1e-12

        def crossing(p, q, a=a, edge=edge):
            d = np.subtract(q, p)
            denom = edge[0] * d[1] - edge[1] * d[0]
            t = (edge[1] * (p[0] - a[0]) - edge[0] * (p[1] - a[1])) / denom
            return (p[0] + t * d[0], p[1] + t * d[1])

        current, output = output, []
        for j, p in enumerate(current):
            q = current[(j + 1) % len(current)]
            if inside(q):
                if not inside(p):
                    output.append(crossing(p, q))
                output.append(q)
            elif inside(p):
                output.append(crossing(p, q))
    return np.array(output, dtype=np.float64).reshape(-1, 2)


def write_boxes_ply(path: str | Path, boxes: list[Box3D], colors: list[tuple[int, int, int]] | None = None) -> None:
    """The boxes as one PLY line set: a vertex element (x, y, z, red, green, blue) and an edge element
    (vertex1, vertex2, red, green, blue), 8 vertices and 12 edges per box."""
    from plyfile import PlyData, PlyElement

    colors = colors or [(255, 0, 255)] * len(boxes)
    vertex = np.empty(
        8 * len(boxes), dtype=[("x", "f4"), ("y", "f4"), ("z", "f4"), ("red", "u1"), ("green", "u1"), ("blue", "u1")]
    )
    edge = np.empty(
        12 * len(boxes), dtype=[("vertex1", "i4"), ("vertex2", "i4"), ("red", "u1"), ("green", "u1"), ("blue", "u1")]
    )
    for k, (box, color) in enumerate(zip(boxes, colors, strict=True)):
        corners = box.corners()
        rows = slice(8 * k, 8 * k + 8)
        vertex["x"][rows], vertex["y"][rows], vertex["z"][rows] = corners.T
        vertex["red"][rows], vertex["green"][rows], vertex["blue"][rows] = color
        pairs = np.array(EDGES, dtype=np.int32) + 8 * k
        rows = slice(12 * k, 12 * k + 12)
        edge["vertex1"][rows], edge["vertex2"][rows] = pairs.T
        edge["red"][rows], edge["green"][rows], edge["blue"][rows] = color
    comments = [f"box {k}: {b.label}" for k, b in enumerate(boxes)]
    PlyData([PlyElement.describe(vertex, "vertex"), PlyElement.describe(edge, "edge")], comments=comments).write(
        str(path)
    )
