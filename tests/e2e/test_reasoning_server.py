"""The reasoning routes of `vreason serve` over a real socket, on the demo model (whose colour answers are known).

Images travel as data URIs, as a remote client sends them; errors come back in the server's one error shape.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from PIL import Image, ImageDraw

from tests.video_samples import circle_shown_clip
from vreason.train.shapes_world import PALETTE

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
EXACT = {"temperature": 0.0, "presence_penalty": 0.0}


def data_uri(image: Image.Image) -> str:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    from vreason import VReason
    from vreason.server import ServerSettings, create_app, server_media_policy
    from vreason.server.launch import BackgroundServer

    vr = VReason(media_policy=server_media_policy())
    running = BackgroundServer(create_app(vr.engine, ServerSettings()))
    try:
        yield running.url
    finally:
        running.stop()
        vr.close()


@pytest.fixture(scope="module")
def shapes() -> str:
    return data_uri(Image.open(ROOT / "examples" / "shapes.png"))


def test_reason_runs_a_chain(server, shapes):
    body = {"images": [shapes], "steps": ["What color is the shape?", "is there a {previous} shape?"],
            "max_tokens": 8, **EXACT}
    response = httpx.post(server + "/v1/vreason/reason", json=body, timeout=120)
    assert response.status_code == 200, response.text
    trace = response.json()
    assert trace["model"] == "vreason-demo"
    assert trace["steps"][0]["answer"] == "red"
    assert trace["steps"][1]["prompt"] == "is there a red shape?"
    assert trace["usage"]["prompt_tokens"] > 0


def test_tile_finds_the_small_shapes_and_ground_draws(server):
    canvas = Image.new("RGB", (1024, 1024), (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    draw.ellipse((100, 100, 200, 200), fill=PALETTE["red"])
    draw.rectangle((700, 650, 800, 750), fill=PALETTE["blue"])
    body = {"image": data_uri(canvas), "question": "What color is the shape?", "grid": "2x2", "max_tokens": 8,
            **EXACT}
    response = httpx.post(server + "/v1/vreason/tile", json=body, timeout=120)
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["grid"] == [2, 2]
    found = {f["answer"]: f["sources"] for f in result["findings"]}
    assert found["red"][0] == "r0c0"
    assert found["blue"][0] == "r1c1"

    body = {"image": data_uri(canvas), "target": "red circle", "annotate": True, "max_tokens": 40}
    response = httpx.post(server + "/v1/vreason/ground", json=body, timeout=120)
    assert response.status_code == 200, response.text
    grounded = response.json()
    assert grounded["image_size"] == [1024, 1024]
    for detection in grounded["detections"]:
        assert all(0 <= v <= 1024 for v in detection["bbox"])
    annotated = Image.open(io.BytesIO(base64.b64decode(grounded["annotated_image"].split(",", 1)[1])))
    assert annotated.size == (1024, 1024)


def test_errors_come_back_in_the_server_shape(server, shapes):
    response = httpx.post(server + "/v1/vreason/reason", json={"images": [shapes], "steps": ["q"], "vote": 99},
                          timeout=60)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["param"] == "vote"
    assert "vote (99) must be an integer from 1 to 16" in error["message"]
    local = httpx.post(server + "/v1/vreason/ground", json={"image": str(ROOT / "examples" / "shapes.png"),
                                                            "target": "circle"}, timeout=60)
    assert local.status_code == 400  # the server's media policy refuses local files
    assert local.json()["error"]["code"] == "invalid_image"


def test_when_places_the_changes_of_a_clip_sent_as_a_data_uri(server, tmp_path):
    clip = circle_shown_clip(tmp_path / "blue.mp4", (13, 29))  # 8 fps: shown from 1.625 s until 3.625 s
    video = "data:video/mp4;base64," + base64.b64encode(clip.read_bytes()).decode()
    body = {"video": video, "target": "blue shape", "every_s": 1.0}
    response = httpx.post(server + "/v1/vreason/when", json=body, timeout=120)
    assert response.status_code == 200, response.text
    found = response.json()
    assert found["spans"] == [{"start_s": 1.625, "end_s": 3.625}]
    assert found["question"] == "is there a blue shape in the image?"
    assert found["checks"][0] == {"time_s": 0.0, "frame_index": 0, "present": False, "answer": "no"}
    for bad, param, words in (
        ({**body, "question": "is it there?"}, "question", "{target}"),
        ({**body, "question": "{target} {a:x>2000000000}"}, "question", "only {target} and {a}"),
        ({**body, "every_s": 0}, "every_s", "greater than 0"),
        ({**body, "max_checks": 5000}, "max_checks", "1000"),
        ({**body, "video": str(clip)}, "video", "local"),  # the server's media policy: no local files
        ({**body, "video": "http://127.0.0.1:9/x.mp4"}, "video", "private"),  # nor private-network URLs
        ({**body, "video": "http://[::ffff:10.0.0.1]/x.mp4"}, "video", "private"),
    ):
        refused = httpx.post(server + "/v1/vreason/when", json=bad, timeout=60)
        assert refused.status_code == 400, refused.text
        error = refused.json()["error"]
        assert error["param"] == param, error
        assert words in error["message"].lower() or words in error["message"], error
        if param == "video":
            assert error["code"] == "invalid_video"
