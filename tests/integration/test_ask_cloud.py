"""`vreason ask scene.ply QUESTION [--views ...]`: a point cloud among ask's inputs becomes its rendered views,
the images of the request, as `vreason ask3d` makes them. The real command (its main(), in process) with the built-in
demo model and the example scene; bad input is one line on stderr and exit status 2 before a model loads."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
from PIL import Image

from tests.cli_in_process import run_vreason
from vreason.cli.ask import is_cloud_source, rendered_views

ROOT = Path(__file__).resolve().parents[2]
SCENE = ROOT / "examples" / "scene_red_box.ply"
QUESTION = "How many shapes are there?"


def vreason(*args: str) -> subprocess.CompletedProcess:
    return run_vreason(*args)  # the console script's main(), in this process (tests/cli_in_process.py)


def test_a_cloud_is_asked_about_through_its_views():
    from vreason import VReason
    from vreason.spatial.questions import ask_3d
    from vreason.spatial.readers import read_cloud

    bev = vreason("ask", str(SCENE), QUESTION, "--json")
    assert bev.returncode == 0, bev.stderr
    bev_data = json.loads(bev.stdout)
    assert bev_data["answer"].strip().isdigit()  # the demo model counts shapes on the bird's-eye view
    # The same view as `vreason ask3d` sends (its Python surface), pixel for pixel, so the same image tokens.
    # (Not the same answer text: this scene's count sits where the demo model's top two logits nearly tie, and
    # the matmuls' thread count, or a prefix cached by an earlier request, flips it between 3 and 4.)
    answer, views = ask_3d(VReason(), read_cloud(SCENE), QUESTION, views=("bev",))
    assert answer.text.strip().isdigit()
    sent = rendered_views(str(SCENE), ("bev",))
    assert [v.name for v in sent] == [v.name for v in views] == ["bev"]
    assert np.array_equal(np.asarray(sent[0].image), np.asarray(views[0].image))
    assert bev_data["usage"]["image_tokens"] == answer.usage.image_tokens > 0
    assert bev_data["usage"]["prompt_tokens"] == answer.usage.prompt_tokens  # the same text around the view
    two = vreason("ask", str(SCENE), QUESTION, "--views", "bev,front", "--json")
    assert two.returncode == 0, two.stderr
    # Both views travelled as images of the one request.
    assert json.loads(two.stdout)["usage"]["image_tokens"] > bev_data["usage"]["image_tokens"]


def test_cloud_inputs_are_recognised_by_suffix(tmp_path):
    assert is_cloud_source("scan.PLY")
    assert is_cloud_source("a/b.pcd")
    assert is_cloud_source("x.laz")
    assert is_cloud_source("points.npy")
    assert is_cloud_source("s.xyzrgb")
    # .txt and .csv are too common to mean a cloud; URLs and data URIs go to the image/video readers.
    assert not is_cloud_source("notes.txt")
    assert not is_cloud_source("table.csv")
    assert not is_cloud_source("https://example.com/scan.ply")
    assert not is_cloud_source("photo.png")


def test_bad_cloud_input_is_one_line(tmp_path):
    bad = tmp_path / "broken.ply"
    bad.write_bytes(b"ply\nformat ascii 1.0\nelement vertex 3\nproperty float x\nend_header\n1\n")
    run = vreason("ask", str(bad), QUESTION)
    assert run.returncode == 2
    assert len(run.stderr.strip().splitlines()) == 1
    assert str(bad) in run.stderr
    views = vreason("ask", str(SCENE), QUESTION, "--views", "bev,below")
    assert views.returncode == 2
    assert "choose from bev, front, side, persp" in views.stderr
    image = tmp_path / "red.png"
    Image.new("RGB", (32, 32), (200, 30, 30)).save(image)
    no_cloud = vreason("ask", str(image), "what colour?", "--views", "front")
    assert no_cloud.returncode == 2
    assert no_cloud.stderr.strip() == "error: --views is for point-cloud inputs, and none of the inputs is one"
