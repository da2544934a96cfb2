"""What an evaluation run writes and reads back: one `PredictionRecord` per item (a line of predictions.jsonl)
and the `ScoreResult` a scorer makes of them.

A record carries the item's ground truth next to the model's answer, so metrics and reports are computed
from predictions.jsonl alone: a resumed run, or `report` on an old directory, needs neither the model nor the
dataset. Boxes are pixels of the item's first image, as `[x1, y1, x2, y2]` with a label.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from vreason.scoring.items import EvalItem


@dataclass
class LabeledBox:
    box: list[float]  # x1, y1, x2, y2 in pixels
    label: str = ""


@dataclass
class PredictionRecord:
    id: str
    kind: str  # question type, for the per-type breakdown
    images: list[str]
    prompt: str  # the text the model was asked (a task pack's template filled in, or the question)
    prediction: str  # the model's raw answer text ("" when the request failed)
    answers: list[str] = field(default_factory=list)  # reference answers
    choices: dict[str, str] | None = None
    target: dict[str, Any] | None = None  # a task pack's expected structured output
    boxes: list[LabeledBox] | None = None  # ground truth; None: the item has none to check
    pred_boxes: list[LabeledBox] = field(default_factory=list)  # boxes found in the answer, mapped to pixels
    parsed: dict[str, Any] | None = None  # a task pack's structured reading of the answer
    parse_error: str | None = None  # why the answer could not be read as the task's output
    schema_valid: bool | None = None  # whether the parsed JSON met the task's schema as written
    error: str | None = None  # the request failed (bad image, timeout): the item counts as wrong
    latency_s: float = 0.0  # the request's own time in the engine, from its answer's timings
    completion_tokens: int = 0
    finish_reason: str = ""
    videos: list[str] = field(default_factory=list)  # the item's clips
    answer_type: str | None = None  # the item's: "time", "exact" or None (decided per answer)
    cloud: str | None = None  # the item's point cloud
    box3d: dict[str, Any] | None = None  # ground truth 3D box (center, size, yaw); None: the item has none
    pred_boxes3d: list[dict[str, Any]] = field(default_factory=list)  # Box3D.to_dict() of the boxes found

    @classmethod
    def for_item(cls, item: EvalItem, prompt: str) -> PredictionRecord:
        boxes = None if item.boxes is None else [LabeledBox(list(b.box), b.label) for b in item.boxes]
        return cls(id=item.id, kind=item.kind, images=list(item.images), prompt=prompt, prediction="",
                   answers=list(item.answers), choices=item.choices, target=item.target, boxes=boxes,
                   videos=list(item.videos), answer_type=item.answer_type, cloud=item.cloud, box3d=item.box3d)

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PredictionRecord:
        known = {f.name for f in fields(cls)}
        data = {k: v for k, v in data.items() if k in known}
        for key in ("boxes", "pred_boxes"):
            if data.get(key) is not None:
                data[key] = [LabeledBox(**b) for b in data[key]]
        return cls(**data)

    @property
    def failed(self) -> bool:
        """No usable answer: the request failed or a task's output did not parse."""
        return self.error is not None or self.parse_error is not None


@dataclass
class Confusion:
    """A confusion matrix for the report: rows are gold labels, columns predicted labels."""

    title: str
    rows: list[str]
    columns: list[str]
    counts: list[list[int]]

    def to_dict(self) -> dict[str, Any]:
        return {"rows": self.rows, "columns": self.columns, "counts": self.counts}


@dataclass
class ScoreResult:
    metrics: dict[str, Any]  # JSON-ready: "count", then each metric as a 0-1 fraction (MAE in its own units)
    correct: list[bool]  # per record, in order: what "right" and "wrong" mean in the report's examples
    confusion: Confusion | None = None
    notes: list[str] = field(default_factory=list)  # caveats the report prints under the metrics


def read_records(path: Path) -> list[PredictionRecord]:
    """Every complete line of a predictions file; a torn last line (a killed run) is ignored."""
    if not path.exists():
        return []
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            records.append(PredictionRecord.from_dict(json.loads(line)))
        except (json.JSONDecodeError, TypeError):
            continue
    return records


def repair_tail(path: Path) -> None:
    """Cut a torn last line (no newline at the end) so appended records start on a line of their own."""
    if not path.exists():
        return
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        path.write_bytes(data[: data.rfind(b"\n") + 1])
