"""Small real video files for tests, encoded with PyAV (libx264, VP9, GIF...): a moving bar whose position and
colour tell which frame (and so which time) a decoded picture came from.

`frame_picture(i, w, h)` is frame i's content; `make_clip` writes `frames` such pictures at `fps` (or at the
given `times`, for variable frame rates) into any container FFmpeg writes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from fractions import Fraction
from pathlib import Path

import av
import numpy as np


def frame_picture(index: int, width: int, height: int) -> np.ndarray:
    """Frame `index`: a horizontal gradient, a white bar that moves right 4 px a frame, green = 7 * index."""
    xx = np.arange(width)[None, :].repeat(height, 0)
    picture = np.zeros((height, width, 3), np.uint8)
    picture[..., 0] = xx * 255 // max(width - 1, 1)
    picture[..., 1] = (index * 7) % 256
    picture[..., 2] = ((xx + index * 4) % width < max(width // 8, 1)) * 255
    return picture


def make_clip(
    path: Path,
    width: int = 96,
    height: int = 64,
    frames: int = 30,
    fps: int = 10,
    codec: str = "libx264",
    times: Sequence[float] | None = None,
    gop: int | None = None,
    picture: Callable[[int, int, int], np.ndarray] = frame_picture,
) -> Path:
    """Encode a clip of `picture(i, width, height)` frames; `times` (seconds, increasing) gives each frame its
    own presentation time (VFR)."""
    container = av.open(str(path), "w")
    stream = container.add_stream(codec, rate=fps)
    stream.width, stream.height = width, height
    stream.pix_fmt = "rgb8" if codec == "gif" else "yuv420p"
    if gop is not None:
        stream.codec_context.gop_size = gop
    base = Fraction(1, 1000)
    if times is not None:
        stream.codec_context.time_base = base
    for i in range(frames):
        frame = av.VideoFrame.from_ndarray(picture(i, width, height), format="rgb24")
        if times is not None:
            frame.pts = round(times[i] * 1000)
            frame.time_base = base
        for packet in stream.encode(frame):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)
    container.close()
    return path


def make_audio_only(path: Path, seconds: float = 1.0) -> Path:
    """A file with one audio track and no video (AAC in MP4)."""
    container = av.open(str(path), "w")
    stream = container.add_stream("aac", rate=16000)
    samples = int(16000 * seconds)
    for start in range(0, samples, 1024):
        n = min(1024, samples - start)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, n), np.float32), format="fltp", layout="mono")
        frame.sample_rate = 16000
        frame.pts = start
        for packet in stream.encode(frame):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)
    container.close()
    return path


def circle_shown_clip(
    path: Path, shown: tuple[int, int], frames: int = 40, fps: int = 8, times: Sequence[float] | None = None
) -> Path:
    """A 224 x 224 clip of a near-white field where frames [shown[0], shown[1]) also show a blue circle (`times`:
    each frame's own, as `make_clip` takes them)."""
    from PIL import Image, ImageDraw

    def picture(index: int, width: int, height: int) -> np.ndarray:
        frame = Image.new("RGB", (width, height), (250, 250, 250))
        if shown[0] <= index < shown[1]:
            ImageDraw.Draw(frame).ellipse((70, 60, 150, 140), fill=(0, 0, 255))
        return np.asarray(frame)

    return make_clip(path, width=224, height=224, frames=frames, fps=fps, times=times, picture=picture)
