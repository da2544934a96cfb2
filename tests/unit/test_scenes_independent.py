"""The evaluation-only 3D scene generator (eval/scenes_independent.py): the same scan for a seed, every point on
the floor or on the surface of the object it belongs to, objects apart, and one sensor's scan a part of the
full scan's surfaces."""

from __future__ import annotations

import math

import numpy as np
import pytest

from vreason.eval.scenes_independent import KINDS, RANGE_NOISE, make_scan
from vreason.spatial.boxes3d import Box3D


def _inside(points: np.ndarray, box: Box3D, margin: float) -> np.ndarray:
    c, s = math.cos(box.yaw), math.sin(box.yaw)
    dx, dy = points[:, 0] - box.center[0], points[:, 1] - box.center[1]
    a, b = dx * c + dy * s, -dx * s + dy * c
    half = np.asarray(box.size) / 2 + margin
    return (np.abs(a) <= half[0]) & (np.abs(b) <= half[1]) & (np.abs(points[:, 2] - box.center[2]) <= half[2])


def test_same_seed_same_scan():
    a, b, other = make_scan(4), make_scan(4), make_scan(5)
    assert np.array_equal(a.cloud.points, b.cloud.points)
    assert np.array_equal(a.cloud.colors, b.cloud.colors)
    assert [o.name for o in a.objects] == [o.name for o in b.objects]
    assert len(a.cloud) != len(other.cloud) or not np.array_equal(a.cloud.points, other.cloud.points)


@pytest.mark.parametrize("seed", [1, 2, 3, 8])
def test_every_point_lies_on_the_floor_or_in_an_object(seed):
    scan = make_scan(seed)
    points = np.asarray(scan.cloud.points)
    margin = 5 * RANGE_NOISE
    on_floor = np.abs(points[:, 2]) <= margin
    in_object = np.zeros(len(points), dtype=bool)
    for obj in scan.objects:
        mine = _inside(points, obj.box, margin)
        assert mine.sum() > 200, obj.name  # the overhead sensor sees every object
        in_object |= mine
    assert (on_floor | in_object).all()
    # each point's recorded owner is the object it lies in (or the floor)
    for i, obj in enumerate(scan.objects):
        assert _inside(points[scan.owner == i], obj.box, margin).all(), obj.name
        assert (scan.owner == i).sum() > 200, obj.name
    assert on_floor[scan.owner == -1].all()
    assert abs(points[:, :2]).max() <= scan.extent / 2 + margin  # nothing beyond the floor


def test_spheres_and_cylinders_are_round_and_pyramids_pointed():
    seen = set()
    for seed in range(40):
        scan = make_scan(seed)
        points = np.asarray(scan.cloud.points)
        for obj in scan.objects:
            mine = points[_inside(points, obj.box, 5 * RANGE_NOISE) & (points[:, 2] > 0.02)]
            centre, (length, _, height) = np.asarray(obj.box.center), obj.box.size
            radial = np.hypot(mine[:, 0] - centre[0], mine[:, 1] - centre[1])
            if obj.kind == "sphere":
                assert np.allclose(np.linalg.norm(mine - centre, axis=1), length / 2, atol=0.03)
            elif obj.kind == "cylinder":
                assert radial.max() <= length / 2 + 0.03
            elif obj.kind == "pyramid":  # higher points are nearer the axis
                top = mine[:, 2] > 0.8 * height
                assert radial[top].max() < 0.3 * length
            seen.add(obj.kind)
    assert seen == set(KINDS)


def test_objects_do_not_touch_and_one_sensor_sees_less():
    for seed in range(10):
        full, single = make_scan(seed), make_scan(seed, single_sensor=True)
        assert [(o.name, o.box.center) for o in full.objects] == [(o.name, o.box.center) for o in single.objects]
        assert len(single.cloud) < len(full.cloud)
        for i, a in enumerate(full.objects):
            for b in full.objects[i + 1 :]:
                gap = math.dist(a.box.center[:2], b.box.center[:2])
                assert gap > (math.hypot(*a.box.size[:2]) + math.hypot(*b.box.size[:2])) / 2
