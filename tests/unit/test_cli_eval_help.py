"""`vreason eval --help` shows the row forms of a JSONL dataset, point clouds included, with what each is scored
by; the example rows it prints are rows `load_dataset` takes as they are."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from vreason.cli.app import app
from vreason.eval.datasets import load_dataset


def help_text() -> str:
    result = CliRunner().invoke(app, ["eval", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    return result.output


def example_rows(text: str) -> list[dict]:
    """Every JSON object printed in the help (a row may span two lines)."""
    decoder, rows, at = json.JSONDecoder(), [], text.find('{"')
    while at >= 0:
        row, end = decoder.raw_decode(text, at)
        rows.append(row)
        at = text.find('{"', end)
    return rows


def test_eval_help_shows_cloud_rows_and_their_metrics():
    text = help_text()
    assert "point-cloud rows" in text
    assert "asked on its rendered views (default bev), exact match" in text
    assert "right at 3D IoU (with yaw) >= 0.25" in text
    for metric in ("box3d_mean_iou", "box3d_mean_iou_axis_aligned", "box3d_centre_distance", "box3d_first_accuracy",
                   "box3d_missed"):
        assert metric in text


def test_the_help_example_rows_load(tmp_path):
    rows = example_rows(help_text())
    assert [next(iter(r)) for r in rows] == ["image", "video", "cloud", "cloud"]
    path = tmp_path / "scenes.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows if "cloud" in r))
    question, box = load_dataset(str(path))
    assert question.cloud == str(tmp_path / "room.ply")
    assert question.views == ("bev", "front")
    assert question.answers == ["2"]
    assert box.question == "red box"
    assert box.box3d == {"center": [1.2, 0.4, 0.5], "size": [0.8, 0.6, 1.0], "yaw": 0.3, "label": "red box"}
