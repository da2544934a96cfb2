"""Tiles, NMS, coordinate mapping and drawing: pure geometry, no model."""

from __future__ import annotations

import pytest
from PIL import Image

from vreason.errors import InvalidRequestError
from vreason.media import PixelBudget
from vreason.reasoning.draw import PALETTE, draw_detections, label_colors
from vreason.reasoning.grounding import Detection, grounding_prompt, parse_detections
from vreason.reasoning.nms import containment, non_max_suppression
from vreason.reasoning.tile_runner import CUT_BOX_SCORE, place_in_image
from vreason.reasoning.tiling import Tile, auto_grid, is_blank, parse_grid, plan_tiles


def test_plan_tiles_cover_the_image_with_the_asked_overlap():
    tiles = plan_tiles((2048, 1024), rows=2, cols=4, overlap=0.1)
    assert len(tiles) == 8
    assert {t.name for t in tiles} == {f"r{r}c{c}" for r in range(2) for c in range(4)}
    row = [t for t in tiles if t.row == 0]
    assert row[0].box[0] == 0
    assert row[-1].box[2] == 2048
    widths = [t.size[0] for t in row]
    assert max(widths) - min(widths) <= 1
    for left, right in zip(row, row[1:], strict=False):
        shared = left.box[2] - right.box[0]
        assert shared == pytest.approx(0.1 * widths[0], abs=1.5)
    assert plan_tiles((100, 80), 1, 1, 0.0) == [Tile(0, 0, (0, 0, 100, 80))]


def test_grid_parsing_and_limits():
    assert parse_grid("4x4") == (4, 4)
    assert parse_grid(" 2 X 3 ") == (2, 3)
    assert parse_grid("auto") is None
    with pytest.raises(InvalidRequestError, match=r"grid \('four'\) must be ROWSxCOLS"):
        parse_grid("four")
    with pytest.raises(InvalidRequestError, match="at most 64 tiles"):
        parse_grid("9x9")
    with pytest.raises(InvalidRequestError, match=r"overlap \(0.7\)"):
        plan_tiles((100, 100), 2, 2, overlap=0.7)


def test_auto_grid_follows_the_pixel_budget():
    demo = PixelBudget(min_pixels=256 * 256, max_pixels=256 * 256)
    assert auto_grid((200, 200), demo) == (1, 1)  # fits as it is
    assert auto_grid((512, 512), demo, max_tiles=16) == (3, 3)  # 256-pixel tiles with 10% overlap
    assert auto_grid((2048, 2048), demo, max_tiles=16) == (4, 4)  # capped, evenly
    rows, cols = auto_grid((4000, 1000), demo, max_tiles=16)
    assert rows * cols <= 16
    assert cols > rows  # a wide image gets more columns


def test_blank_tiles_are_recognised():
    assert is_blank(Image.new("RGB", (64, 64), (250, 250, 250)))
    dotted = Image.new("RGB", (64, 64), (250, 250, 250))
    dotted.paste((255, 0, 0), (10, 10, 20, 20))
    assert not is_blank(dotted)


def test_tile_detections_land_in_whole_image_pixels():
    tile = Tile(1, 1, (500, 400, 1000, 800))  # a 500x400 tile of a 2000x1600 image
    found = parse_detections('[{"bbox_2d": [100, 500, 300, 750], "label": "dot"}, {"point_2d": [500, 500]}]')
    placed = place_in_image(found, tile, (2000, 1600))
    assert placed[0].box == pytest.approx((550.0, 600.0, 650.0, 700.0))
    assert placed[0].score == 1.0
    assert placed[1].point == pytest.approx((750.0, 600.0))
    cut = place_in_image(parse_detections('{"bbox_2d": [0, 100, 200, 300], "label": "dot"}'), tile, (2000, 1600))
    assert cut[0].score == CUT_BOX_SCORE  # touches the tile's inner left edge: may continue in the neighbour


def test_relative_and_pixel_coordinates_round_trip():
    d = Detection("x", (120.0, 40.0, 360.0, 80.0), (240.0, 60.0))
    assert d.to_relative((480, 200)).box == (250, 200, 750, 400)
    assert d.to_relative((480, 200)).to_pixels((480, 200)).box == d.box
    assert d.shifted(10, -5).box == (130.0, 35.0, 370.0, 75.0)


def test_nms_keeps_the_whole_box_over_duplicates_and_cut_copies():
    whole = Detection("star", (100.0, 100.0, 200.0, 200.0))
    shifted = Detection("star", (105.0, 102.0, 203.0, 198.0))
    cut = Detection("star", (100.0, 100.0, 150.0, 200.0), score=0.5)  # the left half, seen by one tile
    other_label = Detection("moon", (100.0, 100.0, 200.0, 200.0))
    far = Detection("star", (400.0, 400.0, 450.0, 450.0))
    point = Detection("star", point=(10.0, 10.0))
    kept = non_max_suppression([cut, shifted, whole, other_label, far, point])
    assert kept[0] in (whole, shifted)
    assert cut not in kept
    assert sum(d.label == "star" and d.box is not None and d.box[0] < 300 for d in kept) == 1
    assert other_label in kept
    assert far in kept
    assert point in kept
    assert len(non_max_suppression([whole, other_label], per_label=False)) == 1
    assert containment(whole.box, cut.box) == 1.0


def test_drawing_gives_each_label_its_own_colour_on_a_copy():
    image = Image.new("RGB", (400, 300), (255, 255, 255))
    detections = [
        Detection("cat", (20.0, 40.0, 120.0, 140.0)),
        Detection("dog", (200.0, 100.0, 380.0, 280.0)),
        Detection("cat", (150.0, 20.0, 190.0, 60.0)),
        Detection("eye", point=(300.0, 50.0)),
    ]
    drawn = draw_detections(image, detections)
    assert image.getpixel((20, 90)) == (255, 255, 255)  # the input is untouched
    colors = label_colors([d.label for d in detections])
    assert drawn.getpixel((20, 90)) == colors["cat"]  # left edge of the first box
    assert drawn.getpixel((380, 200)) == colors["dog"]
    assert drawn.getpixel((300, 50)) == colors["eye"]
    assert len(set(label_colors([f"l{i}" for i in range(25)]).values())) == 25
    assert list(label_colors(["a", "b"]).values()) == list(PALETTE[:2])


def test_a_target_that_says_every_is_asked_every_once():
    assert grounding_prompt("every shape") == "locate every shape and output bbox_2d in JSON."
    points = grounding_prompt("  Every   red circle. ", "point")
    assert points == "point to every red circle and output point_2d in JSON."
    # "every" later in the target, or inside a word, stays as the user wrote it
    assert grounding_prompt("everyday objects") == "locate every everyday objects and output bbox_2d in JSON."
    assert grounding_prompt("shape in every corner") == "locate every shape in every corner and output bbox_2d in JSON."


def test_grounding_prompts_in_qwen_phrasing():
    assert grounding_prompt("red circles.") == "locate every red circles and output bbox_2d in JSON."
    assert "point_2d" in grounding_prompt("eye", "point")
    with pytest.raises(InvalidRequestError, match="empty"):
        grounding_prompt("  ")
    with pytest.raises(InvalidRequestError, match="'polygon'"):
        grounding_prompt("cat", "polygon")  # type: ignore[arg-type]


def test_parse_skips_bracketed_prose_before_the_answer():
    text = 'I found [2] things: [{"bbox_2d": [1, 2, 3, 4], "label": "a"}]'
    assert [d.label for d in parse_detections(text)] == ["a"]
    assert parse_detections('{"objects": [{"point_2d": [5, 6], "label": "p"}]}')[0].point == (5.0, 6.0)
