"""Dataset-level scoring of question-answer predictions: which metrics appear and their hand-computed values."""

from __future__ import annotations

import json

import pytest

from vreason.scoring.records import LabeledBox, PredictionRecord, read_records, repair_tail
from vreason.scoring.scorers import score_qa


def record(pid: str, prediction: str, answers: list[str], **extra) -> PredictionRecord:
    return PredictionRecord(id=pid, kind=extra.pop("kind", "all"), images=[], prompt="q", prediction=prediction,
                            answers=answers, **extra)


def test_single_answer_dataset_gets_exact_match_anls_per_class_and_types():
    records = [record("1", "red", ["red"], kind="color"), record("2", "Blue.", ["blue"], kind="color"),
               record("3", "yes", ["no"], kind="yes/no"), record("4", "", ["yes"], kind="yes/no")]
    result = score_qa(records)
    metrics = result.metrics
    assert metrics["count"] == 4
    assert metrics["exact_match"] == 0.5
    # ANLS keeps punctuation: "blue." vs "blue" is 1 - 1/5; "yes" vs "no" and "" vs "yes" score 0
    assert metrics["anls"] == pytest.approx((1 + 0.8 + 0 + 0) / 4)
    assert "vqa_accuracy" not in metrics  # one reference per item
    assert result.correct == [True, True, False, False]
    assert metrics["by_type"] == {"color": {"count": 2, "accuracy": 1.0}, "yes/no": {"count": 2, "accuracy": 0.0}}
    assert metrics["per_class"]["no"] == {"precision": None, "recall": 0.0, "false_positive_rate": 0.0, "support": 1}
    assert result.confusion is not None
    assert result.confusion.rows == ["blue", "no", "red", "yes"]
    assert result.confusion.columns == ["blue", "no", "red", "yes", "(other)"]  # "" is not a known answer


def test_vqa_accuracy_only_over_items_with_several_references():
    records = [record("1", "two", ["2", "2", "2", "3"]), record("2", "3", ["2", "2", "3", "4"]),
               record("3", "x", ["x"])]
    metrics = score_qa(records).metrics
    assert metrics["vqa_accuracy"] == pytest.approx((1.0 + 1 / 3) / 2)
    assert metrics["vqa_accuracy_count"] == 2


def test_multiple_choice_items():
    choices = {"A": "cat", "B": "dog"}
    records = [record("1", "B. dog", ["B"], choices=choices), record("2", "cat", ["B"], choices=choices),
               record("3", "The answer is A", ["A"], choices=choices)]
    result = score_qa(records)
    assert result.metrics["multiple_choice_accuracy"] == pytest.approx(2 / 3)
    assert result.correct == [True, False, True]
    assert "per_class" not in result.metrics


def test_box_items_get_f1_and_mean_iou_even_without_ground_truth_boxes():
    gt = [LabeledBox([0, 0, 10, 10], "cat")]
    records = [
        record("1", "", [], boxes=gt, pred_boxes=[LabeledBox([0, 0, 10, 10], "cat")]),  # TP
        record("2", "", [], boxes=[], pred_boxes=[LabeledBox([5, 5, 9, 9])]),  # FP on an image without boxes
        record("3", "", [], boxes=gt, pred_boxes=[]),  # FN: empty prediction
        record("4", "no boxes asked", ["x"]),  # not a box item
    ]
    result = score_qa(records)
    metrics = result.metrics
    assert metrics["box_f1"] == pytest.approx(2 / (2 + 1 + 1))
    assert metrics["box_precision"] == 0.5
    assert metrics["box_recall"] == 0.5
    assert metrics["mean_iou"] == 0.5  # 1.0 and 0.0 over the two ground-truth boxes
    assert metrics["box_images"] == 3
    assert metrics["gt_boxes"] == 2
    assert result.correct[:3] == [True, False, False]


def test_numeric_answers_get_mae_and_unparsed_count():
    records = [record("1", "3", ["4"]), record("2", "seven", ["5"]), record("3", "many", ["2"])]
    metrics = score_qa(records).metrics
    assert metrics["mae"] == pytest.approx((1 + 2) / 2)
    assert metrics["mae_count"] == 2
    assert metrics["mae_unparsed"] == 1


def test_empty_predictions_and_unicode_answers():
    records = [record("1", "", ["北京"]), record("2", "北京。", ["北京"]), record("3", "Ｔokyo", ["tokyo"])]
    result = score_qa(records)
    assert result.metrics["exact_match"] == pytest.approx(2 / 3)
    assert result.correct == [False, True, True]


def test_records_round_trip_and_a_torn_last_line_is_dropped(tmp_path):
    path = tmp_path / "predictions.jsonl"
    first = record("1", "红", ["红"], boxes=[LabeledBox([1, 2, 3, 4], "x")], parsed={"a": 1})
    path.write_text(first.to_json() + "\n" + json.dumps({"id": "2"})[:7], encoding="utf-8")
    assert [r.id for r in read_records(path)] == ["1"]
    repair_tail(path)
    assert path.read_text(encoding="utf-8") == first.to_json() + "\n"
    again = read_records(path)[0]
    assert again == first
