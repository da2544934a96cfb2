"""The `bbox_3d` path (the model's own 3D boxes) over a real, tiny, random Qwen3-VL on an RGB-D frame: on the
frame's colour image with its intrinsics, and on a perspective view of the frame's cloud. A random model
answers junk; the path must run to the end and turn junk into no boxes, not into an error."""

from __future__ import annotations

import numpy as np
from PIL import Image

from vreason.spatial.model_boxes import parse_bbox_3d
from vreason.spatial.questions import alocate_3d_in_frame, locate_3d
from vreason.spatial.rgbd import Intrinsics, camera_to_z_up, cloud_from_rgbd, frame_camera

WIDTH, HEIGHT = 64, 48
INTRINSICS = Intrinsics(55.0, 55.0, WIDTH / 2, HEIGHT / 2)


def rgbd_frame() -> tuple[Image.Image, np.ndarray]:
    """A grey wall 3 m away with a red box 2 m away in the middle of the frame."""
    rgb = np.full((HEIGHT, WIDTH, 3), 170, dtype=np.uint8)
    depth = np.full((HEIGHT, WIDTH), 3.0, dtype=np.float32)
    rgb[16:36, 22:42] = (210, 30, 30)
    depth[16:36, 22:42] = 2.0
    return Image.fromarray(rgb), depth


def _check(result, raw_count: int) -> None:
    assert result.method == "bbox_3d"
    assert len(result.raw_outputs) == raw_count
    parsed = sum(len(parse_bbox_3d(text)) for text in result.raw_outputs)
    assert len(result.boxes) == parsed  # every parsed box is placed; junk gives none
    data = result.to_dict()
    for box in data["boxes"]:
        assert min(box["size"]) > 0


def test_bbox_3d_on_the_colour_image_of_an_rgbd_frame(vr):
    image, depth = rgbd_frame()
    camera = frame_camera(INTRINSICS, WIDTH, HEIGHT)
    result = vr.run(alocate_3d_in_frame(vr.aio, image, camera, "red box", max_new_tokens=24))
    _check(result, 1)
    assert [v.name for v in result.views] == ["image"]
    assert result.views[0].camera is camera


def test_bbox_3d_on_a_perspective_view_of_the_frames_cloud(vr):
    image, depth = rgbd_frame()
    cloud = camera_to_z_up(cloud_from_rgbd(image, depth, INTRINSICS))
    assert len(cloud) == WIDTH * HEIGHT
    result = locate_3d(vr, cloud, "red box", method="bbox_3d", size=64, max_new_tokens=24)
    _check(result, 1)
    assert [v.name for v in result.views] == ["persp"]
    assert result.views[0].camera.kind == "perspective"
