"""Point clouds to binary PLY (x, y, z as float32; red, green, blue when the cloud has colours; intensity
when it has one), the format every point-cloud viewer opens: for an RGB-D frame turned into a cloud, a
synthetic scene, or a down-sampled scan. plyfile writes it; `read_cloud` reads it back unchanged.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vreason.spatial.readers import PointCloud


def write_cloud_ply(path: str | Path, cloud: PointCloud, comments: list[str] | None = None) -> None:
    from plyfile import PlyData, PlyElement

    fields = [("x", "f4"), ("y", "f4"), ("z", "f4")]
    if cloud.colors is not None:
        fields += [("red", "u1"), ("green", "u1"), ("blue", "u1")]
    if cloud.intensity is not None:
        fields += [("intensity", "f4")]
    vertex = np.empty(len(cloud), dtype=fields)
    vertex["x"], vertex["y"], vertex["z"] = cloud.points.T
    if cloud.colors is not None:
        vertex["red"], vertex["green"], vertex["blue"] = cloud.colors.T
    if cloud.intensity is not None:
        vertex["intensity"] = cloud.intensity
    PlyData([PlyElement.describe(vertex, "vertex")], comments=comments or []).write(str(path))
