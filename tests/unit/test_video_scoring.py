"""Video evaluation without a model: times read from references and answers, the ±1 s rule in `score_qa`, the
per-family breakdown and its plot, and video rows of a JSONL data set (sampling keys checked up front)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vreason.errors import InvalidRequestError
from vreason.eval.datasets import read_jsonl
from vreason.eval.report import write_report
from vreason.scoring.records import PredictionRecord
from vreason.scoring.scorers import score_qa
from vreason.scoring.times import first_seconds, reference_seconds, time_correct


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("3", 3.0),
        ("3.5 s", 3.5),
        ("at 3 seconds", 3.0),
        ("around 3s.", 3.0),
        ("<3.0 seconds>", 3.0),  # Qwen3-VL's own timestamp format
        ("0:03", 3.0),
        ("1:05", 65.0),
        ("1:02:03", 3723.0),
        ("1 min 5 s", 65.0),
        ("1 minute and 5 seconds", 65.0),
        ("three seconds", 3.0),
        ("２秒", 2.0),  # full-width digit, Chinese unit
        ("1分5秒", 65.0),
        ("500 ms", 0.5),
    ],
)
def test_reference_times(text, seconds):
    assert reference_seconds(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["3 cars", "red", "", "the ball", "between 2 and 4", "3 m"])
def test_references_that_are_not_one_time(text):
    assert reference_seconds(text) is None


def test_bare_number_is_a_time_only_when_the_caller_says():
    assert reference_seconds("12.5", bare_numbers=False) is None
    assert reference_seconds("12.5 s", bare_numbers=False) == 12.5
    assert reference_seconds("0:12", bare_numbers=False) == 12.0


@pytest.mark.parametrize(
    ("answer", "seconds"),
    [
        ("It happens at about 3.5 seconds.", 3.5),
        ("The ball falls at <4.0 seconds> and lands at <5.0 seconds>.", 4.0),
        ("At 0:07 the car stops", 7.0),
        ("After 2 cars pass, at 5 s.", 5.0),  # a unit beats an earlier bare number
        ("3", 3.0),
        ("在3秒时", 3.0),
        ("no idea", None),
    ],
)
def test_first_time_in_an_answer(answer, seconds):
    assert first_seconds(answer) == seconds


def test_tolerance_is_one_second_inclusive():
    assert time_correct("4 s", 3.0)
    assert time_correct("2", 3.0)
    assert not time_correct("4.01 s", 3.0)
    assert not time_correct("soon", 3.0)


def record(pid: str, prediction: str, answers: list[str], **extra) -> PredictionRecord:
    return PredictionRecord(
        id=pid, kind=extra.pop("kind", "all"), images=[], prompt="q", prediction=prediction, answers=answers, **extra
    )


CLIP = ["clip.mp4"]


def test_video_time_answers_are_right_within_one_second_and_others_by_exact_match():
    records = [
        record("1", "at 3.8 seconds", ["3"], videos=CLIP, kind="when"),  # 0.8 s off: right
        record("2", "0:05", ["3.5 s"], videos=CLIP, kind="when"),  # 1.5 s off: wrong
        record("3", "I cannot tell", ["at 2 seconds"], videos=CLIP, kind="when"),  # no time: wrong
        record("4", "Red.", ["red"], videos=CLIP, kind="color"),
        record("5", "blue", ["red"], videos=CLIP, kind="color"),
    ]
    result = score_qa(records)
    metrics = result.metrics
    assert result.correct == [True, False, False, True, False]
    assert list(metrics)[:2] == ["count", "accuracy"]
    assert metrics["accuracy"] == pytest.approx(2 / 5)
    assert metrics["time_accuracy"] == pytest.approx(1 / 3)
    assert metrics["time_count"] == 3
    assert metrics["time_tolerance_s"] == 1.0
    assert metrics["time_mae"] == pytest.approx((0.8 + 1.5) / 2)
    assert metrics["time_unparsed"] == 1
    assert metrics["exact_match"] == pytest.approx(1 / 5)  # "at 3.8 seconds" is not "3"
    assert metrics["by_type"] == {
        "color": {"count": 2, "accuracy": 0.5},
        "when": {"count": 3, "accuracy": pytest.approx(1 / 3)},
    }
    assert "per_class" not in metrics  # times are not classes
    assert "mae" not in metrics  # time items have their own error


def test_bare_numbers_of_image_items_stay_counts_unless_marked():
    count = record("1", "4", ["3"])  # an image item: "how many?"
    timed = record("2", "4", ["3"], answer_type="time")
    exact = record("3", "3.5 s", ["3"], videos=CLIP, answer_type="exact")
    result = score_qa([count, timed, exact])
    assert result.correct == [False, True, False]
    assert result.metrics["time_count"] == 1
    assert result.metrics["mae"] == pytest.approx((1.0 + 0.5) / 2)  # the count and the exact item, not the time


def test_a_count_question_about_a_clip_is_not_a_time():
    count = PredictionRecord(
        id="1", kind="count", images=[], prompt="How many cars pass?", prediction="4", answers=["3"], videos=CLIP
    )
    when = PredictionRecord(
        id="2", kind="when", images=[], prompt="When does the car pass?", prediction="4", answers=["3"], videos=CLIP
    )
    seconds = PredictionRecord(
        id="3",
        kind="when",
        images=[],
        prompt="How many seconds until it stops?",
        prediction="4",
        answers=["3"],
        videos=CLIP,
    )
    result = score_qa([count, when, seconds])
    assert result.correct == [False, True, True]
    assert result.metrics["time_count"] == 2


def test_report_plots_accuracy_per_family(tmp_path):
    records = [
        record("1", "3 s", ["3"], videos=CLIP, kind="when"),
        record("2", "yes", ["no"], videos=CLIP, kind="did it"),
    ]
    result = score_qa(records)
    report = write_report(tmp_path, records, result, title="Evaluation: video")
    text = report.read_text()
    assert "| when | 1 | 1.000 |" in text
    assert "| did it | 1 | 0.000 |" in text
    assert "| time_accuracy | 1.0000 |" in text
    assert "right within ±1 s of the reference" in text
    assert (tmp_path / "accuracy_by_type.png").stat().st_size > 1000


def _write_rows(tmp_path: Path, *rows: dict) -> Path:
    path = tmp_path / "clips.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_video_rows_keep_clip_sampling_family_and_answer_type(tmp_path):
    path = _write_rows(
        tmp_path,
        {
            "video": "a.mp4",
            "question": "When does it turn red?",
            "answer": "3",
            "fps": 4,
            "max_frames": 16,
            "start": 1,
            "family": "when",
            "source": "synthetic",
        },
        {"video": "https://example.com/b.webm", "question": "Color?", "answer": "red", "answer_type": "exact"},
    )
    first, second = read_jsonl(path)
    assert first.videos == [str(tmp_path / "a.mp4")]  # relative to the JSONL file
    assert first.video_sampling == {"fps": 4, "max_frames": 16, "start": 1}
    assert first.kind == "when"
    assert first.fields == {"source": "synthetic"}
    assert first.images == []
    assert second.videos == ["https://example.com/b.webm"]
    assert second.answer_type == "exact"
    assert PredictionRecord.for_item(first, first.question).videos == first.videos


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"video": "a.mp4", "question": "q", "max_frame": 8}, "did you mean 'max_frames'"),
        ({"video": "a.mp4", "question": "q", "fps": -1}, "fps"),
        ({"video": "a.mp4", "question": "q", "start": 5, "end": 2}, "end"),
        ({"image": "a.png", "question": "q", "fps": 2}, "no 'video'"),
        ({"video": 3, "question": "q"}, "'video' must be"),
        ({"video": "a.mp4", "question": "q", "answer_type": "count"}, "answer_type"),
    ],
)
def test_bad_video_rows_fail_with_the_row_and_the_key(tmp_path, row, message):
    path = _write_rows(tmp_path, row)
    with pytest.raises(InvalidRequestError, match=message) as caught:
        read_jsonl(path)
    assert f"{path}:1" in str(caught.value)
