"""benchmarks/count_filter_eval.py: every shape and one colour counted on the same pictures."""

from __future__ import annotations

import random
import sys
from pathlib import Path

from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import count_filter_eval as cfe  # noqa: E402


def test_every_picture_has_a_colour_two_or_more_of_its_shapes_have(tmp_path: Path):
    rows = cfe.draw(tmp_path, 12, seed=5)
    assert len(rows) == 12
    for r in rows:
        assert 2 <= r["colour_count"] <= r["shapes"] <= 4
        assert r["one_colour"] == (r["colour_count"] == r["shapes"])
        with Image.open(tmp_path / r["image"]) as picture:
            assert picture.size[0] >= 192
    again = tmp_path / "again"
    again.mkdir()
    assert cfe.draw(again, 12, seed=5) == rows  # the same pictures for a seed


def test_a_scene_without_a_repeated_colour_gives_none():
    one_each = type("Scene", (), {"shapes": [type("S", (), {"color": c})() for c in ("red", "blue")]})()
    assert cfe.repeated_colour(one_each, random.Random(0)) is None
    twice = type("Scene", (), {"shapes": [type("S", (), {"color": c})() for c in ("red", "blue", "red")]})()
    assert cfe.repeated_colour(twice, random.Random(0)) == "red"


def test_the_colour_question_is_scored_apart_where_the_shapes_were_counted_right():
    rows = [{"shapes": 2, "colour_count": 2, "one_colour": True, "said_all": "2", "said_colour": "1"},
            {"shapes": 3, "colour_count": 3, "one_colour": True, "said_all": "2", "said_colour": "3"},
            {"shapes": 3, "colour_count": 2, "one_colour": False, "said_all": "3", "said_colour": "2"}]
    found = cfe.breakdown(rows)
    assert found["every shape that colour"]["all shapes"] == [True, False]
    assert found["every shape that colour"]["that colour"] == [False, True]
    assert found["every shape that colour"]["that colour, all shapes right"] == [False]
    assert found["every shape that colour"]["that colour said 1"] == [True, False]
    assert found["other colours too"]["that colour, all shapes right"] == [True]
