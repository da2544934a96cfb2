"""The Python surface of 3D questions over a real (tiny, random) Qwen3-VL: the views of a cloud go to the
engine as the images of one request, and 3D grounding runs end to end whatever the model answers."""

from __future__ import annotations

from vreason.spatial.questions import ask_3d, locate_3d
from vreason.spatial.scenes import make_scene


def test_views_are_the_images_of_one_request(vr):
    scene = make_scene(2, count=2, density=1500)
    one, _ = ask_3d(vr, scene.cloud, "how many shapes are there?", views=("bev",), size=64, max_new_tokens=4)
    two, views = ask_3d(vr, scene.cloud, "how many shapes are there?", views=("bev", "side"), size=64, max_new_tokens=4)
    assert [v.name for v in views] == ["bev", "side"]
    assert one.usage.image_tokens > 0
    assert two.usage.image_tokens > one.usage.image_tokens  # the second view travelled in the same request


def test_locate_3d_runs_end_to_end_on_any_answer(vr):
    scene = make_scene(4, count=2, density=1500)
    result = locate_3d(vr, scene.cloud, "red box", views=("bev", "front"), size=64, max_new_tokens=24)
    data = result.to_dict()
    assert [v["name"] for v in data["views"]] == ["bev", "front"]
    assert set(data["detections_2d"]) == {"bev", "front"}
    assert len(data["raw_outputs"]) == 2
    assert data["ground"] is not None
    for box in data["boxes"]:  # a random model may draw anything: whatever lifts is a well-formed box
        assert box["label"] == "red box"
        assert min(box["size"]) >= 0
