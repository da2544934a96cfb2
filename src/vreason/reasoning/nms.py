"""Non-maximum suppression for boxes gathered from overlapping views (tiles, repeated samples).

Two boxes are one object when their IoU passes `iou_threshold`, or when the smaller lies mostly inside the
larger (`containment`): a tile edge that cuts an object leaves a partial box inside the whole one seen by the
neighbouring tile. The higher-scoring box survives (ties: the larger one). Points are kept as they are.
"""

from __future__ import annotations

from collections.abc import Sequence

from vreason.reasoning.grounding import Detection, iou


def _area(box: tuple[float, ...]) -> float:
    return max(0.0, box[2] - box[0]) * max(0.0, box[3] - box[1])


def containment(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    """Intersection over the smaller area: 1.0 when one box lies inside the other."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    smaller = min(_area(a), _area(b))
    return ix * iy / smaller if smaller > 0 else 0.0


def non_max_suppression(
    detections: Sequence[Detection],
    iou_threshold: float = 0.5,
    containment_threshold: float = 0.8,
    per_label: bool = True,
) -> list[Detection]:
    """The surviving detections, best first. `per_label`: boxes with different labels never suppress each other."""
    if not 0.0 < iou_threshold <= 1.0:
        raise ValueError(f"iou_threshold ({iou_threshold}) must be in (0, 1]")
    if not 0.0 < containment_threshold <= 1.0:
        raise ValueError(f"containment_threshold ({containment_threshold}) must be in (0, 1]")
    boxes = [d for d in detections if d.box is not None]
    others = [d for d in detections if d.box is None]
    ranked = sorted(boxes, key=lambda d: (-d.score, -_area(d.box)))  # type: ignore[arg-type]
    kept: list[Detection] = []
    for candidate in ranked:
        duplicate = any(
            (not per_label or k.label == candidate.label)
            and (iou(k.box, candidate.box) >= iou_threshold  # type: ignore[arg-type]
                 or containment(k.box, candidate.box) >= containment_threshold)  # type: ignore[arg-type]
            for k in kept
        )
        if not duplicate:
            kept.append(candidate)
    return kept + others
