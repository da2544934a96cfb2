"""The tally questions: every box of one colour and one kind beside their numbers, right for the scene drawn."""

from __future__ import annotations

import json
import random
import re
from collections import Counter

import pytest

from vreason.train.shapes_questions import relative_box
from vreason.train.shapes_tally import tally_qas
from vreason.train.shapes_world import Scene, ShapesWorld


def _scenes(n: int) -> list[Scene]:
    world = ShapesWorld(21, color_jitter=40, varied=True, repeat_share=0.7)
    return [world.scene("count") for _ in range(n)]


def test_each_tally_counts_the_boxes_it_lists_and_they_are_the_drawn_shapes():
    rng = random.Random(4)
    for scene in _scenes(40):
        qas = {qa.question: qa.answer for qa in tally_qas(scene, rng)}
        assert len(qas) == 5
        assert qas["how many shapes are there?"] == str(len(scene.shapes))
        color = next(re.fullmatch(r"locate every (\w+) shape and output bbox_2d in JSON\.", q).group(1)
                     for q in qas if q.startswith("locate every") and " shape " in q)
        kind = next(re.fullmatch(r"how many (\w+)s are there\?", q).group(1)
                    for q in qas if q.startswith("how many") and "shape" not in q)
        for asked, listed, counted in ((color, f"locate every {color} shape and output bbox_2d in JSON.",
                                        f"how many {color} shapes are there?"),
                                       (kind, f"locate every {kind} and output bbox_2d in JSON.",
                                        f"how many {kind}s are there?")):
            boxes = json.loads(qas[listed])
            drawn = [s for s in scene.shapes if asked in (s.color, s.kind)]
            assert int(qas[counted]) == len(boxes) == len(drawn) >= 1
            assert sorted(b["bbox_2d"] for b in boxes) == sorted(relative_box(s.box, scene.image.size) for s in drawn)
            assert all(asked in b["label"].split() for b in boxes)
            assert [b["bbox_2d"][0] for b in boxes] == sorted(b["bbox_2d"][0] for b in boxes)  # left to right


def test_a_tally_asks_colours_evenly_not_by_shape_so_twos_are_asked_often():
    """Drawn by shape, a colour that comes twice would be asked twice as often as one that comes once; drawn
    among the colours present, each present colour is asked alike. Over scenes with a colour once and a colour
    more than once, the asked colour comes more than once as often as evenly drawn colours predict."""
    rng = random.Random(8)
    asked_many = even = by_shape = 0.0
    scenes = 0
    for scene in _scenes(400):
        colours = Counter(s.color for s in scene.shapes)
        if not (1 in colours.values() and max(colours.values()) >= 2):
            continue
        scenes += 1
        question = next(qa.question for qa in tally_qas(scene, rng) if re.fullmatch(r"how many \w+ shapes are there\?",
                                                                                    qa.question))
        asked_many += colours[question.split()[2]] >= 2
        even += sum(n >= 2 for n in colours.values()) / len(colours)
        by_shape += sum(n for n in colours.values() if n >= 2) / len(scene.shapes)
    assert scenes >= 40
    assert abs(asked_many - even) < abs(asked_many - by_shape)
    assert abs(asked_many - even) <= 0.15 * scenes


def test_a_tally_of_no_shapes_is_refused():
    world = ShapesWorld(3)
    scene = world.scene("reading")  # text only
    with pytest.raises(ValueError, match="needs a scene with shapes"):
        tally_qas(scene, random.Random(0))


def test_with_any_kind_a_kind_not_there_is_counted_zero_and_not_boxed():
    rng = random.Random(5)
    absent = present = 0
    for scene in _scenes(60):
        qas = {qa.question: qa.answer for qa in tally_qas(scene, rng, any_kind=True)}
        kind = next(re.fullmatch(r"how many (\w+)s are there\?", q).group(1)
                    for q in qas if q.startswith("how many") and "shape" not in q)
        there = sum(s.kind == kind for s in scene.shapes)
        assert qas[f"how many {kind}s are there?"] == str(there)
        boxed = f"locate every {kind} and output bbox_2d in JSON." in qas
        assert boxed == (there > 0)
        absent += there == 0
        present += there > 0
    assert absent >= 10  # repeated scenes hold one or two kinds: most of the five are not there
    assert present >= 10
