"""benchmarks/turned_shapes_eval.py: single turned shapes of both renderers, split by how far they are turned."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import turned_shapes_eval as tse  # noqa: E402


def test_the_training_pictures_turn_each_pointed_shape_by_each_angle_in_every_size_and_colour(tmp_path: Path):
    items = tse.training_pictures(tmp_path, [0, 30])
    assert len(items) == len(tse.POINTED) * 2 * len(tse.SIZES) * len(tse.COLORS)
    assert {(i["kind"], i["angle"]) for i in items} == {(k, a) for k in tse.POINTED for a in (0, 30)}

    def painted(kind: str, angle: int) -> np.ndarray:  # the largest red one's mask
        path = next(i["path"] for i in items if (i["kind"], i["angle"]) == (kind, angle) and "-90-0" in i["path"])
        return (np.asarray(Image.open(path).convert("RGB")) != 255).any(axis=2)

    # a flat-topped hexagon's top row is a long edge; turned 30 degrees its top is a point
    upright, turned = painted("hexagon", 0), painted("hexagon", 30)
    assert abs(int(upright.sum()) - int(turned.sum())) < 0.03 * upright.sum()  # the same hexagon, turned
    top = lambda mask: mask[np.argmax(mask.any(axis=1))].sum()  # noqa: E731
    assert top(upright) > 3 * top(turned)
    # turned shapes stay inside the picture and keep their colour
    rgb = np.asarray(Image.open(items[-1]["path"]).convert("RGB"))
    assert tuple(rgb[112, 112]) == tse.COLORS[-1]


def test_the_independent_pictures_are_single_shapes_with_their_angle_either_way(tmp_path: Path):
    items = tse.independent_pictures(tmp_path, 40, seed=7)
    assert len(items) == 40
    assert all(0 <= i["angle"] <= 15.0 for i in items)
    assert all(i["angle"] == 0 for i in items if i["kind"] == "circle")
    assert len({i["kind"] for i in items}) == 5
    again = tse.independent_pictures(tmp_path, 40, seed=7)  # same seed, same shapes
    assert [(i["kind"], i["angle"]) for i in again] == [(i["kind"], i["angle"]) for i in items]


def test_angles_fall_in_the_independent_renderers_three_ranges():
    assert [tse.bucket(a) for a in (0.0, 4.99, 5.0, 9.9, 10.0, 14.9, 15.0)] == \
        ["0-5", "0-5", "5-10", "5-10", "10-15", "10-15", "10-15"]
