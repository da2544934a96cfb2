"""Render a point cloud into images a vision-language model can read: bird's-eye, front, side, perspective.

Rendering is a numpy z-buffer: every point is projected once, the nearest point per pixel wins (an unbuffered
`np.minimum.at`, no sort, ~10 ms per million points), and a minimum filter over the depth makes the splat, so
sparse scans read as surfaces and a near surface hides what is behind it. (Open3D's offscreen renderer needs
EGL/Vulkan, which a headless CPU server lacks: measured, it fails to start here.) Colours are the points' own,
else intensity as grey, else height through a colour ramp. Each `View` keeps its `Camera` and, per pixel, the
depth and the index of the point shown, so a box drawn on the image maps back to 3D (lift.py). Big scans are
voxel down-sampled first (`voxel_downsample`), to one point per pixel-sized voxel of the largest view.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image

from vreason.errors import InvalidRequestError
from vreason.spatial import camera as cams
from vreason.spatial.camera import Camera
from vreason.spatial.readers import PointCloud

VIEW_NAMES = ("bev", "front", "side", "persp")
DEFAULT_SIZE = 448  # longer image side: Qwen3-VL's 32-pixel patches x 14, and well under any engine budget
MAX_SIZE = 2048
BACKGROUND = (255, 255, 255)
# Colour ramp for clouds without colours, low to high (blue, cyan, green, yellow, red).
_RAMP = np.array([[48, 18, 160], [30, 150, 230], [40, 200, 90], [240, 220, 40], [220, 40, 30]], dtype=np.float32)
RENDER_POINT_BUDGET = 2_000_000  # above this, views are rendered from a voxel down-sampled copy
_MAX_GRID_CELLS = 32_000_000  # dense voxel grid (int32) up to 128 MB; beyond, voxels are found by sorting


@dataclass
class View:
    name: str
    image: Image.Image
    camera: Camera
    depth: np.ndarray  # (H, W) float32 depth along the view axis, inf where no point landed
    index: np.ndarray  # (H, W) int32 index of the shown point in the rendered cloud, -1 where none

    def to_dict(self) -> dict:
        return {"name": self.name, "size": [self.image.width, self.image.height], "camera": self.camera.to_dict()}


def parse_views(text: str | None) -> tuple[str, ...]:
    """Names from "bev,front" (comma separated; aliases top, perspective); unknown ones are a one-line error."""
    names = tuple(n.strip().lower() for n in (text or "bev").split(",") if n.strip())
    aliases = {"top": "bev", "birdseye": "bev", "perspective": "persp"}
    names = tuple(aliases.get(n, n) for n in names)
    unknown = [n for n in names if n not in VIEW_NAMES]
    if unknown or not names:
        raise InvalidRequestError(
            f"views {text!r}: choose from {', '.join(VIEW_NAMES)} (comma separated)", param="views"
        )
    return tuple(dict.fromkeys(names))


def camera_for(
    name: str, cloud: PointCloud, size: int = DEFAULT_SIZE, bounds: tuple[np.ndarray, np.ndarray] | None = None
) -> Camera:
    """The named view's camera framing `bounds` (default: the whole cloud)."""
    lo, hi = bounds if bounds is not None else cloud.bounds
    lo, hi = np.asarray(lo, dtype=np.float64), np.asarray(hi, dtype=np.float64)
    if name == "bev":
        return cams.orthographic(cams.BEV_ROTATION, lo, hi, size)
    if name == "front":
        return cams.orthographic(cams.FRONT_ROTATION, lo, hi, size)
    if name == "side":
        return cams.orthographic(cams.SIDE_ROTATION, lo, hi, size)
    if name == "persp":
        return cams.perspective(lo, hi, size)
    raise InvalidRequestError(f"unknown view {name!r}; choose from {', '.join(VIEW_NAMES)}", param="views")


def render_views(
    cloud: PointCloud,
    names: tuple[str, ...] = ("bev",),
    *,
    size: int = DEFAULT_SIZE,
    max_pixels: int | None = None,
    point_size: int | None = None,
    cameras: dict[str, Camera] | None = None,
    bounds: tuple[np.ndarray, np.ndarray] | None = None,
) -> list[View]:
    """One `View` per name (or per given camera, `cameras` winning for its name). `max_pixels` caps each
    image's area (the longer side shrinks to fit); `bounds` (lo, hi) frames the views on a region (points
    outside it are cut off). Indices in the views refer to `cloud` as given."""
    if not 16 <= size <= MAX_SIZE:
        raise InvalidRequestError(f"view size ({size}) must be between 16 and {MAX_SIZE} pixels", param="size")
    if max_pixels is not None:
        size = max(16, min(size, int(math.sqrt(max_pixels))))
    colors = point_colors(cloud)
    views = []
    for name in names:
        camera = (cameras or {}).get(name) or camera_for(name, cloud, size, bounds)
        views.append(render(cloud, camera, name=name, colors=colors, point_size=point_size))
    return views


def render(
    cloud: PointCloud,
    camera: Camera,
    *,
    name: str = "view",
    colors: np.ndarray | None = None,
    point_size: int | None = None,
) -> View:
    """Z-buffer splatting of `cloud` through `camera`. Each point covers a `point_size` square; the nearest
    point per pixel wins. Splatting every point into a k x k square and keeping the minimum depth equals a
    k x k minimum filter over the one-pixel z-buffer, so the splat costs pixels, not points."""
    if point_size is not None and not 1 <= point_size <= 8:
        raise InvalidRequestError(f"point size ({point_size}) must be between 1 and 8 pixels", param="point_size")
    w, h = camera.width, camera.height
    u, v, depth = camera.project(cloud.points)
    ui, vi = u.astype(np.int32), v.astype(np.int32)  # truncation: u < 0 lands on 0 but is dropped below
    inside = (u >= 0) & (ui < w) & (v >= 0) & (vi < h) & (depth > 0)
    idx = np.flatnonzero(inside).astype(np.int32)
    lin = vi[idx] * w + ui[idx]
    d = depth[idx]
    zbuf = np.full(w * h, np.inf, dtype=np.float32)
    np.minimum.at(zbuf, lin, d)  # nearest depth per pixel, order-free
    winners = d <= zbuf[lin]
    index = np.full(w * h, -1, dtype=np.int32)
    index[lin[winners]] = idx[winners]  # ties at equal depth: any of them, all equally near
    if point_size is None:
        point_size = auto_point_size(u[idx], v[idx])
    zbuf, index = _min_filter(zbuf.reshape(h, w), index.reshape(h, w), point_size)
    zbuf, index = _close_holes(zbuf, index)
    colors = point_colors(cloud) if colors is None else colors
    rgb = np.empty((h, w, 3), dtype=np.uint8)
    rgb[:] = BACKGROUND
    shown = index >= 0
    rgb[shown] = colors[index[shown]]
    return View(name, Image.fromarray(rgb, "RGB"), camera, zbuf, index)


def auto_point_size(u: np.ndarray, v: np.ndarray) -> int:
    """Splat size from the points' spacing on the image (twice the mean gap, 1-6 pixels), so a sparse scan
    closes into surfaces and a dense one keeps its detail."""
    if len(u) == 0:
        return 1
    area = max(float(np.ptp(u)) * float(np.ptp(v)), 1.0)
    spacing = math.sqrt(area / len(u))
    return int(np.clip(math.ceil(2 * spacing), 1, 6))


def _close_holes(zbuf: np.ndarray, index: np.ndarray, passes: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """Empty pixels with at least 5 of their 8 neighbours shown take the nearest of them: pinholes where
    random sampling left a surface sparse close up, while outlines keep their place (a straight edge has 3
    shown neighbours outside it, a concave corner 5)."""
    h, w = zbuf.shape
    for _ in range(passes):
        pad_z = np.pad(zbuf, 1, constant_values=np.inf)
        pad_i = np.pad(index, 1, constant_values=-1)
        shown = np.zeros((h, w), dtype=np.int8)
        best_z, best_i = zbuf.copy(), index.copy()
        for dy in (-1, 0, 1):
            for dx in (-1, 0, 1):
                if dx == dy == 0:
                    continue
                nz = pad_z[1 + dy : 1 + dy + h, 1 + dx : 1 + dx + w]
                ni = pad_i[1 + dy : 1 + dy + h, 1 + dx : 1 + dx + w]
                shown += ni >= 0
                better = (index < 0) & (nz < best_z)
                best_z[better] = nz[better]
                best_i[better] = ni[better]
        fill = (index < 0) & (shown >= 5)
        if not fill.any():
            break
        zbuf, index = np.where(fill, best_z, zbuf), np.where(fill, best_i, index)
    return zbuf, index


def _min_filter(zbuf: np.ndarray, index: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Each pixel takes the nearest point among the `size` x `size` pixels around it (index follows depth)."""
    if size <= 1:
        return zbuf, index
    h, w = zbuf.shape
    lo = -(size // 2)
    pad = size
    pad_z = np.pad(zbuf, pad, constant_values=np.inf)
    pad_i = np.pad(index, pad, constant_values=-1)
    best_z, best_i = zbuf.copy(), index.copy()
    for dy in range(lo, lo + size):
        for dx in range(lo, lo + size):
            if dx == dy == 0:
                continue
            nz = pad_z[pad + dy : pad + dy + h, pad + dx : pad + dx + w]
            better = nz < best_z
            best_z[better] = nz[better]
            best_i[better] = pad_i[pad + dy : pad + dy + h, pad + dx : pad + dx + w][better]
    return best_z, best_i


def point_colors(cloud: PointCloud) -> np.ndarray:
    """(N, 3) uint8: the cloud's colours, else intensity as grey, else height (z) through the ramp."""
    if cloud.colors is not None:
        return cloud.colors
    if cloud.intensity is not None:
        value = _normalised(cloud.intensity)
        return np.repeat((40 + value * 200).astype(np.uint8)[:, None], 3, axis=1)
    t = _normalised(cloud.points[:, 2]) * (len(_RAMP) - 1)
    return np.stack([np.interp(t, np.arange(len(_RAMP)), _RAMP[:, c]) for c in range(3)], axis=1).astype(np.uint8)


def _normalised(values: np.ndarray) -> np.ndarray:
    lo, hi = np.percentile(values, [1, 99]) if len(values) > 100 else (values.min(), values.max())
    return np.clip((values - lo) / max(hi - lo, 1e-9), 0, 1)


def voxel_downsample(cloud: PointCloud, voxel: float) -> tuple[PointCloud, np.ndarray]:
    """One point per occupied voxel of edge `voxel` (the last in file order), and the kept indices (sorted).
    A dense grid makes it one linear pass when the cloud's extent allows; otherwise voxels are found by
    sorting their keys. Cells are computed a column at a time in int32: a 10M-point scan stays light."""
    if voxel <= 0:
        raise InvalidRequestError(f"voxel size ({voxel}) must be positive", param="voxel")
    lo, hi = cloud.bounds
    dims = (np.floor((hi - lo) / voxel).astype(np.int64) + 1).tolist()
    key = np.zeros(len(cloud), dtype=np.int64)
    for axis in (2, 1, 0):  # key = (z * ny + y) * nx + x, built column by column
        cell = ((cloud.points[:, axis] - lo[axis]) * (1.0 / voxel)).astype(np.int32)
        np.minimum(cell, dims[axis] - 1, out=cell)
        key *= dims[axis]
        key += cell
    total = dims[0] * dims[1] * dims[2]
    if total <= _MAX_GRID_CELLS:
        last = np.full(total, -1, dtype=np.int32)
        last[key] = np.arange(len(key), dtype=np.int32)  # sequential assignment: the last write stays
        kept = np.sort(last[last >= 0])
    else:
        _, kept = np.unique(key, return_index=True)
        kept.sort()
    return cloud.subset(kept), kept


def budget_voxel(cloud: PointCloud, size: int = DEFAULT_SIZE) -> float:
    """A voxel edge of one pixel of the largest orthographic view: finer detail cannot show."""
    lo, hi = cloud.bounds
    return float(np.max(hi - lo)) / size


def prepared_for_views(
    cloud: PointCloud, size: int = DEFAULT_SIZE, budget: int = RENDER_POINT_BUDGET
) -> tuple[PointCloud, np.ndarray | None]:
    """The cloud to render: itself when within `budget` points, else voxel down-sampled to one point per
    pixel-sized voxel (coarser, by half again each time, while still over the budget), with the indices kept."""
    if len(cloud) <= budget:
        return cloud, None
    voxel = budget_voxel(cloud, size)
    while True:
        thinned, kept = voxel_downsample(cloud, voxel)
        if len(thinned) <= budget:
            return thinned, kept
        voxel *= 1.5
