"""The built-in model's 3D evaluation (train/scenes3d_eval.py): every scene asks how many, the colour of each
object whose silhouette is its own and grounds each uniquely named object, on either generator; the summary's
shares are of those rows."""

from __future__ import annotations

import pytest

from vreason import VReason
from vreason.spatial.scenes import SILHOUETTES
from vreason.train.scenes3d_eval import evaluate_scenes, scene_for, summarize


@pytest.fixture(scope="module")
def vr():
    engine = VReason()
    yield engine
    engine.close()


@pytest.mark.parametrize("generator", ["scenes", "independent"])
def test_each_scene_gets_its_questions(vr, generator):
    rows = evaluate_scenes(vr, 2, generator, first_seed=7000)
    for seed in (7000, 7001):
        scene = scene_for(generator, seed)
        mine = [r for r in rows if r["seed"] == seed]
        assert all(r["occlusion"] == (seed % 2 == 1) for r in mine)
        (count,) = [r for r in mine if r["kind"] == "count"]
        assert count["expected"] == str(len(scene.objects))
        assert count["ok"] == (count["answer"] == count["expected"])
        seen = [SILHOUETTES["bev"][o.kind] for o in scene.objects]
        colors = [r["expected"] for r in mine if r["kind"] == "color"]
        assert colors == [o.color for o, s in zip(scene.objects, seen, strict=True) if seen.count(s) == 1]
        names = [f"{o.color} {s}" for o, s in zip(scene.objects, seen, strict=True)]
        boxes = [r for r in mine if r["kind"] == "box3d"]
        assert [r["target"] for r in boxes] == [o.name for o, n in zip(scene.objects, names, strict=True)
                                                if names.count(n) == 1]
        assert all(r["ok"] == (r["iou"] >= 0.25) for r in boxes)
    summary = summarize(rows)
    for kind, entry in summary.items():
        items = [r for r in rows if r["kind"] == kind]
        assert entry["count"] == len(items)
        assert entry["exact_match"] == pytest.approx(sum(r["ok"] for r in items) / len(items))


def test_an_unknown_generator_is_refused():
    with pytest.raises(ValueError, match="unknown 3D scene generator 'lidar'"):
        scene_for("lidar", 1)
