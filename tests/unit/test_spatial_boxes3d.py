"""3D box metrics against hand-computed cases, and the PLY line-set export read back."""

from __future__ import annotations

import math

import numpy as np
import pytest

from vreason.spatial.boxes3d import (
    Box3D,
    axis_aligned_hull,
    centre_distance,
    clip_convex,
    iou_3d,
    iou_axis_aligned,
    polygon_area,
    write_boxes_ply,
)


def test_identical_boxes_have_iou_one():
    box = Box3D((1, 2, 0.5), (2, 1, 1), 0.3)
    assert iou_3d(box, box) == pytest.approx(1.0)


def test_shifted_half_along_x_is_one_third():
    # 2x2x2 cubes one unit apart: intersection 1*2*2 = 4, union 8 + 8 - 4 = 12.
    a = Box3D((0, 0, 0), (2, 2, 2))
    b = Box3D((1, 0, 0), (2, 2, 2))
    assert iou_3d(a, b) == pytest.approx(1 / 3)
    assert iou_axis_aligned(a, b) == pytest.approx(1 / 3)


def test_vertical_overlap_counts():
    # Same footprint, heights [0, 2] and [1, 3]: intersection 1*1*1, union 2 + 2 - 1.
    a = Box3D((0, 0, 1), (1, 1, 2))
    b = Box3D((0, 0, 2), (1, 1, 2))
    assert iou_3d(a, b) == pytest.approx(1 / 3)


def test_square_turned_45_degrees():
    # Unit squares sharing a centre, one turned 45 degrees: their overlap is a regular octagon of area
    # 2 (sqrt 2 - 1); IoU = octagon / (2 - octagon) = sqrt(2) / 2. The axis-aligned hull of the turned square
    # has side sqrt 2 (area 2), which holds the unit square: IoU 1 / 2.
    a = Box3D((0, 0, 0.5), (1, 1, 1), 0.0)
    b = Box3D((0, 0, 0.5), (1, 1, 1), math.pi / 4)
    assert iou_3d(a, b) == pytest.approx(math.sqrt(2) / 2, abs=1e-9)
    assert iou_axis_aligned(a, b) == pytest.approx(0.5, abs=1e-9)
    assert axis_aligned_hull(b).size[0] == pytest.approx(math.sqrt(2))


def test_yaw_of_a_quarter_turn_swaps_length_and_width():
    a = Box3D((0, 0, 0), (3, 1, 1), 0.0)
    b = Box3D((0, 0, 0), (1, 3, 1), math.pi / 2)
    assert iou_3d(a, b) == pytest.approx(1.0)


def test_disjoint_and_touching_boxes_have_iou_zero():
    a = Box3D((0, 0, 0), (1, 1, 1))
    assert iou_3d(a, Box3D((5, 0, 0), (1, 1, 1))) == 0.0
    assert iou_3d(a, Box3D((1, 0, 0), (1, 1, 1))) == pytest.approx(0.0)


def test_centre_distance_is_euclidean():
    assert centre_distance(Box3D((0, 0, 0), (1, 1, 1)), Box3D((3, 4, 0), (1, 1, 1))) == pytest.approx(5.0)


def test_polygon_clipping_area():
    square = np.array([[0, 0], [2, 0], [2, 2], [0, 2]], dtype=float)
    shifted = square + [1, 1]
    assert polygon_area(clip_convex(square, shifted)) == pytest.approx(1.0)
    assert len(clip_convex(square, square + [5, 5])) == 0


def test_boxes_written_as_ply_line_sets(tmp_path):
    from plyfile import PlyData

    boxes = [Box3D((0, 0, 0.5), (2, 1, 1), 0.0, label="red box"), Box3D((3, 0, 1), (1, 1, 2), math.pi / 6)]
    path = tmp_path / "boxes.ply"
    write_boxes_ply(path, boxes, [(255, 0, 0), (0, 0, 255)])
    ply = PlyData.read(str(path))
    vertex, edge = ply["vertex"].data, ply["edge"].data
    assert len(vertex) == 16
    assert len(edge) == 24
    corners = np.stack([vertex["x"], vertex["y"], vertex["z"]], axis=1)
    np.testing.assert_allclose(corners[:8].min(axis=0), [-1, -0.5, 0], atol=1e-6)
    np.testing.assert_allclose(corners[:8].max(axis=0), [1, 0.5, 1], atol=1e-6)
    lengths = np.linalg.norm(corners[edge["vertex1"][:12]] - corners[edge["vertex2"][:12]], axis=1)
    assert sorted(np.round(lengths, 5)) == [1.0] * 4 + [1.0] * 4 + [2.0] * 4  # 4 heights, 4 widths, 4 lengths
    assert edge["blue"][12:].tolist() == [255] * 12
    assert "box 0: red box" in ply.comments
