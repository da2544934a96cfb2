"""The evaluation report's example pictures for point-cloud rows: each row with a readable cloud is drawn as its
bird's-eye view, the true 3D box in green and the boxes found in red, through the view's camera. The clouds are
grey, so any green or red pixel in a picture is a drawn box."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageColor

from vreason.eval.report import GT_COLOUR, PRED_COLOUR, plot_examples, write_report
from vreason.scoring.records import PredictionRecord
from vreason.scoring.scorers import score_qa
from vreason.spatial.readers import PointCloud
from vreason.spatial.scenes import make_scene
from vreason.spatial.writers import write_cloud_ply


def grey_scene(folder: Path, seed: int) -> tuple[Path, dict]:
    scene = make_scene(seed, count=2, density=800)
    grey = np.full((len(scene.cloud), 3), 150, dtype=np.uint8)
    path = folder / f"scene{seed}.ply"
    write_cloud_ply(path, PointCloud(scene.cloud.points, grey))
    box = scene.objects[0].box
    return path, {"center": list(box.center), "size": list(box.size), "yaw": box.yaw, "label": "thing"}


def box_row(rid: str, cloud: Path, truth: dict, shift: float) -> PredictionRecord:
    found = {**truth, "center": [truth["center"][0] + shift, *truth["center"][1:]]}
    return PredictionRecord(id=rid, kind="box3d", images=[], prompt="thing", prediction="", cloud=str(cloud),
                            box3d=truth, pred_boxes3d=[found])


def question_row(rid: str, cloud: Path, prediction: str) -> PredictionRecord:
    return PredictionRecord(id=rid, kind="count", images=[], prompt="how many shapes are there?",
                            prediction=prediction, answers=["2"], cloud=str(cloud))


def colour_pixels(path: Path, colour: str, tolerance: float = 40.0) -> int:
    pixels = np.asarray(Image.open(path).convert("RGB"), dtype=np.float32)
    return int((np.linalg.norm(pixels - np.array(ImageColor.getrgb(colour)), axis=2) < tolerance).sum())


def test_a_cloud_eval_report_draws_every_cloud_row_with_its_boxes(tmp_path):
    a, truth_a = grey_scene(tmp_path, 3)
    b, truth_b = grey_scene(tmp_path, 4)
    records = [
        box_row("a-near", a, truth_a, shift=0.1),  # overlaps the truth: right
        box_row("b-far", b, truth_b, shift=1.2),  # misses (IoU 0), still on the view: wrong
        question_row("a-count", a, "2"),
        question_row("b-count", b, "5"),
        question_row("gone", tmp_path / "missing.ply", ""),  # no cloud to draw: left out of the pictures
    ]
    records[-1].error = f"{tmp_path / 'missing.ply'}: no such point-cloud file"
    result = score_qa(records)
    assert result.correct == [True, False, True, False, False]
    text = write_report(tmp_path, records, result, title="Evaluation: clouds").read_text()
    assert "![Examples answered right](examples_right.png)" in text
    assert "![Examples answered wrong](examples_wrong.png)" in text
    assert "Items shown: `a-near`, `a-count`" in text
    assert "Items shown: `b-far`, `b-count`" in text
    for name in ("examples_right.png", "examples_wrong.png"):
        assert colour_pixels(tmp_path / name, GT_COLOUR) > 50, name
        assert colour_pixels(tmp_path / name, PRED_COLOUR) > 50, name


def test_cloud_questions_alone_show_the_view_without_boxes(tmp_path):
    a, _ = grey_scene(tmp_path, 5)
    path = tmp_path / "right.png"
    assert plot_examples(path, [question_row("q", a, "2")], [True], want=True) == ["q"]
    assert colour_pixels(path, GT_COLOUR) == colour_pixels(path, PRED_COLOUR) == 0
    grey = colour_pixels(path, "#969696", tolerance=8)  # the cloud's own points, rendered
    assert grey > 2000
