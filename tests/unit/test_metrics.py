"""Every evaluation metric against values computed by hand, edge cases included."""

from __future__ import annotations

import pytest

from vreason.scoring import metrics as m

CHOICES = {"A": "cat", "B": "dog", "C": "bird", "D": "fish"}


@pytest.mark.parametrize(("text", "expected"), [
    ("The Red.", "red"),
    ("  a   big\tcircle ", "big circle"),
    ("CAFÉ!", "café"),
    ("Ｒｅｄ", "red"),  # full-width letters
    ("红色。", "红色"),  # CJK punctuation
    ("three", "3"),
    ("3.5", "3.5"),
    ("", ""),
])
def test_normalize(text, expected):
    assert m.normalize(text) == expected


def test_exact_match_normalises_and_takes_any_reference():
    assert m.exact_match("Red.", ["red"]) == 1.0
    assert m.exact_match("blue", ["red", "Blue"]) == 1.0
    assert m.exact_match("红色", ["红色。"]) == 1.0
    assert m.exact_match("red", ["green"]) == 0.0
    assert m.exact_match("", ["red"]) == 0.0  # empty prediction
    assert m.exact_match("red", []) == 0.0  # no reference


def test_vqa_accuracy_is_min_one_matches_over_three():
    refs = ["red"] * 2 + ["dark red"] * 8
    assert m.vqa_accuracy("red", refs) == pytest.approx(2 / 3)
    assert m.vqa_accuracy("Dark red", refs) == 1.0
    assert m.vqa_accuracy("blue", refs) == 0.0
    assert m.vqa_accuracy("red", ["red"]) == pytest.approx(1 / 3)
    assert m.vqa_accuracy("", []) == 0.0


def test_levenshtein():
    assert m.levenshtein("kitten", "sitting") == 3
    assert m.levenshtein("", "abc") == 3
    assert m.levenshtein("北京大学", "北京大字") == 1


def test_anls_by_hand():
    # kitten / sitting: NL = 3 / 7 < 0.5, so 1 - 3/7
    assert m.anls("kitten", ["sitting"]) == pytest.approx(4 / 7)
    assert m.anls("Kitten ", ["kitten"]) == 1.0  # case and outer spaces do not count
    assert m.anls("abc", ["xyz"]) == 0.0  # NL = 1
    assert m.anls("abcd", ["abxy"]) == 0.0  # NL = 0.5 is at tau: a miss
    assert m.anls("abcd", ["abcx", "zzzz"]) == pytest.approx(0.75)  # best reference
    assert m.anls("北京大学", ["北京大字"]) == pytest.approx(0.75)
    assert m.anls("", [""]) == 1.0
    assert m.anls("", ["abc"]) == 0.0
    assert m.anls("abc", []) == 0.0


@pytest.mark.parametrize(("prediction", "expected"), [
    ("B", "B"),
    ("(C) bird", "C"),
    ("D.", "D"),
    ("The answer is D", "D"),
    ("cat", "A"),
    ("a dog", "B"),  # an article, not the letter A
    ("It is a fish.", "D"),
    ("cat or dog", None),  # ambiguous
    ("none of them", None),
    ("", None),
])
def test_extract_choice(prediction, expected):
    assert m.extract_choice(prediction, CHOICES) == expected


def test_multiple_choice_correct():
    assert m.multiple_choice_correct("(b) dog", "B", CHOICES) == 1.0
    assert m.multiple_choice_correct("dog", "b", CHOICES) == 1.0
    assert m.multiple_choice_correct("A", "B", CHOICES) == 0.0
    assert m.multiple_choice_correct("", "B", CHOICES) == 0.0


def test_box_counts_and_f1_by_hand():
    hit, spare = (0, 0, 10, 10), (20, 20, 30, 30)
    counts = m.box_counts([hit, spare], [(0, 0, 10, 10)])
    assert (counts.true_positives, counts.false_positives, counts.false_negatives) == (1, 1, 0)
    assert counts.precision == 0.5
    assert counts.recall == 1.0
    assert counts.f1 == pytest.approx(2 / 3)
    # IoU of (0,0,10,10) and (5,0,15,10) is 50 / 150 = 1/3: below 0.5, so a miss and a false positive
    shifted = m.box_counts([(5, 0, 15, 10)], [(0, 0, 10, 10)])
    assert (shifted.true_positives, shifted.false_positives, shifted.false_negatives) == (0, 1, 1)
    assert shifted.f1 == 0.0
    # at exactly 0.5 it counts: (0,0,10,10) vs (0,0,10,20) has IoU 100 / 200
    assert m.box_counts([(0, 0, 10, 20)], [(0, 0, 10, 10)]).true_positives == 1


def test_box_edge_cases_without_ground_truth_or_predictions():
    nothing = m.box_counts([], [])
    assert (nothing.precision, nothing.recall, nothing.f1) == (1.0, 1.0, 1.0)
    spurious = m.box_counts([(0, 0, 5, 5)], [])  # no ground-truth boxes, one predicted
    assert (spurious.precision, spurious.recall, spurious.f1) == (0.0, 1.0, 0.0)
    missed = m.box_counts([], [(0, 0, 5, 5)])  # empty prediction
    assert (missed.precision, missed.recall, missed.f1) == (1.0, 0.0, 0.0)


def test_labelled_matching_needs_the_same_label():
    box = (0, 0, 10, 10)
    assert m.box_counts([box], [box], predicted_labels=["Dent"], expected_labels=["dent"]).true_positives == 1
    assert m.box_counts([box], [box], predicted_labels=["scratch"], expected_labels=["dent"]).true_positives == 0


def test_box_f1_is_micro_over_images():
    # image 1: 1 TP; image 2: 1 FN, 1 FP -> 2*1 / (2*1 + 1 + 1) = 0.5 (a per-image mean would give 0.5 too,
    # so image 3 adds 2 TP: 2*3 / (6 + 2) = 0.75, where the per-image mean would be 2/3)
    predicted = [[(0, 0, 10, 10)], [(50, 50, 60, 60)], [(0, 0, 10, 10), (20, 20, 30, 30)]]
    expected = [[(0, 0, 10, 10)], [(0, 0, 10, 10)], [(0, 0, 10, 10), (20, 20, 30, 30)]]
    assert m.box_f1(predicted, expected) == pytest.approx(0.75)
    assert m.box_f1([], []) == 1.0


def test_mean_iou_over_ground_truth_boxes():
    # gt 1 matched with IoU 1/3, gt 2 unmatched (0.0): mean 1/6; images without gt add nothing
    predicted = [[(5, 0, 15, 10)], [], [(0, 0, 1, 1)]]
    expected = [[(0, 0, 10, 10), (100, 100, 110, 110)], [], []]
    assert m.mean_iou(predicted, expected) == pytest.approx(1 / 6)
    assert m.mean_iou([[(0, 0, 1, 1)]], [[]]) is None


def test_per_class_precision_recall_false_positive_rate():
    gold = ["a", "a", "b", "b", "c"]
    predicted = ["a", "b", "b", "b", "a"]
    table = m.per_class(gold, predicted)
    # a: TP 1, FP 1 (the c), FN 1, TN 2
    assert table["a"] == {"precision": 0.5, "recall": 0.5, "false_positive_rate": pytest.approx(1 / 3), "support": 2}
    # b: TP 2, FP 1, FN 0, TN 2
    assert table["b"] == {"precision": pytest.approx(2 / 3), "recall": 1.0, "false_positive_rate": pytest.approx(1 / 3),
                          "support": 2}
    # c: never predicted: precision undefined (None), not 0
    assert table["c"] == {"precision": None, "recall": 0.0, "false_positive_rate": 0.0, "support": 1}
    assert m.per_class([], []) == {}


def test_per_class_with_unicode_labels():
    table = m.per_class(["猫", "狗"], ["猫", "猫"])
    assert table["猫"]["precision"] == 0.5
    assert table["狗"]["recall"] == 0.0


def test_confusion_matrix_puts_unknown_predictions_in_other():
    columns, counts = m.confusion_matrix(["a", "a", "b"], ["a", "zebra", "a"], ["a", "b"])
    assert columns == ["a", "b", "(other)"]
    assert counts == [[1, 0, 1], [1, 0, 0]]
    columns, counts = m.confusion_matrix(["x"], ["x"])
    assert (columns, counts) == (["x"], [[1]])


def test_presence_per_class_for_several_labels_per_item():
    gold = [{"nodule"}, {"nodule", "mass"}, set()]
    predicted = [{"nodule"}, {"mass"}, {"mass"}]
    table = m.presence_per_class(gold, predicted, ["nodule", "mass", "calcification"])
    assert table["nodule"] == {"precision": 1.0, "recall": 0.5, "false_positive_rate": 0.0, "support": 2}
    assert table["mass"] == {"precision": 0.5, "recall": 1.0, "false_positive_rate": 0.5, "support": 1}
    assert table["calcification"]["precision"] is None
    assert table["calcification"]["false_positive_rate"] == 0.0


def test_decision_rates_count_unreadable_answers_against_the_model():
    gold = [False, False, True, True, True]
    predicted = [False, None, True, False, None]
    rates = m.decision_rates(gold, predicted)
    assert rates["accuracy"] == pytest.approx(2 / 5)
    assert rates["false_positive_rate"] == 0.5  # the unreadable negative counts as a false alarm
    assert rates["miss_rate"] == pytest.approx(2 / 3)  # the unreadable positive counts as a miss
    assert m.decision_rates([True], [True]) == {"accuracy": 1.0, "false_positive_rate": None, "miss_rate": 0.0}
    assert m.decision_rates([], [])["accuracy"] is None


@pytest.mark.parametrize(("text", "expected"), [
    ("7", 7.0), ("score: 7/10", 7.0), ("-2.5 points", -2.5), ("three", 3.0), ("７", 7.0), ("none", None), ("", None),
])
def test_parse_number(text, expected):
    assert m.parse_number(text) == expected


def test_mae_and_mean():
    assert m.mae([1, 2], [2, 4]) == 1.5
    assert m.mae([], []) is None
    assert m.mean([]) is None
    assert m.mean([0.0, 1.0]) == 0.5
