"""A synthetic live scene with known truth: coloured shapes appearing and leaving at set times, written as a
real video file with PyAV (H.264 in MP4). What tests, demos and `benchmarks/live_bench.py` watch.

`Appearance(kind, color, start, end, box)` is one shape on screen from `start` to `end` (seconds); shapes are
drawn as the demo model learnt them (train/shapes_world.py) on a plain light background. `random_schedule`
makes a long stream's schedule (one shape of interest coming and going, distractors between).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from vreason.train.shapes_world import PALETTE, _draw


@dataclass(frozen=True)
class Appearance:
    kind: str  # circle, rectangle, triangle, star, hexagon
    color: str  # a shapes-world palette name
    start: float
    end: float
    box: tuple[int, int, int, int] = (40, 40, 140, 140)


def scene_at(t: float, schedule: Sequence[Appearance], size: int = 256) -> np.ndarray:
    image = Image.new("RGB", (size, size), (240, 240, 236))
    draw = ImageDraw.Draw(image)
    for shape in schedule:
        if shape.start <= t < shape.end:
            _draw(draw, shape.kind, shape.box, PALETTE[shape.color])
    return np.asarray(image)


def write_stream(
    path: str | Path, schedule: Sequence[Appearance], seconds: float, fps: int = 8, size: int = 256
) -> Path:
    """Encode `seconds` of the scene at `fps` (frame i at i/fps) into `path`."""
    import av

    path = Path(path)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width = stream.height = size
        stream.pix_fmt = "yuv420p"
        stream.codec_context.time_base = Fraction(1, fps)
        stream.options = {"preset": "veryfast", "crf": "20"}
        for i in range(round(seconds * fps)):
            frame = av.VideoFrame.from_ndarray(scene_at(i / fps, schedule, size), format="rgb24")
            frame.pts = i
            frame.time_base = Fraction(1, fps)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def random_schedule(
    seconds: float, kind: str = "circle", color: str = "red", seed: int = 0, on_s=(6.0, 14.0), off_s=(8.0, 16.0)
) -> list[Appearance]:
    """The shape of interest at the top left, on for `on_s` and off for `off_s` (random within the ranges),
    and a distractor (another colour and shape) at the bottom right coming and going on its own clock."""
    rng = random.Random(seed)
    schedule: list[Appearance] = []
    t = rng.uniform(*off_s)
    while t < seconds:
        length = rng.uniform(*on_s)
        end = round(min(t + length, seconds + 1), 2)
        schedule.append(Appearance(kind, color, round(t, 2), end, (24, 24, 120, 120)))
        t += length + rng.uniform(*off_s)
    t = rng.uniform(0, 5)
    others = [("rectangle", "blue"), ("triangle", "green"), ("hexagon", "orange")]
    while t < seconds:
        other_kind, other_color = rng.choice(others)
        length = rng.uniform(3, 10)
        schedule.append(Appearance(other_kind, other_color, round(t, 2), round(t + length, 2), (140, 140, 232, 232)))
        t += length + rng.uniform(2, 8)
    return schedule


def onsets(schedule: Sequence[Appearance], kind: str, color: str) -> list[float]:
    """The times the shape of interest appears (the truth an 'appears' trigger is scored against)."""
    return sorted(s.start for s in schedule if s.kind == kind and s.color == color)
