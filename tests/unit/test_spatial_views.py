"""Cameras map pixels back to 3D; the z-buffer shows the nearest point; views keep colours; voxels thin."""

from __future__ import annotations

import numpy as np
import pytest

from vreason.errors import InvalidRequestError
from vreason.spatial.camera import BEV_ROTATION, orthographic, perspective
from vreason.spatial.readers import checked_cloud
from vreason.spatial.views import camera_for, parse_views, render, render_views, voxel_downsample


def _grid_cloud():
    """A 2 x 2 m floor of grey points at z=0 with a red patch raised to z=1 around (0.5, 0.5)."""
    xs, ys = np.meshgrid(np.linspace(-1, 1, 201), np.linspace(-1, 1, 201))
    floor = np.column_stack([xs.ravel(), ys.ravel(), np.zeros(xs.size)])
    px, py = np.meshgrid(np.linspace(0.4, 0.6, 21), np.linspace(0.4, 0.6, 21))
    patch = np.column_stack([px.ravel(), py.ravel(), np.ones(px.size)])
    colors = np.vstack([np.full((len(floor), 3), 200), np.tile([255, 0, 0], (len(patch), 1))]).astype(np.uint8)
    return checked_cloud(np.vstack([floor, patch]), colors)


@pytest.mark.parametrize("kind", ["orthographic", "perspective"])
def test_project_then_unproject_gives_the_points_back(kind):
    lo, hi = np.array([-1.0, -2.0, 0.0]), np.array([3.0, 1.0, 2.0])
    camera = orthographic(BEV_ROTATION, lo, hi, 256) if kind == "orthographic" else perspective(lo, hi, 256)
    points = np.random.default_rng(0).uniform(lo, hi, size=(50, 3))
    u, v, depth = camera.project(points)
    assert (depth > 0).all()
    np.testing.assert_allclose(camera.unproject(u, v, depth), points, atol=1e-9)
    assert (u >= 0).all()
    assert (u <= camera.width).all()
    assert (v >= 0).all()
    assert (v <= camera.height).all()


def test_birds_eye_view_shows_the_raised_patch_where_it_is():
    cloud = _grid_cloud()
    (view,) = render_views(cloud, ("bev",), size=200)
    u, v, _ = view.camera.project(np.array([[0.5, 0.5, 1.0], [-0.5, -0.5, 0.0]]))
    rgb = np.asarray(view.image)
    assert rgb[int(v[0]), int(u[0])].tolist() == [255, 0, 0]  # the patch hides the floor under it
    assert rgb[int(v[1]), int(u[1])].tolist() == [200, 200, 200]
    assert v[0] < v[1]  # +y is up in the image
    # Every pixel knows its point: the red pixel's index is a patch point, at the depth the camera gives it.
    index = view.index[int(v[0]), int(u[0])]
    assert cloud.points[index][2] == pytest.approx(1.0)
    assert view.depth[int(v[0]), int(u[0])] < view.depth[int(v[1]), int(u[1])]


def test_front_view_sees_the_nearest_point():
    # Two points on one line of sight along +y: the front camera looks along +y, the nearer (y=-1) wins.
    cloud = checked_cloud(
        np.array([[0, -1, 0.5], [0, 1, 0.5], [1, 0, 0], [-1, 0, 1]]),
        np.array([[255, 0, 0], [0, 0, 255], [0, 0, 0], [0, 0, 0]], dtype=np.uint8),
    )
    view = render(cloud, camera_for("front", cloud, 64), point_size=1)
    u, v, _ = view.camera.project(cloud.points[:1])
    assert view.index[int(v[0]), int(u[0])] == 0
    assert np.asarray(view.image)[int(v[0]), int(u[0])].tolist() == [255, 0, 0]


def test_views_without_colours_are_coloured_by_height():
    cloud = checked_cloud(np.column_stack([np.linspace(0, 1, 400), np.zeros(400), np.linspace(0, 2, 400)]))
    (view,) = render_views(cloud, ("front",), size=64)
    rgb = np.asarray(view.image)
    shown = rgb[view.index >= 0]
    assert len({tuple(c) for c in shown}) > 5  # a ramp, not one colour


def test_every_view_name_renders_and_keeps_its_camera():
    cloud = _grid_cloud()
    views = render_views(cloud, parse_views("bev,front,side,persp"), size=96)
    assert [v.name for v in views] == ["bev", "front", "side", "persp"]
    for view in views:
        assert view.image.size == (view.camera.width, view.camera.height)
        assert (view.index >= 0).sum() > 50  # the floor seen edge-on is a line in front and side views
        assert view.to_dict()["camera"]["kind"] in ("orthographic", "perspective")


def test_parse_views_names_the_choices():
    assert parse_views("top, Front") == ("bev", "front")
    with pytest.raises(InvalidRequestError, match="choose from bev, front, side, persp"):
        parse_views("bev,under")


def test_voxel_downsample_keeps_one_point_per_voxel():
    points = np.array([[0.01, 0.01, 0.01], [0.02, 0.03, 0.04], [0.55, 0.55, 0.55], [0.56, 0.57, 0.55], [1, 1, 1]])
    cloud = checked_cloud(points)
    thinned, kept = voxel_downsample(cloud, 0.1)
    assert kept.tolist() == [1, 3, 4]  # the last point of each voxel, in file order
    assert len(thinned) == 3


def test_an_orthographic_views_longer_side_is_the_size_asked_for():
    """Float rounding once made some 448-pixel views 449 wide (the ceiling of 448.00000000000006)."""
    rng = np.random.default_rng(0)
    for _ in range(500):
        lo = rng.uniform(-5, 0, 3)
        hi = lo + rng.uniform(0.1, 8, 3)
        camera = orthographic(BEV_ROTATION, lo, hi, 448)
        assert max(camera.width, camera.height) == 448, (lo, hi, camera.width, camera.height)
