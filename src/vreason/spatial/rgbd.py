"""RGB-D frames to point clouds: a colour image, a depth map and the camera's pinhole intrinsics.

Depth comes as a 16-bit PNG in millimetres (the common depth-camera export; `depth_scale` 1000 units per
metre) or a float `.npy` already in metres; zero or non-finite depth means "no return" and gives no point.
Points are in the camera's own frame (OpenCV: x right, y down, z forward); `camera_to_z_up` turns that into the
z-up frame the views assume. A depth map whose size differs from its image, or missing intrinsics, is a
one-line error: neither can be guessed without placing points wrongly.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from vreason.errors import InvalidRequestError
from vreason.spatial.camera import Camera
from vreason.spatial.readers import MAX_POINTS, PointCloud, checked_cloud

MM_PER_M = 1000.0


@dataclass(frozen=True)
class Intrinsics:
    fx: float
    fy: float
    cx: float
    cy: float

    def __post_init__(self) -> None:
        if not (self.fx > 0 and self.fy > 0):
            raise InvalidRequestError(
                f"intrinsics: focal lengths must be positive, got fx={self.fx} fy={self.fy}", param="intrinsics"
            )

    @classmethod
    def parse(cls, text: str | None) -> Intrinsics:
        """From "fx,fy,cx,cy" or a JSON file with those keys (the cookbook's cam_params)."""
        if not text:
            raise InvalidRequestError(
                "an RGB-D frame needs the camera intrinsics: --intrinsics fx,fy,cx,cy "
                "(pixels) or a JSON file with fx, fy, cx, cy",
                param="intrinsics",
            )
        if Path(text).is_file():
            import json

            data = json.loads(Path(text).read_text())
            try:
                return cls(*(float(data[k]) for k in ("fx", "fy", "cx", "cy")))
            except (KeyError, TypeError, ValueError):
                raise InvalidRequestError(
                    f"{text}: intrinsics JSON needs numbers fx, fy, cx, cy", param="intrinsics"
                ) from None
        parts = text.split(",")
        try:
            values = [float(p) for p in parts]
        except ValueError:
            values = []
        if len(values) != 4:
            raise InvalidRequestError(f"intrinsics {text!r}: expected fx,fy,cx,cy (four numbers)", param="intrinsics")
        return cls(*values)

    def matrix(self) -> np.ndarray:
        return np.array([[self.fx, 0, self.cx], [0, self.fy, self.cy], [0, 0, 1]], dtype=np.float64)


def read_depth(path: str | Path, depth_scale: float = MM_PER_M) -> np.ndarray:
    """(H, W) float32 metres from a 16-bit PNG (units per metre: `depth_scale`) or a float .npy (metres)."""
    path = Path(path)
    if not path.is_file():
        raise InvalidRequestError(f"{path}: no such depth file", param="depth")
    if path.suffix.lower() == ".npy":
        depth = np.load(path, allow_pickle=False)
        if depth.ndim != 2 or not np.issubdtype(depth.dtype, np.number):
            raise InvalidRequestError(
                f"{path}: a depth .npy must be a 2-D numeric array, got {depth.shape} {depth.dtype}", param="depth"
            )
        return depth.astype(np.float32)
    with Image.open(path) as image:
        if image.mode not in ("I;16", "I;16B", "I", "L"):
            raise InvalidRequestError(
                f"{path}: depth PNGs are 16-bit single channel (millimetres), got mode {image.mode}", param="depth"
            )
        raw = np.asarray(image, dtype=np.float32)
    return raw / float(depth_scale)


def cloud_from_rgbd(
    image: Image.Image | str | Path,
    depth: np.ndarray | str | Path,
    intrinsics: Intrinsics | None,
    *,
    depth_scale: float = MM_PER_M,
    max_depth: float | None = None,
    max_points: int = MAX_POINTS,
) -> PointCloud:
    """Every pixel with a depth becomes a point coloured by the image, in the camera frame (z forward)."""
    if intrinsics is None:
        Intrinsics.parse(None)  # raises the message that says how to give them
    if not isinstance(image, Image.Image):
        image = Image.open(image)
    rgb = np.asarray(image.convert("RGB"))
    z = read_depth(depth, depth_scale) if isinstance(depth, (str, Path)) else np.asarray(depth, dtype=np.float32)
    if z.shape != rgb.shape[:2]:
        raise InvalidRequestError(
            f"the depth map is {z.shape[1]}x{z.shape[0]} but the image is {rgb.shape[1]}x{rgb.shape[0]}; "
            "register (align) depth to colour first",
            param="depth",
        )
    valid = np.isfinite(z) & (z > 0)
    if max_depth is not None:
        valid &= z <= max_depth
    v, u = np.nonzero(valid)
    d = z[v, u]
    x = (u - intrinsics.cx) / intrinsics.fx * d
    y = (v - intrinsics.cy) / intrinsics.fy * d
    points = np.stack([x, y, d], axis=1)
    return checked_cloud(points, rgb[v, u], source="rgbd", max_points=max_points)


# camera_to_z_up as a matrix: world (x right, y forward, z up) = Z_UP @ camera (x right, y down, z forward).
Z_UP = np.array([[1, 0, 0], [0, 0, 1], [0, -1, 0]], dtype=np.float64)


def frame_camera(intrinsics: Intrinsics, width: int, height: int) -> Camera:
    """The RGB-D camera as a `Camera` in the z-up frame of `camera_to_z_up`: it projects the frame's cloud
    back onto the frame's pixels, and places a `bbox_3d` answered on the colour image in that cloud."""
    k = intrinsics
    return Camera("perspective", Z_UP.T.copy(), np.zeros(3), k.fx, k.fy, k.cx, k.cy, width, height)


def camera_to_z_up(cloud: PointCloud) -> PointCloud:
    """OpenCV camera frame (x right, y down, z forward) to x right, y forward, z up: the frame the views use."""
    x, y, z = cloud.points.T
    points = np.stack([x, z, -y], axis=1)
    return PointCloud(points, cloud.colors, cloud.intensity, cloud.source)
