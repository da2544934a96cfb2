"""Point-cloud readers (each format written by its own library, read back) and their limits; RGB-D frames."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from vreason.errors import InvalidRequestError
from vreason.spatial.readers import checked_cloud, read_cloud
from vreason.spatial.rgbd import Intrinsics, camera_to_z_up, cloud_from_rgbd

RNG = np.random.default_rng(0)
XYZ = RNG.uniform(-5, 5, size=(500, 3)).astype(np.float32)
RGB = RNG.integers(0, 256, size=(500, 3)).astype(np.uint8)


def _vertices(n=500):
    v = np.empty(n, dtype=[("x", "f4"), ("y", "f4"), ("z", "f4"), ("red", "u1"), ("green", "u1"), ("blue", "u1")])
    v["x"], v["y"], v["z"] = XYZ[:n].T
    v["red"], v["green"], v["blue"] = RGB[:n].T
    return v


@pytest.mark.parametrize("text", [False, True], ids=["binary", "ascii"])
def test_ply(tmp_path, text):
    from plyfile import PlyData, PlyElement

    path = tmp_path / "cloud.ply"
    PlyData([PlyElement.describe(_vertices(), "vertex")], text=text).write(str(path))
    cloud = read_cloud(path)
    np.testing.assert_allclose(cloud.points, XYZ, atol=1e-4)
    assert cloud.colors.tolist() == RGB.tolist()


def test_ply_with_faces_after_vertices(tmp_path):
    from plyfile import PlyData, PlyElement

    faces = np.array([([0, 1, 2],)], dtype=[("vertex_indices", "i4", (3,))])
    path = tmp_path / "mesh.ply"
    PlyData([PlyElement.describe(_vertices(), "vertex"), PlyElement.describe(faces, "face")], text=True).write(
        str(path)
    )
    assert len(read_cloud(path)) == 500


def test_pcd_with_packed_rgb(tmp_path):
    from pypcd4 import PointCloud as Pcd

    packed = Pcd.encode_rgb(RGB)
    pcd = Pcd.from_xyzrgb_points(np.column_stack([XYZ, packed.astype(np.float32)]))
    path = tmp_path / "cloud.pcd"
    pcd.save(path)
    cloud = read_cloud(path)
    np.testing.assert_allclose(cloud.points, XYZ, atol=1e-5)
    assert cloud.colors.tolist() == RGB.tolist()


def test_las_with_intensity(tmp_path):
    import laspy

    header = laspy.LasHeader(point_format=2, version="1.2")
    header.scales, header.offsets = [0.001] * 3, [0, 0, 0]
    las = laspy.LasData(header)
    las.x, las.y, las.z = (XYZ[:, i].astype(float) for i in range(3))
    las.red, las.green, las.blue = (RGB[:, i].astype(np.uint16) * 257 for i in range(3))
    las.intensity = np.arange(500, dtype=np.uint16)
    path = tmp_path / "scan.las"
    las.write(path)
    cloud = read_cloud(path)
    np.testing.assert_allclose(cloud.points, XYZ, atol=1e-3)
    assert cloud.colors.tolist() == RGB.tolist()
    assert cloud.intensity[-1] == 499


@pytest.mark.parametrize(("suffix", "columns"), [(".xyz", 3), (".xyzrgb", 6), (".txt", 4), (".csv", 6)])
def test_text_columns(tmp_path, suffix, columns):
    extra = {3: np.empty((500, 0)), 4: np.arange(500)[:, None], 6: RGB}[columns]
    table = np.column_stack([XYZ, extra])
    path = tmp_path / f"cloud{suffix}"
    np.savetxt(path, table, delimiter="," if suffix == ".csv" else " ", fmt="%.6f", header="x y z ...")
    cloud = read_cloud(path)
    np.testing.assert_allclose(cloud.points, XYZ, atol=1e-5)
    assert (cloud.colors is not None) == (columns == 6)
    assert (cloud.intensity is not None) == (columns == 4)


def test_npy_and_npz(tmp_path):
    np.save(tmp_path / "a.npy", np.column_stack([XYZ, RGB / 255.0]))
    cloud = read_cloud(tmp_path / "a.npy")
    assert cloud.colors.tolist() == RGB.tolist()  # 0-1 floats scaled to bytes
    np.savez(tmp_path / "b.npz", points=XYZ, colors=RGB)
    assert read_cloud(tmp_path / "b.npz").colors.tolist() == RGB.tolist()


def test_limits_say_what_is_wrong(tmp_path):
    with pytest.raises(InvalidRequestError, match="empty"):
        checked_cloud(np.empty((0, 3)))
    bad = XYZ.copy()
    bad[3, 1] = np.nan
    bad[7, 0] = np.inf
    with pytest.raises(InvalidRequestError, match="2 of 500 points have NaN or infinite"):
        checked_cloud(bad)
    assert len(checked_cloud(bad, drop_invalid=True)) == 498
    with pytest.raises(InvalidRequestError, match="over the limit of 100"):
        checked_cloud(XYZ, max_points=100)
    with pytest.raises(InvalidRequestError, match=r"\(N, 3\)"):
        checked_cloud(XYZ[:, :2])
    with pytest.raises(InvalidRequestError, match="no such point-cloud file"):
        read_cloud(tmp_path / "missing.ply")
    (tmp_path / "cloud.obj").write_text("v 0 0 0\n")
    with pytest.raises(InvalidRequestError, match="unknown point-cloud format .obj"):
        read_cloud(tmp_path / "cloud.obj")
    (tmp_path / "broken.ply").write_bytes(b"ply\nformat binary_little_endian 1.0\nelement vertex 10\n")
    with pytest.raises(InvalidRequestError, match="broken.ply: not a readable .ply cloud"):
        read_cloud(tmp_path / "broken.ply")
    np.save(tmp_path / "five.npy", np.zeros((4, 5)))
    with pytest.raises(InvalidRequestError, match="3, 4, 6 or 7"):
        read_cloud(tmp_path / "five.npy")


def test_rgbd_png_depth_in_millimetres(tmp_path):
    width, height = 8, 6
    depth_mm = np.full((height, width), 2000, dtype=np.uint16)
    depth_mm[0, 0] = 0  # no return: no point
    Image.fromarray(depth_mm).save(tmp_path / "depth.png")
    color = np.zeros((height, width, 3), dtype=np.uint8)
    color[5, 7] = (255, 0, 0)
    Image.fromarray(color).save(tmp_path / "color.png")
    k = Intrinsics(fx=4.0, fy=4.0, cx=4.0, cy=3.0)
    cloud = cloud_from_rgbd(tmp_path / "color.png", tmp_path / "depth.png", k)
    assert len(cloud) == width * height - 1
    red = cloud.points[(cloud.colors == (255, 0, 0)).all(axis=1)][0]
    # pixel (u=7, v=5) at 2 m: x = (7 - 4) / 4 * 2 = 1.5, y = (5 - 3) / 4 * 2 = 1.0
    np.testing.assert_allclose(red, [1.5, 1.0, 2.0], atol=1e-6)
    up = camera_to_z_up(cloud)
    red_up = up.points[(up.colors == (255, 0, 0)).all(axis=1)][0]
    np.testing.assert_allclose(red_up, [1.5, 2.0, -1.0], atol=1e-6)  # forward is +y, below the centre is -z


def test_rgbd_float_depth_and_errors(tmp_path):
    np.save(tmp_path / "depth.npy", np.full((6, 8), 1.5, dtype=np.float32))
    image = Image.new("RGB", (8, 6), (0, 255, 0))
    cloud = cloud_from_rgbd(image, tmp_path / "depth.npy", Intrinsics(5, 5, 4, 3))
    assert np.allclose(cloud.points[:, 2], 1.5)
    with pytest.raises(InvalidRequestError, match="depth map is 8x6 but the image is 10x6"):
        cloud_from_rgbd(Image.new("RGB", (10, 6)), tmp_path / "depth.npy", Intrinsics(5, 5, 4, 3))
    with pytest.raises(InvalidRequestError, match="needs the camera intrinsics"):
        cloud_from_rgbd(image, tmp_path / "depth.npy", None)
    (tmp_path / "k.json").write_text(json.dumps({"fx": 500, "fy": 500, "cx": 320, "cy": 240}))
    assert Intrinsics.parse(str(tmp_path / "k.json")) == Intrinsics(500, 500, 320, 240)
    assert Intrinsics.parse("500,501,320,240").fy == 501
    with pytest.raises(InvalidRequestError, match="four numbers"):
        Intrinsics.parse("500,500")


def test_rgbd_frame_round_trip_through_a_rendered_view():
    """Render a scene from a pinhole camera, rebuild the cloud from that RGB-D frame: the points land back
    where they were (to a pixel's footprint), and `frame_camera` projects them onto their pixels."""
    from vreason.spatial.camera import perspective
    from vreason.spatial.rgbd import frame_camera
    from vreason.spatial.scenes import make_scene
    from vreason.spatial.views import render

    scene = make_scene(6, count=2)
    lo, hi = scene.cloud.bounds
    view = render(scene.cloud, perspective(lo.astype(float), hi.astype(float), 160), point_size=1)
    depth = np.where(np.isfinite(view.depth), view.depth, 0).astype(np.float32)
    cam = view.camera
    k = Intrinsics(cam.fx, cam.fy, cam.cx, cam.cy)
    cloud = cloud_from_rgbd(view.image, depth, k)
    # A frame's point sits on its pixel's corner, the rendered point anywhere in the pixel: compare in pixels.
    world = cam.to_world(cloud.points.astype(np.float64))
    v, u = np.nonzero(depth > 0)
    shown = scene.cloud.points[view.index[v, u]]
    error = np.linalg.norm(world - shown, axis=1)
    footprint = depth[v, u] / cam.fx  # one pixel's width at each point's depth
    assert np.median(error / footprint) < 1.5
    up = camera_to_z_up(cloud)
    pu, pv, pd = frame_camera(k, 160, 160).project(up.points)
    np.testing.assert_allclose(pu, u, atol=1e-3)
    np.testing.assert_allclose(pv, v, atol=1e-3)
