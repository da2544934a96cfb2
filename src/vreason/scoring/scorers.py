"""Scorers: from prediction records to metrics.json. `score_qa` scores data without a task pack; `run_health`,
`by_type` and `box_metrics` are the parts every task pack's scorer shares.

Which metrics `score_qa` reports depends on what the data carries: every item gets exact match and ANLS; items with
several references add VQA accuracy; items with options add multiple-choice accuracy; items with a `boxes`
field add box F1@IoU>=0.5 and mean IoU; numeric references add MAE; a small label set (easy-VQA's 13 answers)
adds per-class precision / recall / false-positive rate and a confusion matrix. Items whose answer is a time
(scoring/times.py: any time-shaped reference of a video item, one with a unit or a clock otherwise, or any item
marked `answer_type: "time"`) count as right within ±1 s and add `time_accuracy` / `time_mae`, and then
`accuracy` (the fraction right by each item's own rule) leads the metrics. Items of a point cloud with a true
3D box (`box3d`) are right when a box found overlaps it with 3D IoU >= 0.25 and add the `box3d_*` metrics
(scoring/boxes3d.py); `accuracy` leads then too (their exact match is 0: they have no answer text).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from vreason.scoring import metrics as m
from vreason.scoring.records import Confusion, PredictionRecord, ScoreResult
from vreason.scoring.times import TIME_TOLERANCE_S, first_seconds, reference_seconds, time_correct

MAX_CLASSES = 30  # above this many distinct answers, per-class tables stop being readable
# Questions whose bare-number answer is a count, not a time ("How many cars pass?", "number of people"), unless
# they ask about seconds ("how many seconds until...").
_COUNT_QUESTION = re.compile(r"\b(how many|how often|number of|count)\b", re.IGNORECASE)
_TIME_WORDS = re.compile(r"\b(seconds?|secs?|minutes?|when|time)\b|秒", re.IGNORECASE)


def score_qa(records: Sequence[PredictionRecord]) -> ScoreResult:
    out: dict[str, Any] = {"count": len(records), "errors": sum(r.error is not None for r in records)}
    exact = [m.exact_match(r.prediction, r.answers) for r in records]
    out["exact_match"] = m.mean(exact) or 0.0
    out["anls"] = m.mean([m.anls(r.prediction, r.answers) for r in records]) or 0.0
    correct = [e == 1.0 for e in exact]

    multi = [r for r in records if len(r.answers) >= 2]
    if multi:
        out["vqa_accuracy"] = m.mean([m.vqa_accuracy(r.prediction, r.answers) for r in multi])
        out["vqa_accuracy_count"] = len(multi)

    choice_index = [i for i, r in enumerate(records) if r.choices and r.answers]
    for i in choice_index:
        r = records[i]
        correct[i] = m.multiple_choice_correct(r.prediction, r.answers[0], r.choices or {}) == 1.0
    if choice_index:
        out["multiple_choice_accuracy"] = m.mean([float(correct[i]) for i in choice_index])

    box_index = [i for i, r in enumerate(records) if r.boxes is not None]
    if box_index:
        out.update(box_metrics([records[i] for i in box_index]))
        for i in box_index:
            counts = _counts(records[i])
            correct[i] = counts.false_positives == 0 and counts.false_negatives == 0

    box3d_index = [i for i, r in enumerate(records) if r.box3d is not None]
    if box3d_index:
        from vreason.scoring.boxes3d import box3d_correct, box3d_metrics

        out.update(box3d_metrics([records[i] for i in box3d_index]))
        for i in box3d_index:
            correct[i] = box3d_correct(records[i])

    times = {i: t for i, r in enumerate(records) if (t := reference_times(r))}
    if times:
        for i, references in times.items():
            correct[i] = any(time_correct(records[i].prediction, t) for t in references)
        read = [(first_seconds(records[i].prediction), references) for i, references in times.items()]
        errors = [min(abs(p - t) for t in references) for p, references in read if p is not None]
        out["time_accuracy"] = m.mean([float(correct[i]) for i in times])
        out["time_tolerance_s"] = TIME_TOLERANCE_S
        out["time_count"] = len(times)
        out["time_mae"] = m.mean(errors)
        out["time_unparsed"] = len(read) - len(errors)
        out = {"count": out.pop("count"), "accuracy": m.mean([float(c) for c in correct]), **out}

    elif box3d_index:  # right by their own rule: `accuracy` leads, as for times
        out = {"count": out.pop("count"), "accuracy": m.mean([float(c) for c in correct]), **out}

    numeric = [(m.parse_number(r.prediction), float(r.answers[0])) for i, r in enumerate(records)
               if len(r.answers) == 1 and _is_number(r.answers[0]) and i not in times]
    if numeric:
        pairs = [(p, g) for p, g in numeric if p is not None]
        out["mae"] = m.mae([p for p, _ in pairs], [g for _, g in pairs])
        out["mae_count"] = len(pairs)
        out["mae_unparsed"] = len(numeric) - len(pairs)

    confusion = None
    single = [r for r in records if len(r.answers) == 1 and not r.choices]
    labels = sorted({m.normalize(r.answers[0]) for r in single})
    if single and len(single) == len(records) and 2 <= len(labels) <= MAX_CLASSES and not times:
        gold = [m.normalize(r.answers[0]) for r in single]
        predicted = [m.normalize(r.prediction) for r in single]
        out["per_class"] = m.per_class(gold, predicted)
        columns, counts = m.confusion_matrix(gold, predicted, labels)
        confusion = Confusion("answers: reference (rows) vs prediction (columns)", labels, columns, counts)

    out["by_type"] = by_type(records, correct)
    notes = []
    if times:
        notes.append(
            f"{len(times)} answer(s) are times: right within ±{TIME_TOLERANCE_S:g} s of the reference (the first time "
            "the answer names); the others by exact match after normalisation. `accuracy` and the per-type table "
            "use these rules."
        )
    return ScoreResult(out, correct, confusion, notes)


def reference_times(record: PredictionRecord) -> list[float]:
    """The record's references as seconds when its answer is a time, else []. A bare number is seconds for a
    video item (the question is about its clip) unless the question asks for a count ("how many"), and a count
    or a value for an image item; `answer_type` decides when the data set says."""
    if record.answer_type == "exact" or record.choices or not record.answers:
        return []
    bare = record.answer_type == "time" or (bool(record.videos) and not _asks_count(record.prompt))
    seconds = [reference_seconds(a, bare_numbers=bare) for a in record.answers]
    if record.answer_type == "time":
        return [s for s in seconds if s is not None]
    return [s for s in seconds if s is not None] if all(s is not None for s in seconds) else []


def _asks_count(question: str) -> bool:
    return bool(_COUNT_QUESTION.search(question)) and not _TIME_WORDS.search(question)


def box_metrics(records: Sequence[PredictionRecord]) -> dict[str, Any]:
    """Box precision / recall / F1 at IoU >= 0.5 (micro over images) and mean IoU of ground-truth boxes."""
    total = m.BoxCounts()
    for r in records:
        total.add(_counts(r))
    predicted = [[tuple(b.box) for b in r.pred_boxes] for r in records]
    expected = [[tuple(b.box) for b in r.boxes or []] for r in records]
    return {"box_f1": total.f1, "box_precision": total.precision, "box_recall": total.recall,
            "mean_iou": m.mean_iou(predicted, expected), "box_images": len(records),
            "gt_boxes": total.true_positives + total.false_negatives}


def run_health(records: Sequence[PredictionRecord]) -> dict[str, Any]:
    """The first keys of a task pack's metrics: how many items, and how many answers could not be used."""
    checked = [r.schema_valid for r in records if r.schema_valid is not None]
    return {
        "count": len(records),
        "errors": sum(r.error is not None for r in records),
        "parse_failures": sum(r.error is None and r.parse_error is not None for r in records),
        "parse_rate": m.mean([float(r.parsed is not None) for r in records]) or 0.0,
        "truncated": sum(r.finish_reason == "length" for r in records),  # stopped by max_new_tokens
        "schema_valid_rate": m.mean([float(v) for v in checked]) if checked else None,
    }


def by_type(records: Sequence[PredictionRecord], correct: Sequence[bool]) -> dict[str, dict[str, float | int]]:
    """Accuracy per question type (the record's kind)."""
    groups: dict[str, list[bool]] = defaultdict(list)
    for r, ok in zip(records, correct, strict=True):
        groups[r.kind].append(ok)
    return {kind: {"count": len(oks), "accuracy": sum(oks) / len(oks)} for kind, oks in sorted(groups.items())}


def _counts(r: PredictionRecord) -> m.BoxCounts:
    return m.box_counts([tuple(b.box) for b in r.pred_boxes], [tuple(b.box) for b in r.boxes or []])


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
