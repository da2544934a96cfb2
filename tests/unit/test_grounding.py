from __future__ import annotations

import pytest

from vreason.reasoning.grounding import Detection, iou, match_boxes, parse_detections


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


def test_iou_and_matching():
    assert iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert iou((0, 0, 10, 10), (5, 0, 15, 10)) == pytest.approx(50 / 150)
    assert iou((0, 0, 1, 1), (2, 2, 3, 3)) == 0.0
    pairs = match_boxes([(0, 0, 10, 10), (20, 20, 30, 30), (0, 0, 9, 9)], [(0, 0, 10, 10), (21, 21, 30, 30)])
    assert [(i, j) for i, j, _ in pairs] == [(0, 0), (1, 1)]  # the weaker duplicate stays unmatched
