"""Answer-quality metrics as pure functions of predictions and references: no model, no files.

Per-item functions return a float in [0, 1] (or a count); dataset-level functions take lists and return the
aggregate. Every fraction is 0-1. Conventions for the edge cases are stated where they apply, because a
metric's value on an empty input is a choice, and reports must not silently differ from one run to the next.
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from vreason.reasoning.grounding import match_boxes

Box = tuple[float, float, float, float]  # x1, y1, x2, y2 in one coordinate system (pixels, usually)

ANLS_TAU = 0.5  # ANLS (DocVQA): normalised edit distance at or above this counts as a complete miss
IOU_THRESHOLD = 0.5
VQA_HUMANS = 3.0  # VQA accuracy: an answer given by 3 or more annotators counts as fully right

_ARTICLES = {"a", "an", "the"}
_NUMBER_WORDS = {w: str(i) for i, w in enumerate(
    ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"])}
_NUMBER = re.compile(r"[-+]?\d+(?:\.\d+)?")


def normalize(text: str) -> str:
    """Case-, width- and punctuation-insensitive form of a short answer, for any script.

    NFKC folds full-width forms (Ａ → A, ２ → 2), `casefold` handles ß and friends, every Unicode punctuation
    character (ASCII and CJK alike: "。", "，") becomes a space, English articles go, number words become digits.
    A decimal point between digits survives ("3.5" stays "3.5").
    """
    text = unicodedata.normalize("NFKC", text).casefold().strip()
    text = re.sub(r"(?<=\d)\.(?=\d)", "\0", text)  # protect decimal points from the punctuation pass
    text = "".join(" " if unicodedata.category(ch).startswith("P") or ch in string.punctuation else ch
                   for ch in text)
    words = [_NUMBER_WORDS.get(w, w) for w in text.replace("\0", ".").split() if w not in _ARTICLES]
    return " ".join(words)


def exact_match(prediction: str, references: Sequence[str]) -> float:
    """1.0 when the normalised prediction equals any normalised reference; no references: 0.0."""
    pred = normalize(prediction)
    return float(any(pred == normalize(ref) for ref in references))


def vqa_accuracy(prediction: str, references: Sequence[str]) -> float:
    """VQA accuracy: min(1, matching human answers / 3), answers compared after normalisation.

    Meant for references from several annotators (VQAv2 has 10); with one reference a right answer scores 1/3,
    which is why the harness reports it only for items with two or more references.
    """
    pred = normalize(prediction)
    matches = sum(pred == normalize(ref) for ref in references)
    return min(1.0, matches / VQA_HUMANS)


def levenshtein(a: str, b: str) -> int:
    """Edit distance in characters (insert, delete, substitute), two rows of the DP table."""
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def anls(prediction: str, references: Sequence[str], tau: float = ANLS_TAU) -> float:
    """Average Normalised Levenshtein Similarity for one item: the best over references of 1 - NL, where
    NL = edit distance / longer length on lower-cased, whitespace-trimmed text; NL >= tau scores 0.
    Two empty strings are identical (1.0); no references: 0.0."""
    pred = " ".join(prediction.casefold().split())
    best = 0.0
    for ref in references:
        gold = " ".join(ref.casefold().split())
        longest = max(len(pred), len(gold))
        distance = levenshtein(pred, gold) / longest if longest else 0.0
        best = max(best, 0.0 if distance >= tau else 1.0 - distance)
    return best


_LETTER_ONLY = re.compile(r"^\(?([A-Z])\)?[.:]?$")
_LEADING_LETTER = re.compile(r"^\(?([A-Z])(?:\)|[.:])\s*")  # "(B) cat", "B. cat", "B: cat"
_ANSWER_IS = re.compile(r"(?:answer|option|choice)\s*(?:is|:)?\s*\(?([A-Z])\b", re.I)


def extract_choice(prediction: str, choices: dict[str, str]) -> str | None:
    """The option letter a free-text answer picks, or None when it picks none or is ambiguous.

    In order: a bare letter ("B", "(B)"), the exact text of one option, a leading "B." / "(B)", "the answer
    is B", the text of exactly one option inside the answer. A bare "A" article ("A cat") is not a letter.
    """
    text = unicodedata.normalize("NFKC", prediction).strip()
    letters = {letter.upper() for letter in choices}
    pred = normalize(text)
    by_text = [letter.upper() for letter, option in choices.items() if normalize(option) == pred]
    for pattern in (_LETTER_ONLY, None, _LEADING_LETTER, _ANSWER_IS):
        if pattern is None:
            if len(by_text) == 1:
                return by_text[0]
            continue
        found = pattern.search(text)
        if found and found.group(1).upper() in letters:
            return found.group(1).upper()
    mentioned = [letter.upper() for letter, option in choices.items()
                 if normalize(option) and re.search(rf"(?<!\w){re.escape(normalize(option))}(?!\w)", pred)]
    return mentioned[0] if len(mentioned) == 1 else None


def multiple_choice_correct(prediction: str, answer: str, choices: dict[str, str]) -> float:
    """1.0 when the extracted option letter is the answer letter (compared case-insensitively)."""
    picked = extract_choice(prediction, choices)
    return float(picked is not None and picked == answer.strip().upper())


@dataclass
class BoxCounts:
    """Matches between predicted and ground-truth boxes, summed over images (micro averaging)."""

    true_positives: int = 0
    false_positives: int = 0
    false_negatives: int = 0

    def add(self, other: BoxCounts) -> None:
        self.true_positives += other.true_positives
        self.false_positives += other.false_positives
        self.false_negatives += other.false_negatives

    @property
    def precision(self) -> float:
        """TP / (TP + FP); 1.0 when nothing was predicted (nothing wrong was said)."""
        predicted = self.true_positives + self.false_positives
        return self.true_positives / predicted if predicted else 1.0

    @property
    def recall(self) -> float:
        """TP / (TP + FN); 1.0 when there was nothing to find (nothing was missed)."""
        expected = self.true_positives + self.false_negatives
        return self.true_positives / expected if expected else 1.0

    @property
    def f1(self) -> float:
        """2TP / (2TP + FP + FN): a spurious box on an image without any makes it 0.0, nothing predicted on
        nothing makes it 1.0."""
        denominator = 2 * self.true_positives + self.false_positives + self.false_negatives
        return 2 * self.true_positives / denominator if denominator else 1.0


def box_counts(predicted: Sequence[Box], expected: Sequence[Box], threshold: float = IOU_THRESHOLD,
               predicted_labels: Sequence[str] | None = None,
               expected_labels: Sequence[str] | None = None) -> BoxCounts:
    """One-to-one greedy matching at IoU >= threshold. With labels, a match also needs equal labels
    (compared after `normalize`)."""
    if predicted_labels is None or expected_labels is None:
        matched = len(match_boxes(list(predicted), list(expected), threshold))
    else:
        matched = 0
        for label in {normalize(x) for x in expected_labels}:
            p = [b for b, lab in zip(predicted, predicted_labels, strict=True) if normalize(lab) == label]
            e = [b for b, lab in zip(expected, expected_labels, strict=True) if normalize(lab) == label]
            matched += len(match_boxes(p, e, threshold))
    return BoxCounts(matched, len(predicted) - matched, len(expected) - matched)


def box_f1(predicted: Sequence[Sequence[Box]], expected: Sequence[Sequence[Box]],
           threshold: float = IOU_THRESHOLD) -> float:
    """Micro F1 over a dataset: per-image boxes, counts summed over images before the ratio."""
    total = BoxCounts()
    for p, e in zip(predicted, expected, strict=True):
        total.add(box_counts(p, e, threshold))
    return total.f1


def best_ious(predicted: Sequence[Box], expected: Sequence[Box]) -> list[float]:
    """For each ground-truth box, the IoU of its one-to-one match (any overlap counts); 0.0 when unmatched."""
    overlaps = [0.0] * len(expected)
    for _, j, overlap in match_boxes(list(predicted), list(expected), threshold=1e-9):
        overlaps[j] = overlap
    return overlaps


def mean_iou(predicted: Sequence[Sequence[Box]], expected: Sequence[Sequence[Box]]) -> float | None:
    """Mean over all ground-truth boxes of `best_ious`; None when there are no ground-truth boxes at all."""
    values = [v for p, e in zip(predicted, expected, strict=True) for v in best_ious(p, e)]
    return sum(values) / len(values) if values else None


def per_class(gold: Sequence[str], predicted: Sequence[str]) -> dict[str, dict[str, float | int | None]]:
    """One-label-per-item classification: per gold class, precision, recall, false-positive rate and support.

    precision = TP / (TP + FP), recall = TP / (TP + FN), false_positive_rate = FP / (FP + TN); a ratio with a
    zero denominator is None (JSON null), not 0, because "never predicted" is not "always wrong".
    """
    total = len(gold)
    out: dict[str, dict[str, float | int | None]] = {}
    for label in sorted(set(gold)):
        tp = sum(g == label and p == label for g, p in zip(gold, predicted, strict=True))
        fp = sum(g != label and p == label for g, p in zip(gold, predicted, strict=True))
        fn = sum(g == label and p != label for g, p in zip(gold, predicted, strict=True))
        tn = total - tp - fp - fn
        out[label] = {"precision": _ratio(tp, tp + fp), "recall": _ratio(tp, tp + fn),
                      "false_positive_rate": _ratio(fp, fp + tn), "support": tp + fn}
    return out


def presence_per_class(gold: Sequence[set[str]], predicted: Sequence[set[str]],
                       labels: Sequence[str] | None = None) -> dict[str, dict[str, float | int | None]]:
    """Several labels per item (findings on a scan): per label, whether it is present, scored over items.
    Same ratios and null convention as `per_class`; `labels` defaults to every gold label."""
    labels = sorted(set().union(*gold)) if labels is None else list(labels)
    out: dict[str, dict[str, float | int | None]] = {}
    for label in labels:
        tp = sum(label in g and label in p for g, p in zip(gold, predicted, strict=True))
        fp = sum(label not in g and label in p for g, p in zip(gold, predicted, strict=True))
        fn = sum(label in g and label not in p for g, p in zip(gold, predicted, strict=True))
        tn = len(gold) - tp - fp - fn
        out[label] = {"precision": _ratio(tp, tp + fp), "recall": _ratio(tp, tp + fn),
                      "false_positive_rate": _ratio(fp, fp + tn), "support": tp + fn}
    return out


def decision_rates(gold: Sequence[bool], predicted: Sequence[bool | None]) -> dict[str, float | None]:
    """A yes/no screening decision (defect, finding, mistake = positive) scored over items.

    accuracy over all items; false_positive_rate = flagged negatives / negatives; miss_rate = positives not
    flagged / positives (None without negatives / positives). An unreadable answer (None) counts against the
    model both ways: a false alarm on a negative, a miss on a positive, since either way a person must look.
    """
    negatives = [p for g, p in zip(gold, predicted, strict=True) if not g]
    positives = [p for g, p in zip(gold, predicted, strict=True) if g]
    right = sum(p is not None and p == g for g, p in zip(gold, predicted, strict=True))
    return {
        "accuracy": right / len(gold) if gold else None,
        "false_positive_rate": _ratio(sum(p is not False for p in negatives), len(negatives)),
        "miss_rate": _ratio(sum(p is not True for p in positives), len(positives)),
    }


def confusion_matrix(gold: Sequence[str], predicted: Sequence[str],
                     labels: Sequence[str] | None = None, other: str = "(other)") -> tuple[list[str], list[list[int]]]:
    """Rows: gold label, columns: predicted label, both over `labels` (default: the sorted gold labels).
    Predictions outside `labels` land in an extra `other` column, so the matrix stays readable."""
    labels = list(labels) if labels is not None else sorted(set(gold))
    index = {label: i for i, label in enumerate(labels)}
    columns = labels + ([other] if any(p not in index for p in predicted) else [])
    matrix = [[0] * len(columns) for _ in labels]
    for g, p in zip(gold, predicted, strict=True):
        if g in index:
            matrix[index[g]][index.get(p, len(columns) - 1)] += 1
    return columns, matrix


def parse_number(text: str) -> float | None:
    """The first number in `text` ("score: 7/10" → 7.0, "-2.5" → -2.5, "three" → 3.0), or None.
    Full-width digits count ("７" → 7.0); a comma is not a decimal point."""
    text = unicodedata.normalize("NFKC", text)
    found = _NUMBER.search(text) or _NUMBER.search(normalize(text))
    return float(found.group(0)) if found else None


def mae(predicted: Sequence[float], expected: Sequence[float]) -> float | None:
    """Mean absolute error; None for no pairs."""
    pairs = list(zip(predicted, expected, strict=True))
    return sum(abs(p - e) for p, e in pairs) / len(pairs) if pairs else None


def mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _ratio(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None
