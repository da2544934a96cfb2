"""Virtual cameras for rendering a cloud: where a view looks from, and how its pixels map back to 3D.

World frame: the cloud's own, z up. Camera frame: OpenCV's (x right, y down, z forward), so a Qwen3-VL
`bbox_3d` given "in camera coordinates" on a view converts with the same `Camera`. `rotation` maps world to
camera (p_cam = R (p_world - position)). Orthographic cameras (bird's-eye, front, side) use fx/fy as pixels
per metre, perspective ones as the pinhole focal length in pixels. `project` and `unproject` are inverses:
a pixel and its depth give back the world point. Pure numpy, no rendering.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

CameraKind = Literal["orthographic", "perspective"]

# World-to-camera rotations of the fixed views (rows: the camera's x, y, z axes in world coordinates).
BEV_ROTATION = np.array([[1, 0, 0], [0, -1, 0], [0, 0, -1]], dtype=np.float64)  # looking down, +y is up in the image
FRONT_ROTATION = np.array([[1, 0, 0], [0, 0, -1], [0, 1, 0]], dtype=np.float64)  # looking along +y, z up
SIDE_ROTATION = np.array([[0, 1, 0], [0, 0, -1], [-1, 0, 0]], dtype=np.float64)  # looking along -x, z up
MARGIN = 0.04  # share of each side left empty around the cloud, so edge objects are not cut by the frame


@dataclass(frozen=True)
class Camera:
    kind: CameraKind
    rotation: np.ndarray  # (3, 3) world -> camera
    position: np.ndarray  # (3,) camera centre in world coordinates
    fx: float  # perspective: focal length in pixels; orthographic: pixels per world unit
    fy: float
    cx: float
    cy: float
    width: int
    height: int

    def to_camera(self, points: np.ndarray) -> np.ndarray:
        """(N, 3) camera coordinates; float32 in, float32 out (rendering a million points), float64 otherwise.
        Column by column, skipping zero terms: the fixed views' rotations are mostly zeros, and a (N, 3) x
        (3, 3) product is a poor fit for BLAS."""
        given = np.asarray(points)
        points = given.reshape(-1, 3)
        dtype = np.float32 if points.dtype == np.float32 else np.float64
        rot = self.rotation.astype(dtype)
        shift = rot @ self.position.astype(dtype)  # R (p - c) = R p - R c
        out = np.empty(points.shape, dtype=dtype)
        for i in range(3):
            terms = [rot[i, j] * points[:, j] for j in range(3) if rot[i, j] != 0]
            column = terms[0] if terms else np.zeros(len(points), dtype=dtype)
            for term in terms[1:]:
                column = column + term
            out[:, i] = column - shift[i]
        return out.reshape(given.shape)

    def to_world(self, points_cam: np.ndarray) -> np.ndarray:
        return np.asarray(points_cam, dtype=np.float64) @ self.rotation + self.position

    def project(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Pixel u, v (float, pixel centres at +0.5) and depth along the view axis for (N, 3) world points;
        depth <= 0 means behind the camera (perspective) or above the camera plane (orthographic)."""
        c = self.to_camera(points)
        if self.kind == "orthographic":
            return self.fx * c[:, 0] + self.cx, self.fy * c[:, 1] + self.cy, c[:, 2]
        z = np.where(c[:, 2] > 1e-9, c[:, 2], 1e-9)
        return self.fx * c[:, 0] / z + self.cx, self.fy * c[:, 1] / z + self.cy, c[:, 2]

    def unproject(self, u, v, depth) -> np.ndarray:
        """World points for pixels (u, v) at `depth` along the view axis: the inverse of `project`."""
        u, v, depth = (np.asarray(a, dtype=np.float64) for a in (u, v, depth))
        if self.kind == "orthographic":
            cam = np.stack([(u - self.cx) / self.fx, (v - self.cy) / self.fy, depth], axis=-1)
        else:
            cam = np.stack([(u - self.cx) / self.fx * depth, (v - self.cy) / self.fy * depth, depth], axis=-1)
        return self.to_world(cam)

    def intrinsics(self) -> dict[str, float]:
        """The cookbook's cam_params (fx, fy, cx, cy), for a model asked for bbox_3d on this view."""
        return {"fx": self.fx, "fy": self.fy, "cx": self.cx, "cy": self.cy}

    def to_dict(self) -> dict:
        return {
            "kind": self.kind,
            "width": self.width,
            "height": self.height,
            "fx": round(self.fx, 6),
            "fy": round(self.fy, 6),
            "cx": round(self.cx, 3),
            "cy": round(self.cy, 3),
            "rotation": np.round(self.rotation, 6).tolist(),
            "position": np.round(self.position, 6).tolist(),
        }


def orthographic(rotation: np.ndarray, lo: np.ndarray, hi: np.ndarray, size: int) -> Camera:
    """An orthographic camera looking along `rotation`'s z axis at the box [lo, hi], its longer image side
    `size` pixels, the other side in proportion (so a flat scene does not become a square of empty space)."""
    corners = np.array([[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])])
    cam = corners @ rotation.T
    c_lo, c_hi = cam.min(axis=0), cam.max(axis=0)
    extent = np.maximum(c_hi - c_lo, 1e-6)
    scale = size * (1 - 2 * MARGIN) / max(extent[0], extent[1])
    # rounded before the ceiling: the longer side comes out as size * (1 - 2M) / (1 - 2M), which float arithmetic
    # may put a hair above `size` (448.00000000000006 made 449-pixel views)
    width = max(16, math.ceil(round(extent[0] * scale / (1 - 2 * MARGIN), 6)))
    height = max(16, math.ceil(round(extent[1] * scale / (1 - 2 * MARGIN), 6)))
    # The camera plane sits just before the nearest corner, centred on the box.
    centre_cam = np.array([(c_lo[0] + c_hi[0]) / 2, (c_lo[1] + c_hi[1]) / 2, c_lo[2] - 1e-3 * max(extent)])
    position = centre_cam @ rotation
    scale = float(scale)  # a Python float keeps float32 points float32 when projected (NumPy's weak scalars)
    return Camera("orthographic", rotation.copy(), position, scale, scale, width / 2, height / 2, width, height)


def look_at(eye: np.ndarray, target: np.ndarray, up=(0.0, 0.0, 1.0)) -> np.ndarray:
    """World-to-camera rotation of a camera at `eye` looking at `target`, image up along world `up`."""
    forward = np.asarray(target, float) - np.asarray(eye, float)
    forward /= np.linalg.norm(forward)
    right = np.cross(forward, up)
    if np.linalg.norm(right) < 1e-9:  # looking straight along `up`: any right will do
        right = np.cross(forward, (0.0, 1.0, 0.0))
    right /= np.linalg.norm(right)
    down = np.cross(forward, right)
    return np.stack([right, down, forward])


def perspective(
    lo: np.ndarray,
    hi: np.ndarray,
    size: int,
    *,
    azimuth_deg: float = -60.0,
    elevation_deg: float = 35.0,
    fov_deg: float = 60.0,
) -> Camera:
    """A pinhole camera placed automatically: on a sphere around the box [lo, hi] (azimuth from +x towards +y,
    elevation above the ground), far enough that the whole box fits in the field of view."""
    centre = (lo + hi) / 2
    radius = max(float(np.linalg.norm(hi - lo)) / 2, 1e-6)
    distance = radius / math.sin(math.radians(fov_deg) / 2) * 1.05
    az, el = math.radians(azimuth_deg), math.radians(elevation_deg)
    eye = centre + distance * np.array([math.cos(el) * math.cos(az), math.cos(el) * math.sin(az), math.sin(el)])
    f = float(size / 2 / math.tan(math.radians(fov_deg) / 2))
    return Camera("perspective", look_at(eye, centre), eye, f, f, size / 2, size / 2, size, size)
