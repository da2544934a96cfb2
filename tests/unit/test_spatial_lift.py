"""2D boxes on views lifted to 3D on synthetic scenes with known boxes; Qwen3-VL bbox_3d answers parsed and
placed with the view's camera; targets phrased for the view."""

from __future__ import annotations

import math

import numpy as np
import pytest

from vreason.errors import InvalidRequestError
from vreason.spatial.boxes3d import Box3D, iou_3d
from vreason.spatial.lift import estimate_ground, lift_box, merge_lifted
from vreason.spatial.model_boxes import CameraBox, parse_bbox_3d, rotation_matrix, to_world_box
from vreason.spatial.questions import view_target
from vreason.spatial.scenes import make_scene
from vreason.spatial.views import render_views


def _drawn_box(view, box: Box3D, shift=(0.0, 0.0)):
    """The 2D box a perfect model would draw around `box` on `view`, moved by `shift` (share of its size)."""
    u, v, _ = view.camera.project(box.corners())
    w, h = u.max() - u.min(), v.max() - v.min()
    return (u.min() + shift[0] * w, v.min() + shift[1] * h, u.max() + shift[0] * w, v.max() + shift[1] * h)


@pytest.mark.parametrize("occlusion", [False, True], ids=["full-scan", "one-sensor"])
def test_exact_2d_boxes_lift_to_the_true_3d_boxes(occlusion):
    scene = make_scene(3, count=4, occlusion=occlusion)
    views = render_views(scene.cloud, ("bev", "front"))
    ground = estimate_ground(scene.cloud)
    assert ground is not None
    assert abs(ground.normal[2]) > 0.999
    assert abs(ground.offset) < 0.02
    for obj in scene.objects:
        lifted, indices = lift_box(views[0], scene.cloud, _drawn_box(views[0], obj.box), ground=ground)
        assert iou_3d(lifted, obj.box) > 0.6, (obj.name, lifted, obj.box)
        assert lifted.points == len(indices) > 100


def test_a_loose_box_still_finds_the_whole_object():
    scene = make_scene(11, count=3)
    (view,) = render_views(scene.cloud, ("bev",))
    ground = estimate_ground(scene.cloud)
    for obj in scene.objects:
        loose, _ = lift_box(view, scene.cloud, _drawn_box(view, obj.box, shift=(0.3, -0.25)), ground=ground)
        assert iou_3d(loose, obj.box) > 0.6, obj.name


def test_an_empty_patch_of_floor_lifts_to_nothing():
    scene = make_scene(5, count=1)
    (view,) = render_views(scene.cloud, ("bev",))
    corner = (2.0, 2.0, 30.0, 30.0)  # the margin of the view: floor only
    assert lift_box(view, scene.cloud, corner, ground=estimate_ground(scene.cloud)) is None


def test_one_object_seen_on_two_views_is_one_box():
    scene = make_scene(21, count=2)
    views = render_views(scene.cloud, ("bev", "side"))
    ground = estimate_ground(scene.cloud)
    obj = scene.objects[0]
    found = [lift_box(v, scene.cloud, _drawn_box(v, obj.box), ground=ground) for v in views]
    merged = merge_lifted([f for f in found if f is not None], scene.cloud, ground)
    assert len(merged) == 1
    assert iou_3d(merged[0], obj.box) > 0.5


def test_parse_bbox_3d_tolerates_fences_prose_and_truncation():
    text = 'Here:\n```json\n[{"bbox_3d": [0.1, 0.2, 3, 1, 1, 1, 0, 0.5, 0], "label": "box"}]\n```'
    assert parse_bbox_3d(text) == [CameraBox("box", (0.1, 0.2, 3.0, 1.0, 1.0, 1.0, 0.0, 0.5, 0.0))]
    truncated = '[{"bbox_3d": [1, 2, 3, 1, 1, 1, 0, 0, 0], "label": "a"}, {"bbox_3d": [4, 5'
    assert [b.label for b in parse_bbox_3d(truncated)] == ["a"]
    wrapped = '{"objects": [{"bbox_3d": [0, 0, 2, 1, 2, 3, 0.3], "label": "c"}, {"bbox_3d": [1, 2]}]}'
    assert parse_bbox_3d(wrapped) == [CameraBox("c", (0.0, 0.0, 2.0, 1.0, 2.0, 3.0, 0.0, 0.3, 0.0))]
    assert parse_bbox_3d("no boxes here [1, 2]") == []
    assert parse_bbox_3d('[{"bbox_3d": [0, 0, 1, -1, 1, 1, 0, 0, 0]}]') == []  # a negative size is not a box


def test_bbox_3d_on_a_perspective_view_lands_on_the_object():
    scene = make_scene(8, count=1)
    (view,) = render_views(scene.cloud, ("persp",))
    truth = scene.objects[0].box
    # What a model that saw the object perfectly would answer, in the camera frame (OpenCV axes):
    # centre moved into the camera, the box's axes as rotations (pitch about x, yaw about y, roll about z).
    centre = view.camera.to_camera(np.array(truth.center))
    c, s = math.cos(truth.yaw), math.sin(truth.yaw)
    axes_world = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])
    axes_cam = view.camera.rotation @ axes_world
    # Recover pitch/yaw/roll of R = Rz(roll) Ry(yaw) Rx(pitch).
    yaw = math.asin(-axes_cam[2, 0])
    pitch = math.atan2(axes_cam[2, 1], axes_cam[2, 2])
    roll = math.atan2(axes_cam[1, 0], axes_cam[0, 0])
    np.testing.assert_allclose(rotation_matrix(pitch, yaw, roll), axes_cam, atol=1e-9)
    answer = CameraBox("thing", (*centre, *truth.size, pitch, yaw, roll))
    placed = to_world_box(answer, view.camera, angle_unit="rad")
    assert iou_3d(placed, truth) == pytest.approx(1.0, abs=1e-6)
    in_pi = to_world_box(
        CameraBox("thing", (*centre, *truth.size, pitch / math.pi, yaw / math.pi, roll / math.pi)),
        view.camera,
        angle_unit="pi",
    )
    assert iou_3d(in_pi, truth) == pytest.approx(1.0, abs=1e-6)
    (bev,) = render_views(scene.cloud, ("bev",))
    with pytest.raises(InvalidRequestError, match="perspective view"):
        to_world_box(answer, bev.camera)


def test_targets_in_the_words_of_the_view():
    assert view_target("red box", "bev") == "red rectangle"
    assert view_target("the blue Sphere", "bev") == "the blue circle"
    assert view_target("green pyramids", "front") == "green triangles"
    assert view_target("yellow cylinder", "front") == "yellow rectangle"
    assert view_target("red cube", "bev") == "red rectangle"
    assert view_target("how many objects", "bev") == "how many shapes"
