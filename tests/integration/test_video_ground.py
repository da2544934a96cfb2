"""Grounding in a video: the frame shown at the time asked, at the clip's own size, and boxes on it — through
`frame_at`, the Python API and `vreason ground CLIP TARGET --at SECONDS` on the built-in model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from tests.cli_in_process import run_vreason
from tests.video_samples import make_clip
from vreason.errors import InvalidRequestError
from vreason.media import MediaPolicy
from vreason.media.video_frame import frame_at
from vreason.media.video_types import VideoError

SIZE = 224
# The red circle's centre at each second: it moves left to right, one place a second.
CENTRES = [(48, 112), (112, 112), (176, 112)]


def moving_circle_clip(path: Path, fps: int = 4) -> Path:
    """3 s: a red circle on white, at CENTRES[s] during second s."""

    def picture(index: int, width: int, height: int) -> np.ndarray:
        frame = Image.new("RGB", (width, height), "white")
        x, y = CENTRES[index // fps]
        ImageDraw.Draw(frame).ellipse((x - 30, y - 30, x + 30, y + 30), fill=(255, 0, 0))
        return np.asarray(frame)

    return make_clip(path, width=SIZE, height=SIZE, frames=3 * fps, fps=fps, picture=picture)


def test_frame_at_is_the_frame_shown_at_that_time_at_full_size(tmp_path):
    clip = make_clip(tmp_path / "bar.mp4", width=96, height=64, frames=30, fps=10)
    frame = frame_at(str(clip), 1.05, MediaPolicy())  # frame 10 is shown from 1.0 s to 1.1 s
    assert frame.index == 10
    assert frame.time_s == pytest.approx(1.0)
    assert frame.image.image.size == (96, 64)
    assert frame.duration_s == pytest.approx(3.0)
    green = np.asarray(frame.image.image)[..., 1].mean()
    assert abs(green - 70) < 6  # frame_picture's green channel is 7 * index
    assert "at 1.00s" in frame.image.label
    assert frame_at(str(clip), 2.95, MediaPolicy()).index == 29  # the last frame is shown until the clip ends


def test_frame_at_refuses_times_outside_the_clip(tmp_path):
    clip = make_clip(tmp_path / "bar.mp4", frames=10, fps=10)
    with pytest.raises(VideoError, match=r"is 1\.00 s long; there is no frame at 5 s"):
        frame_at(str(clip), 5, MediaPolicy())
    with pytest.raises(InvalidRequestError, match=">= 0"):
        frame_at(str(clip), -1, MediaPolicy())


def test_frame_at_follows_variable_frame_times(tmp_path):
    times = [0.0, 0.1, 0.2, 2.0, 2.1]
    clip = make_clip(tmp_path / "vfr.mkv", frames=5, fps=10, times=times)
    assert frame_at(str(clip), 1.5, MediaPolicy()).index == 2  # nothing new is shown between 0.2 s and 2.0 s
    assert frame_at(str(clip), 2.0, MediaPolicy()).index == 3


def _centre(box):
    return (box[0] + box[2]) / 2, (box[1] + box[3]) / 2


@pytest.mark.slow
def test_ground_at_a_second_boxes_the_circle_where_it_is_then(tmp_path):
    clip = moving_circle_clip(tmp_path / "moving.mp4")
    # the console script's main(), in this process (tests/cli_in_process.py)
    done = run_vreason("ground", str(clip), "red circle", "--at", "2.1", "--json", "--out", str(tmp_path / "frame.png"))
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["frame_time_s"] == pytest.approx(2.0)
    assert data["image_size"] == [SIZE, SIZE]
    boxes = [d["bbox"] for d in data["detections"]]
    assert boxes, data
    cx, cy = _centre(boxes[0])
    # On the frame of second 2 the circle is on the right; at second 0 it was on the left.
    assert abs(cx - CENTRES[2][0]) < 40, boxes
    assert abs(cy - CENTRES[2][1]) < 40, boxes
    assert Image.open(tmp_path / "frame.png").size == (SIZE, SIZE)


def test_ground_needs_at_for_a_video_and_refuses_it_for_an_image(tmp_path):
    clip = make_clip(tmp_path / "bar.mp4", frames=10, fps=10)
    still = tmp_path / "still.png"
    Image.new("RGB", (32, 32), "red").save(still)
    for args, message in (
        ([str(clip), "bar"], "is a video: say which moment to look at with --at SECONDS"),
        ([str(still), "bar", "--at", "1"], "--at is for videos"),
        ([str(clip), "bar", "--at", "9"], "there is no frame at 9 s"),
    ):
        done = run_vreason("ground", *args)
        assert done.returncode == 2, done.stderr
        assert message in done.stderr
        assert "loading" not in done.stderr  # refused before a model loads


@pytest.mark.slow
def test_python_api_grounds_the_frame_at_a_time(tmp_path):
    from vreason import VReason
    from vreason.reasoning.video_locate import locate_in_video

    clip = moving_circle_clip(tmp_path / "moving.mp4")
    vr = VReason()
    try:
        found = locate_in_video(vr, str(clip), "red circle", at_s=0.3)
    finally:
        vr.close()
    assert found.frame.index == 1
    data = found.to_dict()
    assert data["frame_time_s"] == pytest.approx(0.25)
    assert found.detections
    cx, _ = _centre(found.detections[0].box)
    assert abs(cx - CENTRES[0][0]) < 40  # on the left, where the circle is during second 0
