"""The live stream session API over a real socket on the built-in demo model: a push session fed the frames of
a real H.264 clip (a red circle on screen from 3 s to 7 s), decoded with PyAV and sent as JPEG with their
capture times; its trigger fires once, read as server-sent events; a question about the current window;
status counters; close. A session on a file in the allowed media directory, played in real time to its end.
A reader that reconnects with Last-Event-ID gets the history. Refusals: a private-network or local source, an
unsupported scheme, bad settings, a frame that is not an image or is too large, frames pushed too fast
(counted), another user's stream (404; the server maps API keys to users), more streams than a user may hold
(429), a stream nobody reads (closed when idle). Errors are OpenAI's body.
"""

from __future__ import annotations

import io
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import av
import httpx
import pytest
from PIL import Image

from vreason.live.synthetic import Appearance, write_stream
from vreason.server.stream_sessions import StreamLimits

pytestmark = pytest.mark.slow  # the demo model behind a real server (~30 s for the file)

ALICE = {"Authorization": "Bearer sk-alice"}
ALICE_PHONE = {"Authorization": "Bearer sk-alice-phone"}  # another key of the same user
BOB = {"Authorization": "Bearer sk-bob"}
KEYS = (("sk-alice", "alice"), ("sk-alice-phone", "alice"), ("sk-bob", "bob"))
LIMITS = StreamLimits(max_per_owner=3, idle_timeout_s=2.0, max_frame_bytes=200_000, max_push_fps=12)


@pytest.fixture(scope="module")
def media_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("allowed-media")


@pytest.fixture(scope="module")
def server(media_dir) -> Iterator[tuple[str, object]]:
    from vreason import VReason
    from vreason.server import ServerSettings, create_app, server_media_policy
    from vreason.server.launch import BackgroundServer

    vr = VReason(media_policy=server_media_policy(allowed_local_dir=media_dir))
    app = create_app(vr.engine, ServerSettings(api_keys=KEYS))
    app.state.streams.limits = LIMITS
    running = BackgroundServer(app)
    try:
        yield running.url, app.state.streams
    finally:
        running.stop()
        vr.close()


@pytest.fixture(scope="module")
def frames(tmp_path_factory) -> list[tuple[float, bytes]]:
    """The clip's frames at 2 fps as (capture time, JPEG bytes): 10 s, the red circle from 3 s to 7 s."""
    clip = write_stream(
        tmp_path_factory.mktemp("stream") / "circle.mp4", [Appearance("circle", "red", 3.0, 7.0)], seconds=10, fps=8
    )
    out = []
    with av.open(str(clip)) as container:
        for frame in container.decode(video=0):
            if round(frame.time * 8) % 4 == 0:  # every fourth frame of 8 fps: 2 fps
                buffer = io.BytesIO()
                frame.to_image().save(buffer, "JPEG", quality=90)
                out.append((round(frame.time, 3), buffer.getvalue()))
    return out


def open_stream(url: str, headers=ALICE, **body) -> httpx.Response:
    return httpx.post(url + "/v1/vreason/streams", json=body, headers=headers, timeout=30)


def assert_error(response: httpx.Response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["code"] == code, error
    return error


class SSEReader:
    """Reads a stream's events on a thread: parsed (event name, id, data) as they arrive."""

    def __init__(self, url: str, headers: dict):
        self.items: list[tuple[str, int, dict]] = []
        self.status: int | None = None
        self.done = threading.Event()
        self._client = httpx.Client(timeout=httpx.Timeout(30, read=60))
        self._thread = threading.Thread(target=self._read, args=(url, headers), daemon=True)
        self._thread.start()

    def _read(self, url: str, headers: dict) -> None:
        try:
            with self._client.stream("GET", url, headers=headers) as response:
                self.status = response.status_code
                event, seq = "message", 0
                for line in response.iter_lines():
                    if line.startswith("event: "):
                        event = line[7:]
                    elif line.startswith("id: "):
                        seq = int(line[4:])
                    elif line.startswith("data: "):
                        self.items.append((event, seq, json.loads(line[6:])))
                        if event == "end":
                            return
        except httpx.HTTPError:
            pass
        finally:
            self.done.set()

    def named(self, name: str) -> list[dict]:
        return [data for event, _, data in self.items if event == name]

    def close(self) -> None:
        self._client.close()
        self.done.wait(5)


def test_push_frames_of_a_clip_and_a_trigger_fires_once_over_sse(server, frames):
    url, _ = server
    opened = open_stream(url, source=None, window_s=1, fps=2, triggers=["a red circle appears"])
    assert opened.status_code == 201, opened.text
    stream = opened.json()
    assert stream["mode"] == "push"
    assert stream["state"] == "running"
    base = f"{url}/v1/vreason/streams/{stream['id']}"
    reader = SSEReader(base + "/events", ALICE)
    try:
        time.sleep(0.3)  # the reader is subscribed before the first frame
        with httpx.Client(headers=ALICE, timeout=30) as client:
            for t, jpeg in frames:
                pushed = client.post(
                    base + "/frames", params={"t": t}, content=jpeg, headers={"Content-Type": "image/jpeg"}
                )
                assert pushed.status_code == 202, pushed.text
                time.sleep(0.25)  # about 4 frames a second of wall time: the demo model keeps up
            deadline = time.monotonic() + 15
            while client.get(base).json()["counters"]["frames_seen"] < len(frames) and time.monotonic() < deadline:
                time.sleep(0.1)
            time.sleep(1.0)  # the last window's checks
            status = client.get(base).json()
            answer = client.post(base + "/ask", json={"question": "what is in the picture?"})
            assert answer.status_code == 200, answer.text
        events = reader.named("event")
        checks = reader.named("check")
        assert len(events) == 1, (events, [(c["stream_time"], c["answer"]) for c in checks])
        event = events[0]
        assert event["trigger"] == "a red circle appears"
        assert 3.0 <= event["stream_time"] <= 7.5  # a window that holds the circle
        assert event["answer"].lower().startswith("yes")
        assert len(checks) >= 5
        assert all(c["question"] == "is there a red circle?" for c in checks)
        assert [c["stream_time"] for c in checks] == sorted(c["stream_time"] for c in checks)
        ids = [seq for _, seq, _ in reader.items]
        assert ids == sorted(ids)
        assert len(set(ids)) == len(ids)

        assert status["counters"]["frames_pushed"] == len(frames)
        assert status["counters"]["frames_seen"] == len(frames)
        assert status["counters"]["events"] == 1
        assert status["triggers"] == [
            {"condition": "a red circle appears", "question": "is there a red circle?", "active": False, "fired": 1}
        ]
        assert status["window"]["seconds"] == 1
        assert status["window"]["frames"] >= 2
        assert status["window"]["end"] == frames[-1][0]
        asked = answer.json()
        assert asked["kind"] == "ask"
        assert asked["question"] == "what is in the picture?"
        assert asked["answer"]
        assert asked["window"]["end"] == frames[-1][0]

        closed = httpx.delete(base, headers=ALICE)
        assert closed.status_code == 200
        assert closed.json()["state"] == "closed"
        assert reader.done.wait(10)  # the events stream ends with the session
        assert reader.named("end")[-1]["state"] == "closed"
        assert reader.named("answer")[-1]["question"] == "what is in the picture?"
        assert_error(httpx.get(base, headers=ALICE), 404, "stream_not_found")
    finally:
        reader.close()


def test_a_reader_that_reconnects_gets_what_it_missed(server, frames):
    url, _ = server
    stream = open_stream(url, window_s=1, fps=2, triggers=["a red circle appears"]).json()
    base = f"{url}/v1/vreason/streams/{stream['id']}"
    for t, jpeg in frames[:4]:
        httpx.post(base + "/frames", params={"t": t}, content=jpeg, headers=ALICE)
    deadline = time.monotonic() + 15
    while httpx.get(base, headers=ALICE).json()["counters"]["questions"] < 1 and time.monotonic() < deadline:
        time.sleep(0.1)
    reader = SSEReader(base + "/events", {**ALICE, "Last-Event-ID": "0"})  # it saw nothing yet
    try:
        deadline = time.monotonic() + 5
        while not reader.named("check") and time.monotonic() < deadline:
            time.sleep(0.05)
        assert reader.named("check")[0]["stream_time"] <= frames[3][0]  # from the history
        httpx.delete(base, headers=ALICE)
        assert reader.done.wait(10)
        assert reader.named("end")[-1]["state"] == "closed"
    finally:
        reader.close()


def test_a_file_under_the_allowed_directory_is_watched_in_real_time(server, media_dir):
    url, _ = server
    clip = write_stream(media_dir / "line.mp4", [Appearance("circle", "red", 1.0, 3.0)], seconds=3.5, fps=8)
    opened = open_stream(url, source=str(clip), window_s=1, fps=2, triggers=["a red circle appears"])
    assert opened.status_code == 201, opened.text
    stream = opened.json()
    assert stream["mode"] == "source"
    base = f"{url}/v1/vreason/streams/{stream['id']}"
    reader = SSEReader(base + "/events", {**ALICE, "Last-Event-ID": "0"})  # from the start, whenever it connects
    try:
        assert reader.done.wait(20)  # the file ends: so does the stream
        end = reader.named("end")[-1]
        assert end["state"] == "ended"
        assert end["frames_seen"] == 28  # every frame of the file, 24 of them sampled out of the window
        events = reader.named("event")
        assert len(events) == 1
        assert 1.0 <= events[0]["stream_time"] <= 3.0
        assert httpx.get(base, headers=ALICE).json()["state"] == "ended"
    finally:
        reader.close()
        httpx.delete(base, headers=ALICE)


def test_sources_the_media_policy_refuses_and_bad_settings_are_400(server):
    url, _ = server
    error = assert_error(open_stream(url, source="rtsp://127.0.0.1:8554/cam"), 400, "invalid_source")
    assert "private network" in error["message"]
    assert error["param"] == "source"
    assert (
        "private network"
        in assert_error(open_stream(url, source="http://10.1.2.3/mjpeg"), 400, "invalid_source")["message"]
    )
    outside = assert_error(open_stream(url, source="/etc/hosts"), 400, "invalid_source")["message"]
    assert "outside the allowed media directory" in outside
    assert (
        "not allowed" in assert_error(open_stream(url, source="udp://0.0.0.0:5000"), 400, "invalid_source")["message"]
    )
    assert (
        "not supported"
        in assert_error(open_stream(url, source="ftp://example.com/a"), 400, "invalid_source")["message"]
    )
    assert (
        "does not resolve"
        in assert_error(open_stream(url, source="rtsp://no-such-host.invalid/x"), 400, "invalid_source")["message"]
    )
    assert assert_error(open_stream(url, fps=50), 400, "invalid_value")["param"] == "fps"
    assert assert_error(open_stream(url, window_s=-1), 400, "invalid_value")["param"] == "window_s"
    assert_error(open_stream(url, triggers=[""]), 400, "invalid_value")
    assert_error(open_stream(url, surprise=1), 400, "invalid_value")
    assert_error(open_stream(url, check_every_s=1e308), 400, "invalid_value")
    lone = httpx.post(
        url + "/v1/vreason/streams",
        headers={**ALICE, "Content-Type": "application/json"},
        content='{"triggers": ["a \\ud800 appears"]}',
    )  # not valid Unicode: never echoed back
    assert assert_error(lone, 400, "invalid_value")["param"] == "triggers[0]"


def test_frames_that_are_not_images_too_large_or_too_fast_are_refused_and_counted(server, frames):
    url, _ = server
    stream = open_stream(url, window_s=1, fps=2).json()
    base = f"{url}/v1/vreason/streams/{stream['id']}"
    try:
        assert_error(httpx.post(base + "/frames", content=b"not an image", headers=ALICE), 400, "invalid_image")
        assert_error(httpx.post(base + "/frames", content=b"\xff" * 300_000, headers=ALICE), 413, "frame_too_large")
        big = io.BytesIO()
        Image.new("RGB", (5000, 4000)).save(big, "JPEG", quality=5)
        assert_error(httpx.post(base + "/frames", content=big.getvalue(), headers=ALICE), 413, "frame_too_large")
        assert_error(httpx.post(base + "/ask", json={"question": "what now?"}, headers=ALICE), 409, "no_frames")
        answers = []
        with httpx.Client(headers=ALICE) as client:
            for i in range(20):  # as fast as the socket goes: over 12 a second
                answers.append(client.post(base + "/frames", params={"t": i / 20}, content=frames[0][1]).status_code)
        assert answers.count(202) <= 12
        assert answers.count(429) >= 8
        counters = httpx.get(base, headers=ALICE).json()["counters"]
        assert counters["frames_refused"] == answers.count(429)
        assert counters["frames_pushed"] == answers.count(202)
    finally:
        httpx.delete(base, headers=ALICE)


def test_a_stream_belongs_to_the_user_whose_key_opened_it(server):
    url, registry = server
    stream = open_stream(url, window_s=1, fps=2).json()
    base = f"{url}/v1/vreason/streams/{stream['id']}"
    try:
        for method, path, kwargs in [
            ("GET", "", {}),
            ("GET", "/events", {}),
            ("POST", "/ask", {"json": {"question": "what now?"}}),
            ("POST", "/frames", {"content": b"x"}),
            ("DELETE", "", {}),
        ]:
            assert_error(httpx.request(method, base + path, headers=BOB, **kwargs), 404, "stream_not_found")
        assert httpx.get(base, headers=ALICE).status_code == 200  # still there for its owner
        assert httpx.get(base, headers=ALICE_PHONE).status_code == 200  # any key of hers
        assert_error(httpx.get(base, headers={"Authorization": "Bearer sk-nobody"}), 401, "invalid_api_key")
        held = [open_stream(url, window_s=1, fps=2) for _ in range(LIMITS.max_per_owner)]
        assert [r.status_code for r in held[:-1]] == [201] * (LIMITS.max_per_owner - 1)
        assert_error(held[-1], 429, "too_many_streams")
        assert open_stream(url, headers=BOB, window_s=1, fps=2).status_code == 201  # Bob has his own allowance
    finally:
        for stream_id in list(registry.sessions):
            for who in (ALICE, BOB):
                httpx.delete(f"{url}/v1/vreason/streams/{stream_id}", headers=who)


def test_a_stream_nobody_reads_is_closed_when_idle(server):
    url, registry = server
    stream = open_stream(url, headers=BOB, window_s=1, fps=2).json()
    assert stream["idle_timeout_s"] == LIMITS.idle_timeout_s
    deadline = time.monotonic() + LIMITS.idle_timeout_s + 3
    while stream["id"] in registry.sessions and time.monotonic() < deadline:
        time.sleep(0.2)
    assert stream["id"] not in registry.sessions
    assert_error(httpx.get(f"{url}/v1/vreason/streams/{stream['id']}", headers=BOB), 404, "stream_not_found")


def test_server_settings_set_the_stream_limits():
    from types import SimpleNamespace

    from vreason.server.stream_routes import stream_limits

    assert stream_limits(SimpleNamespace()) == StreamLimits()
    limits = stream_limits(SimpleNamespace(max_streams_per_user=1, max_streams=None, stream_idle_timeout_s=5.0))
    assert (limits.max_per_owner, limits.max_sessions, limits.idle_timeout_s) == (1, 32, 5.0)
