"""The shapes-world generator: deterministic, and its answers are true of its pictures."""

from __future__ import annotations

import json

import numpy as np
import pytest

from vreason.train.shapes_questions import KINDS
from vreason.train.shapes_world import PALETTE, ShapesWorld


def test_same_seed_same_scenes():
    a, b = ShapesWorld(3), ShapesWorld(3)
    for kind in (None, *KINDS):
        sa, sb = a.scene(kind), b.scene(kind)
        assert np.array_equal(np.asarray(sa.image), np.asarray(sb.image))
        assert [(q.question, q.answer) for q in sa.qas] == [(q.question, q.answer) for q in sb.qas]


@pytest.mark.parametrize("kind", KINDS)
def test_every_family_produces_questions(kind):
    world = ShapesWorld(0)
    scenes = [world.scene(kind) for _ in range(20)]
    qas = [qa for s in scenes for qa in s.qas]
    assert qas, kind
    assert {qa.kind for qa in qas} == {kind}


def test_colors_and_boxes_match_the_pixels():
    world = ShapesWorld(1)
    checked = 0
    for _ in range(40):
        scene = world.scene("grounding")
        pixels = np.asarray(scene.image).astype(int)
        for shape in scene.shapes:
            x1, y1, x2, y2 = shape.box
            cx, cy = int(shape.center[0]), int(shape.center[1])
            assert tuple(pixels[cy, cx]) == PALETTE[shape.color]  # the centre of every shape is filled
            inside = pixels[y1 : y2 + 1, x1 : x2 + 1]
            painted = np.all(inside == PALETTE[shape.color], axis=-1)
            # the box is tight: the shape touches all four sides of it (within a pixel of anti-aliasing)
            rows, cols = np.nonzero(painted)
            assert rows.min() <= 2
            assert cols.min() <= 2
            assert rows.max() >= painted.shape[0] - 3
            assert cols.max() >= painted.shape[1] - 3
            checked += 1
        for qa in scene.qas:
            boxes = json.loads(qa.answer)
            assert all(0 <= v <= 1000 for item in boxes for v in item["bbox_2d"])
    assert checked > 40


def test_color_jitter_strays_within_its_bound_and_keeps_the_name():
    plain, jittered = ShapesWorld(5), ShapesWorld(5, color_jitter=40)
    strays = []
    for _ in range(30):
        for world in (plain, jittered):
            scene = world.scene("color")
            pixels = np.asarray(scene.image).astype(int)
            for shape in scene.shapes:
                shown = pixels[int(shape.center[1]), int(shape.center[0])]
                stray = np.abs(shown - np.array(PALETTE[shape.color])).max()
                if world is plain:
                    assert stray == 0
                else:
                    assert stray <= 40
                    strays.append(stray)
            assert all(qa.answer in {shape.color for shape in scene.shapes} for qa in scene.qas)  # named as drawn
    assert max(strays) > 20  # it does stray


def test_counts_and_positions_are_true():
    world = ShapesWorld(2)
    for _ in range(30):
        scene = world.scene("count")
        for qa in scene.qas:
            if qa.question == "how many shapes are there?":
                assert int(qa.answer) == len(scene.shapes)
    for _ in range(30):
        scene = world.scene("position")
        by_name = {s.name: s for s in scene.shapes}
        for qa in scene.qas:
            if qa.question.startswith("where is the "):
                a_name, b_name = qa.question[len("where is the "): -1].split(" relative to the ")
                a, b = by_name[a_name], by_name[b_name]
                expected = {"left": a.center[0] < b.center[0], "right": a.center[0] > b.center[0],
                            "above": a.center[1] < b.center[1], "below": a.center[1] > b.center[1]}
                assert expected[qa.answer]


def test_warmup_samples_label_every_object_with_its_shape_and_colour():
    import itertools

    from vreason.train.demo_data import WARMUP_ATTRIBUTES, warmup_samples

    for image, instances, objects in itertools.islice(warmup_samples(seed=3), 40):
        labels = np.asarray(instances)
        assert image.size == instances.size
        assert labels.max() == len(objects)  # every object is drawn, none beyond them
        pixels = np.asarray(image.convert("RGB"))
        for i, attributes in enumerate(objects, start=1):
            assert set(attributes) == set(WARMUP_ATTRIBUTES)
            assert all(attributes[name] in WARMUP_ATTRIBUTES[name] for name in attributes)
            # the pixels the map gives to this object are (mostly, past anti-aliased edges) its colour
            colours, counts = np.unique(pixels[labels == i].reshape(-1, 3), axis=0, return_counts=True)
            assert tuple(colours[counts.argmax()]) == PALETTE[attributes["color"]]
