"""`vreason ground3d` and `vreason ask3d` as users run them: the real command (its main(), in process), the built-in
demo model, the example scene on disk; bad input is one line on stderr and exit status 2 (before any model
loads). ask3d's request itself is tested over the Python API (test_spatial_api.py)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.cli_in_process import run_vreason
from vreason.spatial.boxes3d import Box3D, iou_3d

ROOT = Path(__file__).resolve().parents[2]
SCENE = ROOT / "examples" / "scene_red_box.ply"
TRUTH = json.loads((ROOT / "examples" / "scene_red_box.json").read_text())["objects"]


def vreason(*args: str) -> subprocess.CompletedProcess:
    return run_vreason(*args)  # the console script's main(), in this process (tests/cli_in_process.py)


@pytest.mark.slow
@pytest.mark.parametrize("command", ["ground3d", "ground"])  # `vreason ground` grounds a point cloud in 3D too
def test_ground3d_finds_the_red_box_and_writes_the_ply(tmp_path, command):
    from plyfile import PlyData

    out = tmp_path / "boxes.ply"
    run = vreason(command, str(SCENE), "red box", "--out", str(out), "--json")
    assert run.returncode == 0, run.stderr
    data = json.loads(run.stdout)
    truth = next(t for t in TRUTH if t["label"] == "red box")
    target = Box3D(tuple(truth["center"]), tuple(truth["size"]), truth["yaw"])
    boxes = [Box3D(tuple(b["center"]), tuple(b["size"]), b["yaw"]) for b in data["boxes"]]
    assert max(iou_3d(b, target) for b in boxes) >= 0.25  # the quality bar for one target
    assert all(b["label"] == "red box" and b["points"] > 0 for b in data["boxes"])
    ply = PlyData.read(str(out))
    assert len(ply["edge"].data) == 12 * len(boxes)
    annotated = Image.open(data["annotated"][0])
    assert annotated.size == tuple(data["views"][0]["size"])
    assert data["detections_2d"]["bev"], "the model's 2D boxes on the view are reported"


def test_bad_input_is_one_line(tmp_path):
    missing = vreason("ground3d", str(tmp_path / "none.ply"), "red box")
    assert missing.returncode == 2
    assert missing.stderr.strip().splitlines() == [f"error: {tmp_path / 'none.ply'}: no such point-cloud file"]
    tiled = vreason("ground", str(SCENE), "red box", "--tiles", "2x2")
    assert tiled.returncode == 2
    assert "ground3d" in tiled.stderr
    views = vreason("ask3d", str(SCENE), "how many?", "--views", "bev,below")
    assert views.returncode == 2
    assert "choose from bev, front, side, persp" in views.stderr
    Image.new("RGB", (8, 6)).save(tmp_path / "color.png")
    Image.fromarray(np.full((5, 8), 1000, dtype=np.uint16)).save(tmp_path / "depth.png")
    no_k = vreason("ask3d", str(tmp_path / "color.png"), "what is it?", "--depth", str(tmp_path / "depth.png"))
    assert no_k.returncode == 2
    assert "needs the camera intrinsics" in no_k.stderr
    mismatch = vreason(
        "ask3d",
        str(tmp_path / "color.png"),
        "what is it?",
        "--depth",
        str(tmp_path / "depth.png"),
        "--intrinsics",
        "4,4,4,3",
    )
    assert mismatch.returncode == 2
    assert "depth map is 8x5 but the image is 8x6" in mismatch.stderr
