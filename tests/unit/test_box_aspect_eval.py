"""benchmarks/box_aspect_eval.py: single-object boxes split by the picture's shape, with how a box misses."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from PIL import Image

from vreason.train.qa_eval import parse_boxes
from vreason.train.shapes_world import ShapesWorld

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import box_aspect_eval as bae  # noqa: E402


def test_pictures_are_wide_or_tall_past_a_fifth_and_near_square_otherwise():
    assert bae.picture_shape((300, 200)) == "wide"
    assert bae.picture_shape((200, 300)) == "tall"
    assert bae.picture_shape((240, 200)) == "near-square"
    assert bae.picture_shape((200, 240)) == "near-square"


def test_a_box_scaled_as_if_the_picture_were_square_reads_narrow_and_left_on_a_tall_picture():
    true = [200.0, 300.0, 600.0, 500.0]
    squeezed = [140.0, 300.0, 420.0, 500.0]  # x scaled by 0.7: the width a tall picture's x would get
    found = bae.miss(squeezed, true)
    assert found["width_ratio"] == pytest.approx(0.7)
    assert found["height_ratio"] == pytest.approx(1.0)
    assert found["dx"] == pytest.approx(-120.0)
    assert found["dy"] == pytest.approx(0.0)
    assert found["iou"] < 0.5
    assert bae.miss(None, true) == {"iou": 0.0}


def test_the_breakdown_scores_each_picture_shape_and_takes_medians_over_the_boxes_answered():
    records = [{"shape": "tall", **bae.miss([140.0, 300.0, 420.0, 500.0], [200.0, 300.0, 600.0, 500.0])},
               {"shape": "tall", **bae.miss(None, [200.0, 300.0, 600.0, 500.0])},
               {"shape": "near-square", **bae.miss([200.0, 300.0, 600.0, 500.0], [200.0, 300.0, 600.0, 500.0])}]
    report = bae.breakdown(records)
    assert report["all"]["count"] == 3
    assert report["all"]["iou_at_0.5"] == pytest.approx(1 / 3)
    assert report["tall"] == {"count": 2, "iou_at_0.5": 0.0, "mean_iou": pytest.approx(records[0]["iou"] / 2),
                              "no_box": 1, "width_ratio": pytest.approx(0.7), "height_ratio": pytest.approx(1.0),
                              "dx": pytest.approx(-120.0), "dy": pytest.approx(0.0)}
    assert report["near-square"]["iou_at_0.5"] == 1.0
    assert "wide" not in report


def test_the_training_pictures_are_the_varied_generators_single_box_questions_of_every_shape(tmp_path: Path):
    rows = [json.loads(line) for line in bae.write_training_eval(tmp_path, 40, 1002).read_text().splitlines()]
    assert len(rows) == 40
    world = ShapesWorld(1002, varied=True)  # the same scenes again, skipping those without a single-box question
    shapes = set()
    for row in rows:
        while True:
            scene = world.scene("grounding")
            single = [qa for qa in scene.qas if qa.kind == "grounding" and qa.answer.count("bbox_2d") == 1]
            if single:
                break
        assert (row["question"], row["answer"]) == (single[0].question, single[0].answer)
        assert len(parse_boxes(row["answer"])) == 1
        with Image.open(tmp_path / row["image"]) as image:
            assert image.size == scene.image.size
            shapes.add(bae.picture_shape(image.size))
    assert shapes == {"near-square", "wide", "tall"}
