"""`vreason eval` on point-cloud rows, as users run it: four synthetic scenes (spatial/scenes.py) written as PLY,
a JSONL of count questions (exact match on the bird's-eye view) and 3D-box rows (3D IoU with yaw >= 0.25),
the real command in a subprocess with the built-in demo model. The metrics are checked against the boxes in
predictions.jsonl, so the scorer cannot drift from what the model found."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.cli_in_process import run_vreason
from vreason.errors import InvalidRequestError
from vreason.eval.datasets import load_dataset
from vreason.spatial.boxes3d import Box3D, centre_distance, iou_3d
from vreason.spatial.scenes import make_scene
from vreason.spatial.writers import write_cloud_ply

ROOT = Path(__file__).resolve().parents[2]
SEEDS = (11, 12, 13, 14)


def write_scenes(folder: Path) -> Path:
    rows = []
    for seed in SEEDS:
        scene = make_scene(seed, density=1500)
        write_cloud_ply(folder / f"scene{seed}.ply", scene.cloud)
        count = {"cloud": f"scene{seed}.ply", "question": "how many shapes are there?", "family": "count"}
        rows.append({"id": f"{seed}-count", **count, "answer": str(len(scene.objects))})
        names = [o.name for o in scene.objects]
        for o in scene.objects:
            if names.count(o.name) == 1:  # the target names one object
                box = {"center": list(o.box.center), "size": list(o.box.size), "yaw": o.box.yaw}
                rows.append(
                    {
                        "id": f"{seed}-{o.name}",
                        "cloud": f"scene{seed}.ply",
                        "target": o.name,
                        "box3d": box,
                        "family": "box3d",
                    }
                )
    rows.append(
        {
            "id": "gone",
            "cloud": "missing.ply",
            "question": "how many shapes are there?",
            "answer": "1",
            "family": "count",
        }
    )
    path = folder / "scenes.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def vreason(*args: str) -> subprocess.CompletedProcess:
    return run_vreason(*args)  # the console script's main(), in this process (tests/cli_in_process.py)


def test_eval_scores_cloud_questions_and_3d_boxes(tmp_path):
    data = write_scenes(tmp_path)
    out = tmp_path / "run"
    run = vreason("eval", "--data", str(data), "--out", str(out), "--json", "--no-progress")
    assert run.returncode == 0, run.stderr
    metrics = json.loads(run.stdout)
    records = [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]
    boxes = [r for r in records if r["box3d"] is not None]
    assert metrics["box3d_items"] == len(boxes) >= 8
    assert metrics["errors"] == 1
    assert "no such point-cloud file" in next(r for r in records if r["id"] == "gone")["error"]
    # The scorer's numbers, recomputed from the boxes the model found: the best-overlapping box counts.
    ious, distances = [], []
    for r in boxes:
        truth = Box3D(tuple(r["box3d"]["center"]), tuple(r["box3d"]["size"]), r["box3d"]["yaw"])
        found = [Box3D(tuple(b["center"]), tuple(b["size"]), b["yaw"]) for b in r["pred_boxes3d"]]
        best = max(found, key=lambda b: (iou_3d(b, truth), -centre_distance(b, truth)), default=None)
        ious.append(0.0 if best is None else iou_3d(best, truth))
        distances += [] if best is None else [centre_distance(best, truth)]
        assert all(b["label"] == r["prompt"] for b in r["pred_boxes3d"])
    assert metrics["box3d_mean_iou"] == pytest.approx(sum(ious) / len(ious))
    assert metrics["box3d_centre_distance"] == pytest.approx(sum(distances) / len(distances))
    assert metrics["box3d_accuracy"] == pytest.approx(sum(i >= 0.25 for i in ious) / len(ious))
    assert metrics["box3d_accuracy"] >= 0.7  # measured 0.82 on these four scenes (the bar: 0.80 on 30)
    # Per-family breakdown, as for image rows; `accuracy` leads and counts each row by its own rule.
    assert set(metrics["by_type"]) == {"box3d", "count"}
    assert metrics["by_type"]["box3d"]["accuracy"] == pytest.approx(metrics["box3d_accuracy"])
    counts = [r for r in records if r["kind"] == "count"]
    right = sum(r["error"] is None and r["prediction"].strip() == r["answers"][0] for r in counts)
    assert metrics["by_type"]["count"]["accuracy"] == pytest.approx(right / len(counts))
    assert list(metrics)[:2] == ["count", "accuracy"]
    assert "| box3d_mean_iou |" in (out / "report.md").read_text()
    # Resumed: every item is already predicted, the same metrics come back without asking the model again.
    again = vreason("eval", "--data", str(data), "--out", str(out), "--json", "--no-progress")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout) == metrics


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"cloud": "a.ply", "target": "red box"}, "'target' in a cloud row needs its true box as 'box3d'"),
        ({"cloud": "a.ply", "box3d": {"center": [0, 0, 0], "size": [1, 1, 1]}}, "names what to find as 'target'"),
        ({"cloud": "a.ply", "target": "x", "box3d": {"center": [0, 0], "size": [1, 1, 1]}}, "center must be 3"),
        ({"cloud": "a.ply", "target": "x", "box3d": {"centre": [0, 0, 0], "size": [1, 0, 1]}}, "must be positive"),
        ({"cloud": "a.ply", "question": "q", "views": "bev,below"}, "choose from bev, front, side, persp"),
        ({"cloud": "a.ply", "image": "a.png", "question": "q"}, "a cloud row takes no image"),
        ({"cloud": "a.ply"}, "a cloud row needs a 'question'"),
    ],
)
def test_bad_cloud_rows_are_one_line_errors(tmp_path, row, message):
    path = tmp_path / "rows.jsonl"
    path.write_text(json.dumps(row) + "\n")
    with pytest.raises(InvalidRequestError, match=message) as caught:
        load_dataset(str(path))
    assert str(caught.value).startswith(f"{path}:1: ")
    assert "\n" not in str(caught.value)


def test_cloud_rows_resolve_paths_and_views(tmp_path):
    path = tmp_path / "rows.jsonl"
    rows = [
        {"cloud": "s.ply", "question": "how many?", "answer": 2, "views": ["bev", "front"]},
        {"cloud": "s.ply", "target": "red box", "box3d": {"centre": [1, 2, 0.5], "size": [1, 1, 1], "yaw": 0.3}},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    ask, ground = load_dataset(str(path))
    assert ask.cloud == str(tmp_path / "s.ply")
    assert ask.views == ("bev", "front")
    assert ask.answers == ["2"]
    assert ground.question == "red box"
    assert ground.views == ("bev",)
    assert ground.box3d == {"center": [1.0, 2.0, 0.5], "size": [1.0, 1.0, 1.0], "yaw": 0.3, "label": "red box"}
