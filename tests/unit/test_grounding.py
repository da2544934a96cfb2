from __future__ import annotations

import pytest
from PIL import Image

from vreason.engine.types import Answer, Timings, Usage
from vreason.media import PreparedImage
from vreason.reasoning.grounding import Detection, as_kind, iou, match_boxes, parse_detections
from vreason.reasoning.locate import grounding_from_answer


@pytest.mark.parametrize(
    "text",
    [
        '[{"bbox_2d": [100, 200, 300, 400], "label": "cat"}]',
        '```json\n[\n  {"bbox_2d": [100, 200, 300, 400], "label": "cat"}\n]\n```',
        'Here it is: [{"bbox_2d": [100, 200, 300, 400], "label": "cat"}] Hope that helps!',
        '{"bbox_2d": [300, 400, 100, 200], "label": "cat"}',  # corners in the wrong order
    ],
)
def test_parse_one_box_in_any_wrapping(text):
    assert parse_detections(text) == [Detection("cat", (100.0, 200.0, 300.0, 400.0))]


def test_truncated_output_keeps_complete_objects():
    text = (
        '```json\n[{"bbox_2d": [1, 2, 3, 4], "label": "a"}, {"bbox_2d": [5, 6, 7, 8], "label": "b"},'
        ' {"bbox_2d": [9, 1'
    )
    assert [d.label for d in parse_detections(text)] == ["a", "b"]


def test_points_and_garbage():
    found = parse_detections('[{"point_2d": [500, 250], "label": "eye"}, {"bbox_2d": [1, 2], "label": "bad"}, 7]')
    assert found == [Detection("eye", None, (500.0, 250.0))]
    assert parse_detections("no boxes here") == []
    assert parse_detections('{"bbox_2d": ["a", 2, 3, 4]}') == []


def test_to_pixels_uses_the_original_size():
    detection = Detection("cat", (100.0, 200.0, 500.0, 1000.0), (500.0, 500.0))
    pixels = detection.to_pixels((2000, 1000))
    assert pixels.box == (200.0, 200.0, 1000.0, 1000.0)
    assert pixels.point == (1000.0, 500.0)
    assert Detection("x", (-5.0, 0.0, 1200.0, 10.0)).to_pixels((100, 100)).box == (0.0, 0.0, 100.0, 1.0)


def test_points_asked_come_back_as_points_even_when_the_model_answers_with_boxes():
    found = [Detection("cat", (100.0, 200.0, 300.0, 600.0)), Detection("eye", None, (5.0, 6.0))]
    assert as_kind(found, "point") == [Detection("cat", None, (200.0, 400.0)), Detection("eye", None, (5.0, 6.0))]
    assert as_kind(found, "box") == found  # a point answered to a box prompt stays a point: no box is made up
    both = Detection("x", (0.0, 0.0, 10.0, 10.0), (1.0, 2.0))
    assert as_kind([both], "point") == [Detection("x", None, (1.0, 2.0))]  # the model's own point wins


def test_a_point_grounding_holds_points_in_original_pixels():
    image = PreparedImage(Image.new("RGB", (2000, 1000)), "wide.png")
    answer = Answer('[{"bbox_2d": [100, 200, 300, 400], "label": "cat"}]', None, "stop", Usage(1, 1), Timings())
    points = grounding_from_answer("cat", "point", "point to every cat", image, answer)
    assert points.detections == [Detection("cat", None, (400.0, 300.0))]
    assert points.to_dict()["detections"] == [{"label": "cat", "point": [400.0, 300.0]}]
    boxes = grounding_from_answer("cat", "box", "locate every cat", image, answer)
    assert boxes.detections == [Detection("cat", (200.0, 200.0, 600.0, 400.0))]


def test_iou_and_matching():
    assert iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert iou((0, 0, 10, 10), (5, 0, 15, 10)) == pytest.approx(50 / 150)
    assert iou((0, 0, 1, 1), (2, 2, 3, 3)) == 0.0
    pairs = match_boxes([(0, 0, 10, 10), (20, 20, 30, 30), (0, 0, 9, 9)], [(0, 0, 10, 10), (21, 21, 30, 30)])
    assert [(i, j) for i, j, _ in pairs] == [(0, 0), (1, 1)]  # the weaker duplicate stays unmatched
