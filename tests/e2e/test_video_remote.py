"""The remote backend forwards videos as `video_url` MP4 data URIs of the frames the media step sampled, each at
its real time: checked on the wire (the MP4 decoded again with PyAV) and end to end against `vreason serve`
on the tiny random Qwen3-VL over a real socket (the upstream builds the same prompt as the local engine)."""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator

import numpy as np
import pytest

from tests.video_clips import h264_clip
from vreason.engine.backends.openai_wire import encode_messages, request_body
from vreason.engine.backends.video_wire import VideoUriCache, sampled_fps
from vreason.engine.sampling import INSTRUCT_DEFAULTS
from vreason.engine.types import Message, TextPart, VideoPart
from vreason.media import PixelBudget
from vreason.media.video_types import PreparedVideo, VideoSampling

MODEL = "tiny-vl"
# Variable gaps, as a variable-frame-rate phone clip sampled at 2 fps gives them.
TIMES = (0.0, 0.5, 1.0, 1.6, 2.0, 2.5)


def _video() -> PreparedVideo:
    frames = np.zeros((len(TIMES), 64, 96, 3), np.uint8)
    for i in range(len(TIMES)):
        frames[i, :, :, 0] = 40 * i  # a different red each frame
        frames[i, 20:40, 10 * i : 10 * i + 20] = 255
    return PreparedVideo(frames, TIMES, "clip.mp4", "hash-1", VideoSampling(fps=2.0), duration_s=3.0)


def _decode(uri: str) -> tuple[np.ndarray, list[float]]:
    import av

    head, payload = uri.split(",", 1)
    assert head == "data:video/mp4;base64"
    with av.open(io.BytesIO(base64.b64decode(payload))) as container:
        decoded = list(container.decode(video=0))
    return np.stack([f.to_ndarray(format="rgb24") for f in decoded]), [float(f.time) for f in decoded]


def test_the_wire_carries_the_sampled_frames_at_their_times():
    video = _video()
    cache = VideoUriCache()
    message = Message("user", [VideoPart(video), TextPart("When does the square reach the middle?")])
    wire = encode_messages([message], PixelBudget(), video_cache=cache)
    part = wire.messages[0]["content"][0]
    assert part["type"] == "video_url"
    assert part["video_url"]["num_frames"] == len(TIMES)  # vreason upstreams take exactly these frames
    frames, times = _decode(part["video_url"]["url"])
    assert frames.shape == video.frames.shape
    assert times == pytest.approx(TIMES, abs=1e-3)
    assert np.abs(frames.astype(int) - video.frames.astype(int)).mean() < 4  # x264 at CRF 18
    assert wire.image_tokens == wire.video_tokens == 3 * (96 // 32) * (64 // 32)  # 3 frame pairs of 3x2 tokens
    body = request_body("m", wire, INSTRUCT_DEFAULTS)
    assert body["mm_processor_kwargs"] == {"fps": pytest.approx(sampled_fps(video))}  # vLLM keeps every frame

    again = encode_messages([message], PixelBudget(), video_cache=cache)
    assert again.messages == wire.messages
    assert (cache.hits, cache.misses) == (1, 1)  # a follow-up turn does not encode the clip again
    assert again.affinity_key == wire.affinity_key


def test_a_request_without_video_has_no_processor_kwargs():
    wire = encode_messages([Message("user", [TextPart("hi")])], PixelBudget())
    assert wire.messages == [{"role": "user", "content": "hi"}]
    assert "mm_processor_kwargs" not in request_body("m", wire, INSTRUCT_DEFAULTS)


@pytest.fixture(scope="module")
def upstream(tiny_model_dir) -> Iterator[str]:
    from vreason import VReason
    from vreason.server import ServerSettings, create_app
    from vreason.server.launch import BackgroundServer

    vr = VReason(str(tiny_model_dir))
    server = BackgroundServer(create_app(vr.engine, ServerSettings(served_model_names=(MODEL,))))
    try:
        yield server.url
    finally:
        server.stop()
        vr.close()


@pytest.mark.slow  # two engines on the tiny model, one behind a real socket
def test_remote_engine_sends_video_to_vreason_serve(upstream, tiny_model_dir, vr):
    from vreason import VReason
    from vreason.engine.backends import RemoteEngine

    clip = h264_clip(seconds=2.0, fps=8)
    messages = [Message("user", [VideoPart(clip, {"fps": 4}), TextPart("What happens?")])]
    # clips sized as the upstream's checkpoint takes them (a released Qwen3-VL's are the default)
    remote = VReason(engine=RemoteEngine(upstream, model=MODEL, video_budget=vr.engine.video_budget))
    try:
        answer = remote.chat(messages, max_new_tokens=3, temperature=0.0)
        local = vr.chat(messages, max_new_tokens=3, temperature=0.0)
        # the upstream saw the same frames and times as the local engine: the same prompt, token for token
        assert answer.usage.prompt_tokens == local.usage.prompt_tokens
        assert answer.usage.image_tokens == answer.usage.video_tokens == local.usage.video_tokens
        followup = remote.chat(messages, max_new_tokens=3, temperature=0.0)
        assert followup.usage.prompt_tokens == answer.usage.prompt_tokens
        assert remote.engine.video_cache.hits >= 1
    finally:
        remote.close()
