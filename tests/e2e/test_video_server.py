"""Video through the OpenAI-compatible server over a real socket, driven by the official `openai` client: clips by
http URL (a loopback test server the policy allows by name), by data URI and by file:// URL, sampling options
inside `video_url`, a video next to an image, streaming; and the inputs that must be refused with a 4xx
OpenAI-shaped error naming the content part (corrupt, cut short, no video track, too long, too large, a host the
policy refuses, unknown or bad options) while the server keeps serving.

Clips are real H.264 files encoded here with PyAV (64x64, 2 s); the model is the tiny random Qwen3-VL.
"""

from __future__ import annotations

import base64
import http.server
import socketserver
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import openai
import pytest

from tests.conftest import png_bytes
from tests.video_clips import audio_only_mp4, h264_clip, truncated

pytestmark = pytest.mark.slow  # ~30 requests through a model over a real socket

MODEL = "tiny-vl"
GREEDY = {"temperature": 0.0, "presence_penalty": 0.0, "max_tokens": 3}
MAX_SECONDS = 3.0  # the test server's clip duration limit
MAX_VIDEO_BYTES = 64 * 1024
CLIP = h264_clip(seconds=2.0, fps=8)
LONG_CLIP = h264_clip(seconds=4.0, fps=4)  # over MAX_SECONDS
WEBM = h264_clip(seconds=2.0, fps=8, container="matroska")


@dataclass
class Running:
    url: str
    client: openai.OpenAI
    media_base: str  # the loopback file server
    media_dir: Path


def _file_server(routes: dict[str, tuple[str, bytes]]) -> tuple[socketserver.TCPServer, str]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's naming)
            mime, body = routes.get(self.path, ("text/plain", b""))
            self.send_response(200 if self.path in routes else 404)
            self.send_header("Content-Type", mime)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


@pytest.fixture(scope="module")
def srv(tiny_model_dir, tmp_path_factory) -> Iterator[Running]:
    from vreason import VReason
    from vreason.server import ServerSettings, create_app, server_media_policy
    from vreason.server.launch import BackgroundServer

    media_dir = tmp_path_factory.mktemp("videos")
    (media_dir / "clip.mp4").write_bytes(CLIP)
    routes = {
        "/clip.mp4": ("video/mp4", CLIP),
        "/clip.mkv": ("video/x-matroska", WEBM),
        "/huge.mp4": ("video/mp4", CLIP * (MAX_VIDEO_BYTES // len(CLIP) + 2)),
    }
    files, base = _file_server(routes)
    # The loopback file server is allowed by name (private URLs are refused by default), and the video limits
    # are small so that a 4 s clip is too long and a 70 KB download too large.
    policy = server_media_policy(
        media_dir,
        allowed_domains=("127.0.0.1",),
        allow_private_urls=True,
        max_video_duration_s=MAX_SECONDS,
        max_video_bytes=MAX_VIDEO_BYTES,
    )
    vr = VReason(str(tiny_model_dir), media_policy=policy)
    server = BackgroundServer(create_app(vr.engine, ServerSettings(served_model_names=(MODEL,))))
    client = openai.OpenAI(base_url=server.url + "/v1", api_key="unused", max_retries=0)
    try:
        yield Running(server.url, client, base, media_dir)
    finally:
        client.close()
        server.stop()
        vr.close()
        files.shutdown()
        files.server_close()


def data_uri(data: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


def video(url: str, **options) -> dict:
    return {"type": "video_url", "video_url": {"url": url, **options}}


def ask(*parts: dict, text: str = "What happens?") -> list[dict]:
    return [{"role": "user", "content": [*parts, {"type": "text", "text": text}]}]


def test_a_clip_by_url_data_uri_and_file_is_the_same_clip(srv):
    by_url = srv.client.chat.completions.create(
        model=MODEL, messages=ask(video(f"{srv.media_base}/clip.mp4")), **GREEDY
    )
    by_data = srv.client.chat.completions.create(
        model=MODEL, messages=ask(video(data_uri(CLIP, "video/mp4"))), **GREEDY
    )
    by_file = srv.client.chat.completions.create(
        model=MODEL, messages=ask(video((srv.media_dir / "clip.mp4").as_uri())), **GREEDY
    )
    text_only = srv.client.chat.completions.create(model=MODEL, messages=ask(), **GREEDY)
    assert by_url.choices[0].message.content
    # the same bytes sampled the same way: the same prompt, so the same greedy answer
    assert by_url.usage.prompt_tokens == by_data.usage.prompt_tokens == by_file.usage.prompt_tokens
    assert by_url.choices[0].message.content == by_data.choices[0].message.content
    assert by_url.usage.prompt_tokens > text_only.usage.prompt_tokens + 8  # the frames are in the prompt


def test_matroska_by_url(srv):
    reply = srv.client.chat.completions.create(model=MODEL, messages=ask(video(f"{srv.media_base}/clip.mkv")), **GREEDY)
    assert reply.choices[0].finish_reason in ("stop", "length")


def test_sampling_options_inside_video_url_change_the_frames(srv):
    url = data_uri(CLIP, "video/mp4")

    def tokens(**options) -> int:
        reply = srv.client.chat.completions.create(model=MODEL, messages=ask(video(url, **options)), **GREEDY)
        return reply.usage.prompt_tokens

    default = tokens()  # 2 fps over 2 s: 4 frames
    more = tokens(num_frames=8)
    assert more > default
    assert tokens(fps=4) == more  # 4 fps over 2 s is 8 frames too
    assert tokens(fps=4, max_frames=4) == default  # fps lowered to fit max_frames, not an error
    assert tokens(fps=4, start=1.0) < more  # half the clip


def test_a_video_next_to_an_image(srv):
    clip = video(data_uri(CLIP, "video/mp4"))
    image = {"type": "image_url", "image_url": {"url": data_uri(png_bytes((64, 64)), "image/png")}}
    alone = srv.client.chat.completions.create(model=MODEL, messages=ask(clip), **GREEDY)
    mixed = srv.client.chat.completions.create(model=MODEL, messages=ask(image, clip), **GREEDY)
    assert mixed.usage.prompt_tokens > alone.usage.prompt_tokens
    assert mixed.choices[0].message.content


def test_streamed_video_answer_matches_the_plain_one(srv):
    messages = ask(video(f"{srv.media_base}/clip.mp4", fps=4))
    plain = srv.client.chat.completions.create(model=MODEL, messages=messages, **GREEDY)
    chunks = list(
        srv.client.chat.completions.create(
            model=MODEL, messages=messages, stream=True, stream_options={"include_usage": True}, **GREEDY
        )
    )
    assert chunks[0].choices[0].delta.role == "assistant"
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == plain.choices[0].message.content
    assert chunks[-1].usage.prompt_tokens == plain.usage.prompt_tokens


def _body(*parts: dict, **extra) -> dict:
    return {"model": MODEL, "messages": ask(*parts), "max_tokens": 2, **extra}


BAD = [
    ("corrupt", video(data_uri(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 8, "video/mp4")), "video"),
    ("cut short", video(data_uri(truncated(CLIP, 0.3), "video/mp4")), "video"),
    ("no video track", video(data_uri(audio_only_mp4(), "video/mp4")), "video"),
    ("too long", video(data_uri(LONG_CLIP, "video/mp4")), "3"),
    ("too large", video("{base}/huge.mp4"), ""),
    ("refused host", video("http://localhost:1/clip.mp4"), "allowed media domains"),
    ("missing file", video("{base}/nothing.mp4"), "404"),
    ("outside the allowed dir", video("file:///etc/hostname"), ""),
]


@pytest.mark.parametrize(("case", "part", "needle"), BAD, ids=[c[0] for c in BAD])
def test_unusable_videos_are_400_naming_the_part(srv, case, part, needle):
    part = {**part, "video_url": {**part["video_url"], "url": part["video_url"]["url"].format(base=srv.media_base)}}
    response = httpx.post(srv.url + "/v1/chat/completions", json=_body(part), timeout=60)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["param"] == "messages[0].content[0]"
    assert error["code"] == "invalid_video"
    assert needle in error["message"]
    assert "\n" not in error["message"]


BAD_OPTIONS = [
    ("misspelt option", video("https://example.com/a.mp4", max_frame=8), "unknown video_url key(s) max_frame"),
    ("option beside", {**video("https://example.com/a.mp4"), "fps": 2}, "sampling options go inside video_url"),
    ("zero fps", video("https://example.com/a.mp4", fps=0), "greater than 0"),
    ("true fps", video("https://example.com/a.mp4", fps=True), "must be a number"),
    ("end before start", video("https://example.com/a.mp4", start=5, end=2), "must be after start"),
    ("min over max", video("https://example.com/a.mp4", min_frames=9, max_frames=4), "min_frames"),
    ("bare path", video("/etc/passwd"), "must be an http(s) URL"),
    (
        "frames, times miscounted",
        {"type": "video", "video": ["https://example.com/a.png"], "timestamps": [0, 1]},
        "1 frames need as many timestamps",
    ),
    ("times for a clip", {"type": "video", "video": "https://example.com/a.mp4", "timestamps": [0]}, "list of frames"),
    ("no frames", {"type": "video", "video": []}, "empty list"),
    ("unknown video key", {"type": "video", "video": "https://example.com/a.mp4", "fps_max": 2}, "fps_max"),
]


@pytest.mark.parametrize(("case", "part", "needle"), BAD_OPTIONS, ids=[c[0] for c in BAD_OPTIONS])
def test_bad_video_options_are_400_before_anything_is_fetched(srv, case, part, needle):
    with pytest.raises(openai.BadRequestError) as caught:
        srv.client.chat.completions.create(model=MODEL, messages=ask(part), max_tokens=2)
    error = caught.value.body
    assert needle in error["message"], error
    assert error["code"] == "invalid_value"


def _png_uri(colour) -> str:
    return data_uri(png_bytes((64, 64), colour), "image/png")


def test_qwen_video_parts_take_a_clip_or_frames_with_their_times(srv):
    clip = srv.client.chat.completions.create(
        model=MODEL, messages=ask({"type": "video", "video": data_uri(CLIP, "video/mp4"), "fps": 4}), **GREEDY
    )
    same = srv.client.chat.completions.create(
        model=MODEL, messages=ask(video(data_uri(CLIP, "video/mp4"), fps=4)), **GREEDY
    )
    assert clip.usage.prompt_tokens == same.usage.prompt_tokens  # the two spellings of one request
    frames = [_png_uri((220, 20, 20)), _png_uri((20, 20, 220)), _png_uri((20, 200, 20)), _png_uri((9, 9, 9))]
    sampled = srv.client.chat.completions.create(
        model=MODEL, messages=ask({"type": "video", "video": frames, "timestamps": [0.0, 0.5, 4.0, 7.5]}), **GREEDY
    )
    text_only = srv.client.chat.completions.create(model=MODEL, messages=ask(), **GREEDY)
    assert sampled.usage.prompt_tokens > text_only.usage.prompt_tokens + 4
    assert sampled.choices[0].message.content


def test_a_bad_frame_in_a_frame_list_names_the_video_part(srv):
    frames = [_png_uri((220, 20, 20)), data_uri(b"not a picture" * 10, "image/png")]
    body = _body({"type": "text", "text": "look:"}, {"type": "video", "video": frames, "timestamps": [0.0, 1.0]})
    response = httpx.post(srv.url + "/v1/chat/completions", json=body, timeout=60)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["param"] == "messages[0].content[1]"
    assert error["code"] == "invalid_video"


def test_the_server_keeps_serving_after_bad_videos(srv):
    for _case, part, _needle in BAD[:4]:
        response = httpx.post(srv.url + "/v1/chat/completions", json=_body(part, stream=True), timeout=60)
        assert response.status_code == 400  # refused before the stream starts, not as an error chunk
    assert httpx.get(srv.url + "/health").json()["status"] == "ok"
    reply = srv.client.chat.completions.create(model=MODEL, messages=ask(video(data_uri(CLIP, "video/mp4"))), **GREEDY)
    assert reply.choices[0].message.content


def test_openapi_documents_video_url_and_its_options(srv):
    schemas = httpx.get(srv.url + "/openapi.json").json()["components"]["schemas"]
    options = schemas["VideoURL"]["properties"]
    assert set(options) == {"url", "fps", "num_frames", "min_frames", "max_frames", "start", "end", "max_pixels"}
    assert schemas["VideoURL"]["additionalProperties"] is False
    assert "default 2" in options["fps"]["description"]
    frames = schemas["VideoFramesContent"]["properties"]
    assert {"video", "timestamps", "fps", "max_frames"} <= set(frames)


def test_damaged_clips_are_answered_or_refused_never_a_server_error(srv):
    """Bytes flipped, cut or spliced anywhere in a real clip: a 200 (the decoder recovered) or a 400, never a 5xx."""
    rng = np.random.default_rng(7)
    for _ in range(12):
        data = bytearray(CLIP)
        kind = rng.integers(3)
        if kind == 0:
            for at in rng.integers(0, len(data), size=8):
                data[at] ^= 0xFF
        elif kind == 1:
            data = data[: rng.integers(16, len(data))]
        else:
            at = rng.integers(0, len(data) - 64)
            data[at : at + 64] = bytes(64)
        response = httpx.post(
            srv.url + "/v1/chat/completions", json=_body(video(data_uri(bytes(data), "video/mp4"))), timeout=60
        )
        assert response.status_code in (200, 400), response.text
        if response.status_code == 400:
            assert response.json()["error"]["code"] in ("invalid_video", "invalid_value")
    assert httpx.get(srv.url + "/health").json()["status"] == "ok"
