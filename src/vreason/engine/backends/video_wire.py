"""Videos on their way to an OpenAI-compatible upstream, in the one form vLLM, SGLang and `vreason serve` all
accept: `{"type": "video_url", "video_url": {"url": "data:video/mp4;base64,..."}}`.

What travels is not the caller's file but the frames the media step sampled, at the size the local model would
see, re-encoded as a small H.264 MP4 whose presentation times are the frames' real times (variable gaps kept).
So an upstream never fetches anything on a caller's behalf, the caller's sampling options and pixel budget
hold on any upstream, and a 500 MB upload becomes a few hundred kB. Alongside it goes what keeps an upstream
from sampling again: `num_frames` inside `video_url` (vreason's option: exactly these frames) and, for vLLM,
`mm_processor_kwargs: {"fps": ...}` at the rate the frames were taken (re-sampling at that rate keeps them all).

Known losses: the MP4's first frame is at time 0 for most decoders, so a clip cut with `start` reaches the
upstream with times counted from the cut, not from the start of the original clip; and a vLLM server keeps
at most 32 frames of a clip unless started with `--media-io-kwargs '{"video": {"num_frames": -1}}'` (as
`vreason vllm-launch` starts it).

Encoded clips are remembered by content and sampling (every turn of a conversation about one clip sends it
again). No HTTP here; `openai_wire` calls it while building a request body.
"""

from __future__ import annotations

import base64
import io
from fractions import Fraction
from typing import Any

from vreason.engine.backends.image_cache import EncodedUriCache
from vreason.media.video_types import DEFAULT_VIDEO_FPS, TEMPORAL_PATCH, PreparedVideo

# x264's constant-quality 18 is visually lossless at a fraction of lossless size; ultrafast keeps encoding a
# minute of sampled frames well under the time the upstream takes to read them.
VIDEO_CRF = "18"
VIDEO_PRESET = "ultrafast"
TIME_BASE = Fraction(1, 1000)  # presentation times in milliseconds
DEFAULT_VIDEO_URI_CACHE_BYTES = 64 * 1024 * 1024


def sampled_fps(video: PreparedVideo) -> float:
    """The rate the frames were taken at: frames per second between the first and the last."""
    times = video.timestamps
    if len(times) < 2 or times[-1] <= times[0]:
        return video.sampling.fps or DEFAULT_VIDEO_FPS
    return (len(times) - 1) / (times[-1] - times[0])


def encode_mp4(video: PreparedVideo) -> bytes:
    """The sampled frames as H.264 in MP4 (yuv420p, so any decoder reads it), each at its own time."""
    import av

    frames = video.frames
    height, width = frames.shape[1] - frames.shape[1] % 2, frames.shape[2] - frames.shape[2] % 2
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=Fraction(sampled_fps(video)).limit_denominator(1000))
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.time_base = stream.codec_context.time_base = TIME_BASE  # the encoder's too, or it rounds to 1/rate
        stream.options = {"crf": VIDEO_CRF, "preset": VIDEO_PRESET}
        last = -1
        for pixels, seconds in zip(frames, video.timestamps, strict=True):
            frame = av.VideoFrame.from_ndarray(pixels[:height, :width], format="rgb24")
            pts = max(last + 1, round(seconds / TIME_BASE))  # strictly increasing, as MP4 requires
            frame.pts, frame.time_base, last = pts, TIME_BASE, pts
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return buffer.getvalue()


def video_data_uri(video: PreparedVideo) -> str:
    return "data:video/mp4;base64," + base64.b64encode(encode_mp4(video)).decode("ascii")


def video_tokens(video: PreparedVideo, factor: int) -> int:
    """Visual tokens the clip costs a Qwen3-VL upstream: a token per factor x factor pixels per frame pair."""
    width, height = video.size
    pairs = -(-video.num_frames // TEMPORAL_PATCH)
    return pairs * (width // factor) * (height // factor)


def video_wire_part(video: PreparedVideo, cache: VideoUriCache | None = None) -> dict[str, Any]:
    uri = cache.data_uri(video) if cache is not None else video_data_uri(video)
    return {"type": "video_url", "video_url": {"url": uri, "num_frames": video.num_frames}}


class VideoUriCache(EncodedUriCache):
    """(clip content, sampling, frame shape, frame times) -> its MP4 data URI, encoded once."""

    def __init__(self, max_bytes: int = DEFAULT_VIDEO_URI_CACHE_BYTES):
        super().__init__(max_bytes)

    def data_uri(self, video: PreparedVideo) -> str:
        key = (video.content_hash, video.sampling.key, video.frames.shape, video.timestamps)
        return self.fetch(key, lambda: video_data_uri(video))
