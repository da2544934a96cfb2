"""Scoring 3D grounding: records whose item has a true 3D box (`box3d`) against the boxes the model found.

An item is right when one of the boxes found overlaps the true box with 3D IoU (exact, with yaw:
spatial/boxes3d.py:`iou_3d`) of at least `IOU_3D_THRESHOLD` (0.25, the usual bar for 3D detection at this
size; the issue's bar). The box that counts is the best-overlapping one (the nearest centre when none
overlaps). Metrics: `box3d_accuracy` (the rule above), `box3d_first_accuracy` (the same, taking only the
first box the model gave: a model that returns many boxes cannot hide behind them), `box3d_mean_iou` (the
counting box's IoU, 0 for an item with none), `box3d_centre_distance` (mean distance between the counting
box's centre and the true one, in the cloud's units, over items with a box), `box3d_missed` (items with no
box, failed ones included), `box3d_boxes_per_item`, and `box3d_mean_iou_axis_aligned` /
`box3d_accuracy_axis_aligned` (the best IoU of the boxes' axis-aligned hulls, spatial/boxes3d.py:
`iou_axis_aligned`: the number of benchmarks that ignore orientation). No model, no files.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from vreason.scoring import metrics as m
from vreason.scoring.records import PredictionRecord
from vreason.spatial.boxes3d import Box3D, centre_distance, iou_3d, iou_axis_aligned

IOU_3D_THRESHOLD = 0.25


def as_box(data: dict[str, Any]) -> Box3D:
    return Box3D(tuple(data["center"]), tuple(data["size"]), float(data.get("yaw", 0.0)), str(data.get("label", "")))


def best_match(record: PredictionRecord) -> tuple[float, float | None]:
    """(IoU, centre distance) of the box found that counts for `record`; (0.0, None) when none was found
    (or the request failed)."""
    if record.error is not None:
        return 0.0, None
    truth = as_box(record.box3d or {})
    scored = [(iou_3d(box, truth), -centre_distance(box, truth)) for box in map(as_box, record.pred_boxes3d)]
    if not scored:
        return 0.0, None
    iou, negative_distance = max(scored)
    return iou, -negative_distance


def best_axis_aligned(record: PredictionRecord) -> float:
    """The best axis-aligned IoU of the boxes found for `record` (0.0 for none, or a failed request)."""
    if record.error is not None:
        return 0.0
    truth = as_box(record.box3d or {})
    return max((iou_axis_aligned(box, truth) for box in map(as_box, record.pred_boxes3d)), default=0.0)


def box3d_correct(record: PredictionRecord) -> bool:
    return best_match(record)[0] >= IOU_3D_THRESHOLD


def box3d_metrics(records: Sequence[PredictionRecord]) -> dict[str, Any]:
    """The 3D grounding metrics over `records` (each with a `box3d`)."""
    matches = [best_match(r) for r in records]
    first = [
        iou_3d(as_box(r.pred_boxes3d[0]), as_box(r.box3d or {})) if r.pred_boxes3d and r.error is None else 0.0
        for r in records
    ]
    distances = [d for _, d in matches if d is not None]
    axis_aligned = [best_axis_aligned(r) for r in records]
    return {
        "box3d_accuracy": m.mean([float(box3d_correct(r)) for r in records]),
        "box3d_first_accuracy": m.mean([float(iou >= IOU_3D_THRESHOLD) for iou in first]),
        "box3d_mean_iou": m.mean([iou for iou, _ in matches]),
        "box3d_centre_distance": m.mean(distances),
        "box3d_mean_iou_axis_aligned": m.mean(axis_aligned),
        "box3d_accuracy_axis_aligned": m.mean([float(iou >= IOU_3D_THRESHOLD) for iou in axis_aligned]),
        "box3d_iou_threshold": IOU_3D_THRESHOLD,
        "box3d_items": len(records),
        "box3d_missed": sum(not r.pred_boxes3d or r.error is not None for r in records),
        "box3d_boxes_per_item": m.mean([float(len(r.pred_boxes3d)) for r in records]),
    }
