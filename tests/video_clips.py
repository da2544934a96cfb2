"""Real video files for tests, encoded in memory with PyAV: tiny H.264 MP4 clips whose colour changes at known
seconds (so "when" questions have a true answer), an audio-only MP4 (no video track) and a clip cut short.

    clip = h264_clip(seconds=2.0, fps=8, size=(64, 64), colours=[(220, 20, 20), (20, 20, 220)])
    # red for the first half, blue for the second; each frame's presentation time is i / fps
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from fractions import Fraction

import numpy as np

Colour = tuple[int, int, int]
RED, GREEN, BLUE = (220, 20, 20), (20, 200, 20), (20, 20, 220)


def h264_clip(
    seconds: float = 2.0,
    fps: int = 8,
    size: tuple[int, int] = (64, 64),
    colours: Sequence[Colour] = (RED, BLUE),
    container: str = "mp4",
) -> bytes:
    """An H.264 clip of `seconds` at `fps`, `size` (width, height), showing `colours` in equal spans, with a
    white square moving left to right (so frames differ within a span too)."""
    import av

    width, height = size
    frames = max(1, round(seconds * fps))
    buffer = io.BytesIO()
    with av.open(buffer, "w", format=container) as out:
        stream = out.add_stream("libx264", rate=Fraction(fps))
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"preset": "ultrafast", "tune": "zerolatency"}
        for i in range(frames):
            pixels = np.empty((height, width, 3), np.uint8)
            pixels[:] = colours[min(len(colours) - 1, i * len(colours) // frames)]
            x = (i * (width - 8)) // max(1, frames - 1)
            pixels[height // 2 - 4 : height // 2 + 4, x : x + 8] = 255
            frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
            frame.pts = i
            frame.time_base = Fraction(1, fps)
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return buffer.getvalue()


def audio_only_mp4(seconds: float = 1.0, rate: int = 16000) -> bytes:
    """An MP4 with one AAC audio track and no video track."""
    import av

    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4") as out:
        stream = out.add_stream("aac", rate=rate)
        samples = np.sin(np.linspace(0, 440 * 2 * np.pi * seconds, int(rate * seconds))).astype(np.float32)
        chunk = 1024
        for start in range(0, len(samples), chunk):
            frame = av.AudioFrame.from_ndarray(samples[None, start : start + chunk], format="fltp", layout="mono")
            frame.sample_rate = rate
            frame.pts = start
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return buffer.getvalue()


def truncated(data: bytes, keep: float = 0.4) -> bytes:
    """The first `keep` of an encoded file: a download cut short."""
    return data[: int(len(data) * keep)]
