"""Qwen3-VL `bbox_3d` answers in the form of the Qwen3-VL 3D-grounding cookbook (QwenLM/Qwen3-VL,
cookbooks/3d_grounding.ipynb), read by our parser and placed with our cameras where the cookbook's own drawing
code puts them.

The cookbook's prompt asks for
`[{"bbox_3d":[x_center, y_center, z_center, x_size, y_size, z_size, roll, pitch, yaw],"label":"category"}]`
and says "radians"; its drawing code (`convert_3dbbox`) unpacks the last three as pitch, yaw, roll, multiplies
them by 180 and reads degrees, rotates each corner about x (pitch), then y (yaw), then z (roll), adds the centre
and projects with fx * X / Z + cx, fy * Y / Z + cy. The values below are the cookbook's printed (parsed) outputs,
written as the JSON the model sends.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from vreason.spatial.model_boxes import (
    COOKBOOK_ANGLE_UNIT,
    COOKBOOK_FORMAT,
    CameraBox,
    bbox_3d_prompt,
    parse_bbox_3d,
    rotation_matrix,
    to_world_box,
)
from vreason.spatial.rgbd import Intrinsics, frame_camera

# The cookbook's cam_infos.json entry for autonomous_driving.jpg (a 1600 x 900 nuScenes frame).
DRIVING = Intrinsics(1266.417203046554, 1266.417203046554, 816.2670197447984, 491.50706579294757)
# The cookbook's example 1 answer (two cars), as the model writes it: a fenced JSON list.
CARS = (
    "```json\n"
    '[{"bbox_3d":[2.88,0.56,6.28,4.45,1.7,1.84,0.75,0.49,0.75],"label":"car"},'
    '{"bbox_3d":[2.83,0.58,14.78,4.43,1.56,1.77,0.82,0.49,0.82],"label":"car"}]\n'
    "```"
)
# Its example 3 answer (Chinese labels), without a fence.
LOUNGE = (
    '[{"bbox_3d":[0.27,0.13,2.21,0.69,0.76,1.8,0.87,0.09,0.94],"label":"桌子"},'
    '{"bbox_3d":[0.18,0.26,1.71,0.57,0.78,0.52,0.13,-0.09,-0.06],"label":"椅子"},'
    '{"bbox_3d":[-0.04,-0.01,2.39,0.52,0.76,0.5,0.13,-0.07,-0.05],"label":"椅子"},'
    '{"bbox_3d":[-0.83,-0.18,2.87,0.76,0.76,1.86,0.28,0.33,0.23],"label":"沙发"}]'
)


def cookbook_corners(values: tuple[float, ...], k: Intrinsics) -> np.ndarray:
    """(8, 2) pixels of the box's corners, computed the way the cookbook's drawing code does (written out here
    step by step, independently of model_boxes.rotation_matrix)."""
    x, y, z, sx, sy, sz, pitch, yaw, roll = values
    pitch, yaw, roll = (math.radians(a * 180) for a in (pitch, yaw, roll))
    pixels = []
    for hx in (sx / 2, -sx / 2):
        for hy in (sy / 2, -sy / 2):
            for hz in (sz / 2, -sz / 2):
                x0, y0, z0 = hx, hy, hz
                y1, z1 = y0 * math.cos(pitch) - z0 * math.sin(pitch), y0 * math.sin(pitch) + z0 * math.cos(pitch)
                x2, z2 = x0 * math.cos(yaw) + z1 * math.sin(yaw), -x0 * math.sin(yaw) + z1 * math.cos(yaw)
                x3, y3 = x2 * math.cos(roll) - y1 * math.sin(roll), x2 * math.sin(roll) + y1 * math.cos(roll)
                px, py, pz = x3 + x, y3 + y, z2 + z
                pixels.append((k.fx * px / pz + k.cx, k.fy * py / pz + k.cy))
    return np.array(pixels)


def _matched_distance(a: np.ndarray, b: np.ndarray) -> float:
    """The largest distance from a corner of `a` to the nearest corner of `b` (corner orders differ)."""
    return float(np.max(np.min(np.linalg.norm(a[:, None, :] - b[None, :, :], axis=2), axis=1)))


def test_the_cookbook_answers_parse_to_their_printed_values():
    cars = parse_bbox_3d("Here are the cars:\n" + CARS)
    assert cars == [
        CameraBox("car", (2.88, 0.56, 6.28, 4.45, 1.7, 1.84, 0.75, 0.49, 0.75)),
        CameraBox("car", (2.83, 0.58, 14.78, 4.43, 1.56, 1.77, 0.82, 0.49, 0.82)),
    ]
    assert [b.label for b in parse_bbox_3d(LOUNGE)] == ["桌子", "椅子", "椅子", "沙发"]
    assert parse_bbox_3d(LOUNGE)[3].values == (-0.83, -0.18, 2.87, 0.76, 0.76, 1.86, 0.28, 0.33, 0.23)
    one = '```json\n{"bbox_3d":[-0.4,-0.26,2.71,0.76,0.96,0.78,0.16,0.13,0.08],"label":"black chair"}\n```'
    assert parse_bbox_3d(one) == [CameraBox("black chair", (-0.4, -0.26, 2.71, 0.76, 0.96, 0.78, 0.16, 0.13, 0.08))]


def test_our_prompt_asks_for_the_cookbook_form():
    prompt = bbox_3d_prompt("car", frame_camera(DRIVING, 1600, 900))
    assert COOKBOOK_FORMAT in prompt
    assert COOKBOOK_FORMAT == (
        '[{"bbox_3d":[x_center, y_center, z_center, x_size, y_size, z_size, roll, pitch, yaw],"label":"category"}]'
    )
    assert "fx=1266.4" in prompt


def test_the_cookbook_car_lands_where_its_drawing_code_draws_it():
    camera = frame_camera(DRIVING, 1600, 900)
    (car, _) = parse_bbox_3d(CARS)
    placed = to_world_box(car, camera)  # the default angle unit is the cookbook's
    assert COOKBOOK_ANGLE_UNIT == "pi"
    u, v, depth = camera.project(placed.corners())
    ours = np.stack([u, v], axis=1)
    theirs = cookbook_corners(car.values, DRIVING)
    assert (depth > 0).all()
    diagonal = float(np.linalg.norm(theirs.max(axis=0) - theirs.min(axis=0)))
    # Our box keeps only a yaw; the answer's tilt (under 2 degrees here) moves corners by under 3% of the box.
    assert _matched_distance(ours, theirs) < 0.03 * diagonal
    assert _matched_distance(theirs, ours) < 0.03 * diagonal
    # In the frame's z-up cloud (x right, y forward, z up): 6.28 m ahead, 0.56 m below the camera, upright,
    # its length along the road.
    np.testing.assert_allclose(placed.center, (2.88, 6.28, -0.56), atol=1e-9)
    assert placed.size == pytest.approx((4.45, 1.84, 1.7))
    assert abs(abs(placed.yaw) - math.pi / 2) < 0.05


def test_read_as_radians_the_cookbook_car_would_lean():
    """Why the unit is pi: the angles of an upright car on a level road give an upright box only that way."""
    angles = (0.75, 0.49, 0.75)

    def tilt_deg(factor: float) -> float:
        axes = rotation_matrix(*(a * factor for a in angles))  # columns: the box's axes in the camera frame
        return math.degrees(math.acos(float(np.max(np.abs(axes[1])))))  # camera y is the image's vertical

    assert tilt_deg(math.pi) < 2
    assert tilt_deg(1.0) > 35


@pytest.mark.parametrize("unit", ["pi", "rad", "deg"])
def test_each_unit_matches_the_drawing_code_on_an_upright_box(unit):
    """A box turned only about the camera's vertical axis (yaw): ours and the cookbook's corners agree to
    a hair, whatever unit the answer's angles are read in."""
    camera = frame_camera(DRIVING, 1600, 900)
    yaw_pi = 0.3  # the answer's yaw in the cookbook's unit
    given = {"pi": yaw_pi, "rad": yaw_pi * math.pi, "deg": yaw_pi * 180}[unit]
    placed = to_world_box(CameraBox("box", (1.0, 0.5, 8.0, 3.0, 1.5, 2.0, 0.0, given, 0.0)), camera, angle_unit=unit)
    u, v, _ = camera.project(placed.corners())
    theirs = cookbook_corners((1.0, 0.5, 8.0, 3.0, 1.5, 2.0, 0.0, yaw_pi, 0.0), DRIVING)
    assert _matched_distance(np.stack([u, v], axis=1), theirs) < 1e-6
