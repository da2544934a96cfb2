"""`vreason eval` on video rows, end to end on the tiny random Qwen3-VL: real H.264 clips decoded by the media
step under each row's sampling, a corrupt clip that spoils only its own record, an image row in the same run,
per-family accuracy in metrics.json and report.md, and the ±1 s time rule applied again by `--rescore` from
predictions.jsonl alone. (Random weights answer garbage; correctness is checked by rescoring known answers.)"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli_in_process import run_vreason
from tests.conftest import png_bytes
from tests.video_clips import BLUE, GREEN, RED, h264_clip
from vreason.eval import RunOptions, evaluate, load_dataset, rescore
from vreason.eval.runner import PREDICTIONS

QUIET = RunOptions(progress=False, batch_size=4, max_new_tokens=4)


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("clips")
    (root / "red-then-blue.mp4").write_bytes(h264_clip(seconds=2.0, fps=8, colours=(RED, BLUE)))
    (root / "green.mkv").write_bytes(h264_clip(seconds=1.0, fps=8, colours=(GREEN,), container="matroska"))
    (root / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 4)
    (root / "red.png").write_bytes(png_bytes((64, 64), RED))
    rows = [
        {
            "id": "when",
            "video": "red-then-blue.mp4",
            "question": "When does it turn blue?",
            "answer": "1",
            "family": "when",
            "fps": 4,
        },
        {
            "id": "colour",
            "video": "green.mkv",
            "question": "What colour is it?",
            "answer": "green",
            "family": "colour",
            "max_frames": 4,
        },
        {"id": "broken", "video": "broken.mp4", "question": "What colour?", "answer": "red", "family": "colour"},
        {"id": "image", "image": "red.png", "question": "What colour?", "answer": "red", "family": "image"},
    ]
    (root / "clips.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return root


def test_video_rows_evaluate_with_families_and_a_bad_clip_spoils_only_its_record(vr, clips, tmp_path):
    items = load_dataset(str(clips / "clips.jsonl"))
    summary = evaluate(vr, items, tmp_path, options=QUIET)
    records = {r.id: r for r in summary.records}
    assert records["broken"].error is not None
    assert "broken.mp4" in records["broken"].error
    for name in ("when", "colour", "image"):
        assert records[name].error is None, records[name].error
        assert records[name].completion_tokens >= 1
    assert records["when"].videos == [str(clips / "red-then-blue.mp4")]
    metrics = summary.metrics
    assert metrics["count"] == 4
    assert metrics["errors"] == 1
    assert metrics["time_count"] == 1
    assert set(metrics["by_type"]) == {"when", "colour", "image"}
    assert metrics["by_type"]["colour"]["count"] == 2
    report = summary.report.read_text()
    assert "## Accuracy by question type" in report
    assert "| when | 1 |" in report
    assert (tmp_path / "accuracy_by_type.png").stat().st_size > 1000
    assert "broken.mp4" in report  # listed among the unusable answers
    assert "examples_wrong.png" in report  # video items are shown as strips of their frames


def test_rescore_applies_the_time_rule_to_stored_predictions(vr, clips, tmp_path):
    evaluate(vr, load_dataset(str(clips / "clips.jsonl")), tmp_path, options=QUIET)
    path = tmp_path / PREDICTIONS
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    answers = {"when": "It turns blue at about 1.8 seconds.", "colour": "Green.", "image": "blue"}
    for row in rows:
        row["prediction"] = answers.get(row["id"], row["prediction"])
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    metrics = rescore(tmp_path).metrics
    assert metrics["time_accuracy"] == 1.0  # 0.8 s from the reference: inside ±1 s
    assert metrics["by_type"]["when"]["accuracy"] == 1.0
    assert metrics["by_type"]["colour"] == {"count": 2, "accuracy": 0.5}  # the broken clip counts as wrong
    assert metrics["by_type"]["image"]["accuracy"] == 0.0
    assert metrics["accuracy"] == pytest.approx(2 / 4)


@pytest.mark.slow
def test_cli_eval_on_video_rows(tiny_model_dir, clips, tmp_path):
    command = [
        "eval",
        "--data",
        str(clips / "clips.jsonl"),
        "--out",
        str(tmp_path),
        "--model",
        str(tiny_model_dir),
        "--max-new-tokens",
        "2",
        "--json",
        "--no-progress",
    ]
    result = run_vreason(*command)  # the console script's main(), in this process (tests/cli_in_process.py)
    assert result.returncode == 0, result.stderr
    metrics = json.loads(result.stdout)
    assert metrics["count"] == 4
    assert metrics["errors"] == 1
    assert "when" in metrics["by_type"]


def test_a_misspelt_sampling_key_fails_before_a_model_loads(clips, tmp_path):
    data = tmp_path / "typo.jsonl"
    data.write_text(json.dumps({"video": str(clips / "green.mkv"), "question": "?", "max_frame": 4}) + "\n")
    result = run_vreason("eval", "--data", str(data), "--out", str(tmp_path / "o"))
    assert result.returncode != 0
    assert "did you mean 'max_frames'" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
