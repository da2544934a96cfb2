"""Scoring 3D-box rows: hand-made records with known overlaps, through `score_qa` as `vreason eval` runs it."""

from __future__ import annotations

import math

import pytest

from vreason.scoring.records import PredictionRecord
from vreason.scoring.scorers import score_qa

TRUTH = {"center": [0.0, 0.0, 0.5], "size": [2.0, 1.0, 1.0], "yaw": 0.0, "label": "red box"}


def record(rid: str, found: list[dict], kind: str = "box3d", error: str | None = None) -> PredictionRecord:
    return PredictionRecord(
        id=rid,
        kind=kind,
        images=[],
        prompt="red box",
        prediction="",
        cloud="s.ply",
        box3d=TRUTH,
        pred_boxes3d=found,
        error=error,
    )


def box(x: float, yaw: float = 0.0) -> dict:
    return {"center": [x, 0.0, 0.5], "size": [2.0, 1.0, 1.0], "yaw": yaw}


def test_best_box_counts_first_box_reported_and_distances():
    records = [
        record("exact", [box(0.0)]),  # IoU 1
        record("half", [box(1.0)]),  # overlap 1 of 3 (union): IoU 1/3, right at >= 0.25
        record("second", [box(5.0), box(0.0)]),  # the second box matches: right, but not by the first box
        record("missed", []),
        record("quarter-turn", [box(0.0, math.pi / 2)]),  # a 1x1 overlap of two 2x1 rectangles: IoU 1/3
        record("failed", [box(0.0)], error="the request failed"),
    ]
    metrics = score_qa(records).metrics
    assert metrics["box3d_items"] == 6
    assert metrics["box3d_accuracy"] == pytest.approx(4 / 6)  # exact, half, second, quarter-turn
    assert metrics["box3d_first_accuracy"] == pytest.approx(3 / 6)
    assert metrics["box3d_mean_iou"] == pytest.approx((1 + 1 / 3 + 1 + 0 + 1 / 3 + 0) / 6)  # a failure: 0
    assert metrics["box3d_centre_distance"] == pytest.approx((0 + 1 + 0 + 0) / 4)
    assert metrics["box3d_missed"] == 2
    assert metrics["box3d_boxes_per_item"] == pytest.approx(6 / 6)
    # Axis-aligned hulls: the same for yaw-0 boxes; the quarter-turn box's hull is 1x2 against 2x1: IoU 1/3.
    assert metrics["box3d_mean_iou_axis_aligned"] == pytest.approx((1 + 1 / 3 + 1 + 0 + 1 / 3 + 0) / 6)
    assert metrics["box3d_accuracy_axis_aligned"] == pytest.approx(4 / 6)
    assert metrics["accuracy"] == pytest.approx(4 / 6)
    assert list(metrics)[:2] == ["count", "accuracy"]


def test_beside_questions_each_row_by_its_rule_and_family():
    records = [
        record("a", [box(0.0)]),
        record("b", [box(3.0)]),  # no overlap
        PredictionRecord(id="q", kind="count", images=[], prompt="how many?", prediction="3", answers=["3"]),
    ]
    result = score_qa(records)
    assert result.correct == [True, False, True]
    assert result.metrics["by_type"] == {"box3d": {"count": 2, "accuracy": 0.5}, "count": {"count": 1, "accuracy": 1.0}}
    assert result.metrics["box3d_centre_distance"] == pytest.approx(1.5)  # both boxes count (b: the nearest)
