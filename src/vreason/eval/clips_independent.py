"""Shapes-world clips drawn by independent code, used only for evaluation: the clip families of the built-in
model's card (what appears, what disappears, which way a shape moves, how many appear, when) asked about clips
it was not drawn from.

The training clips (vreason.train.shapes_clips) are PIL polygons in exact palette colours on a flat near-white
field, 224-320 px sides that are multiples of 32, 4-8 fps, H.264, moves at constant speed along one axis. These
are drawn frame by frame with the independent picture renderer's shapes (shapes_independent.py: anti-aliased
signed-distance shapes in its own shades of each colour, some bordered or only outlined, turned up to 15
degrees) on its tinted gradient backgrounds with a little sensor noise in every frame, at sides of 200-336 px
that are mostly not multiples of 32 (the engine resizes them), 4-10 s at 4-10 fps, as H.264 at another quality
or as MPEG-4 part 2; a move eases in and out and drifts a little off its axis. Up to 4 shapes of distinct
colours. It shares with the training data only the words of the questions and answers (copied as text) and
imports nothing from vreason.train.

Each clip has one event at a whole second t of its own clock: shapes shown from the first frame at or after t
(appear), one hidden from then on (disappear), or one moving (move). "When" answers are that second, scored as
the card scores the held-out clips (exact, and right within a second).

    write_independent_clips(out, per_kind, seed) -> out / "clips_eval.jsonl"   (rows as clips_eval writes them)
"""

from __future__ import annotations

import json
import math
import random
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path

import numpy as np

from vreason.eval.shapes_independent import (
    COLORS,
    SHAPES,
    STAR_INNER,
    STYLES,
    IndependentRenderer,
    outline,
    paint,
)

KINDS = ("clip_appear", "clip_disappear", "clip_when", "clip_move", "clip_count")
# the events whose clips ask each family (a count: half its clips have 1-3 shapes appear, half none)
_EVENTS = {"clip_appear": ("appear1",), "clip_disappear": ("disappear",), "clip_when": ("appear", "disappear"),
           "clip_move": ("move",), "clip_count": ("appear", "none", "appear", "disappear", "appear", "move")}
SIDES = ((240, 180), (200, 264), (304, 224), (336, 252), (256, 256), (280, 280), (224, 336), (320, 200))
FPS = (4, 5, 6, 8, 10)
SECONDS = (4, 5, 6, 7, 8, 9, 10)
MIN_MOVE = 0.4  # of the frame's width or height along the move's axis
MAX_DRIFT = 0.15  # off the axis, as a share of the move's length
NOISE = 2.0  # standard deviation of the per-frame sensor noise, in 0-255 levels
NOISE_FRAMES = 6  # noise patterns drawn per clip, one picked for each frame
GAP = 8  # pixels between the paths of two shapes
DIRECTIONS = {"left": (-1, 0), "right": (1, 0), "up": (0, -1), "down": (0, 1)}


@dataclass(frozen=True)
class Mover:
    """One shape over the clip: drawn for times in [shown[0], shown[1]), its centre easing from `start` to `end`
    over the seconds `move`."""

    kind: str
    color: str
    rgb: tuple[int, int, int]
    style: str
    radius: float
    aspect: float
    angle: float  # radians
    inner: float  # a star's inner radius share
    stroke: float
    start: tuple[float, float]
    end: tuple[float, float]
    move: tuple[float, float] = (0.0, 0.0)
    shown: tuple[float, float] = (0.0, math.inf)

    @property
    def name(self) -> str:
        return f"{self.color} {self.kind}"

    def visible(self, t: float) -> bool:
        return self.shown[0] - 1e-9 <= t < self.shown[1] - 1e-9

    def center(self, t: float) -> tuple[float, float]:
        t0, t1 = self.move
        a = 0.0 if t <= t0 else 1.0 if t >= t1 else (t - t0) / (t1 - t0)
        a = a * a * (3 - 2 * a)  # eased in and out
        return self.start[0] + a * (self.end[0] - self.start[0]), self.start[1] + a * (self.end[1] - self.start[1])

    def half_extent(self) -> tuple[float, float]:
        """Half the width and height of a box that holds the shape at any turn: its farthest vertex's distance."""
        if self.kind in ("rectangle", "triangle"):
            reach = math.hypot(self.radius, self.radius * self.aspect)
        else:
            reach = self.radius
        return reach + 1, reach + 1

    def path_box(self, margin: float = 0.0) -> tuple[float, float, float, float]:
        (x0, y0), (x1, y1) = self.start, self.end
        hx, hy = self.half_extent()
        hx, hy = hx + margin, hy + margin
        return min(x0, x1) - hx, min(y0, y1) - hy, max(x0, x1) + hx, max(y0, y1) + hy

    def draw(self, canvas: np.ndarray, t: float) -> None:
        cx, cy = self.center(t)
        polygon = outline(self.kind, cx, cy, self.radius, self.aspect, self.angle, self.inner)
        if polygon is None:
            box = (cx - self.radius, cy - self.radius, cx + self.radius, cy + self.radius)
        else:
            box = (polygon[:, 0].min(), polygon[:, 1].min(), polygon[:, 0].max(), polygon[:, 1].max())
        paint(canvas, box, polygon, (cx, cy, self.radius), self.style, self.rgb, self.stroke)


@dataclass
class IndependentClip:
    width: int
    height: int
    fps: int
    seconds: int
    codec: str  # "libx264" or "mpeg4"
    background: np.ndarray  # (H, W, 3) float
    movers: list[Mover] = field(default_factory=list)
    noise_seed: int = 0


class IndependentClipMaker:
    """Clips of one seed: the same seed and calls give the same clips."""

    def __init__(self, seed: int):
        self.rng = random.Random(seed)
        self.pictures = IndependentRenderer(seed + 7)  # its shades and backgrounds

    def clip(self, event: str) -> IndependentClip:
        """A clip with one `event`: "appear" (1-3 shapes), "appear1" (one), "disappear", "move" or "none"
        (nothing changes), beside 0-2 still shapes (at least one when nothing changes)."""
        rng = self.rng
        width, height = rng.choice(SIDES)
        seconds = rng.choice(SECONDS)
        clip = IndependentClip(width, height, rng.choice(FPS), seconds, rng.choice(("libx264", "libx264", "mpeg4")),
                               self.pictures.background(width, height), noise_seed=rng.randrange(2**31))
        changing = {"appear": rng.randint(1, 3), "appear1": 1, "disappear": 1, "move": 1}.get(event, 0)
        still = rng.randint(1 if changing == 0 else 0, min(2, 4 - changing))
        colors = rng.sample(COLORS, changing + still)
        for i, color in enumerate(colors):
            role = event.removesuffix("1") if i < changing else "still"
            for _ in range(200):
                mover = self._mover(clip, color, role)
                if not any(_overlap(mover.path_box(GAP / 2), other.path_box(GAP / 2)) for other in clip.movers):
                    clip.movers.append(mover)
                    break
            else:
                if i < changing:
                    return self.clip(event)  # no room for the changing shape: another clip
        return clip

    def _mover(self, clip: IndependentClip, color: str, role: str) -> Mover:
        rng = self.rng
        kind = rng.choice(SHAPES)
        extent = rng.uniform(0.16, 0.28) * min(clip.width, clip.height)
        aspect = 1.0 if kind in ("circle", "hexagon", "star") else rng.uniform(0.6, 1.0)
        if kind == "rectangle" and rng.random() < 0.5:
            aspect = 1 / aspect
        radius = extent / 2 / max(1.0, aspect)
        style = rng.choices([s for s, _ in STYLES], [w for _, w in STYLES])[0]
        stroke = max(3.0, 0.14 * extent) if style == "outline" else max(2.0, 0.07 * extent)
        angle = 0.0 if kind == "circle" else math.radians(rng.uniform(-15, 15))
        shape = Mover(kind, color, self.pictures.shade(color), style, radius, aspect, angle,
                      rng.uniform(*STAR_INNER), stroke, (0.0, 0.0), (0.0, 0.0))
        hx, hy = shape.half_extent()
        x, y = rng.uniform(hx + 2, clip.width - hx - 2), rng.uniform(hy + 2, clip.height - hy - 2)
        when = float(rng.randint(1, clip.seconds - 1))
        if role == "appear":
            return replace(shape, start=(x, y), end=(x, y), shown=(when, math.inf))
        if role == "disappear":
            return replace(shape, start=(x, y), end=(x, y), shown=(0.0, when))
        if role != "move":
            return replace(shape, start=(x, y), end=(x, y))
        direction = rng.choice(tuple(DIRECTIONS))
        dx, dy = DIRECTIONS[direction]
        span, half = (clip.width, hx) if dx else (clip.height, hy)
        room = span - 2 * half - 4
        length = rng.uniform(MIN_MOVE * span, max(MIN_MOVE * span, room))
        lead = rng.uniform(half + 2, half + 2 + max(0.0, room - length))
        drift = rng.uniform(-MAX_DRIFT, MAX_DRIFT) * length
        if dx:
            a, b = (lead, lead + length) if dx > 0 else (lead + length, lead)
            start, end = (a, y), (b, min(max(y + drift, hy + 2), clip.height - hy - 2))
        else:
            a, b = (lead, lead + length) if dy > 0 else (lead + length, lead)
            start, end = (x, a), (min(max(x + drift, hx + 2), clip.width - hx - 2), b)
        share = rng.uniform(0.4, 0.9)
        t0 = rng.uniform(0, clip.seconds * (1 - share))
        return replace(shape, start=start, end=end, move=(t0, t0 + clip.seconds * share))


def _overlap(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return not (a[2] < b[0] or b[2] < a[0] or a[3] < b[1] or b[3] < a[1])


def direction_of(mover: Mover) -> str:
    dx, dy = mover.end[0] - mover.start[0], mover.end[1] - mover.start[1]
    if abs(dx) > abs(dy):
        return "right" if dx > 0 else "left"
    return "down" if dy > 0 else "up"


def questions(clip: IndependentClip) -> list[tuple[str, str, str]]:
    """(kind, question, answer) for every family the clip answers; the training data's wordings."""
    appearing = [m for m in clip.movers if not m.visible(0.0)]
    leaving = [m for m in clip.movers if m.visible(0.0) and not m.visible(clip.seconds)]
    moving = [m for m in clip.movers if m.start != m.end]
    qas = [("clip_count", "how many shapes appear in the video?", str(len(appearing)))]
    if len(appearing) == 1:
        qas += [("clip_appear", "what color is the shape that appears?", appearing[0].color),
                ("clip_appear", "what shape appears?", appearing[0].kind)]
    qas += [("clip_when", f"when does the {m.name} appear?", str(int(m.shown[0]))) for m in appearing]
    for m in leaving:
        qas += [("clip_disappear", "what color is the shape that disappears?", m.color),
                ("clip_when", f"when does the {m.name} disappear?", str(int(m.shown[1])))]
    qas += [("clip_move", f"which direction does the {m.name} move?", direction_of(m)) for m in moving]
    return qas


def frames(clip: IndependentClip):
    """The clip's frames, (H, W, 3) uint8 each; frame i is at i / fps seconds. The shapes are drawn once for
    each distinct picture (a still stretch is one drawing), the noise drawn from a bank of frames."""
    noise = np.random.default_rng(clip.noise_seed)
    bank = [noise.normal(0.0, NOISE, clip.background.shape) for _ in range(NOISE_FRAMES)]
    fixed = [m for m in clip.movers if m.start == m.end and m.shown == (0.0, math.inf)]
    changing = [m for m in clip.movers if m not in fixed]
    still = clip.background.copy()
    for mover in fixed:
        mover.draw(still, 0.0)
    key = drawn = None
    for i in range(clip.seconds * clip.fps + 1):  # and one frame past the end: the clip lasts its whole seconds
        t = i / clip.fps
        now = tuple(m.center(t) if m.visible(t) else None for m in changing)
        if now != key:
            key, drawn = now, still.copy()
            for mover in changing:
                if mover.visible(t):
                    mover.draw(drawn, t)
        yield np.clip(np.round(drawn + bank[noise.integers(NOISE_FRAMES)]), 0, 255).astype(np.uint8)


def encode(clip: IndependentClip, path: Path) -> None:
    """MP4: H.264 at CRF 28 with a key frame every 4 s, or MPEG-4 part 2 at 400 kbit/s (other artefacts than the
    training clips' H.264 at CRF 23)."""
    import av

    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream(clip.codec, rate=Fraction(clip.fps))
        stream.width, stream.height, stream.pix_fmt = clip.width, clip.height, "yuv420p"
        if clip.codec == "libx264":
            stream.options = {"preset": "fast", "crf": "28", "g": str(4 * clip.fps), "threads": "1"}
        else:
            stream.bit_rate = 400_000
            stream.options = {"threads": "1"}
        for i, pixels in enumerate(frames(clip)):
            frame = av.VideoFrame.from_ndarray(pixels, format="rgb24").reformat(format="yuv420p", threads=1)
            frame.pts, frame.time_base = i, Fraction(1, clip.fps)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))


def write_independent_clips(out: Path, per_kind: int, seed: int, kinds: tuple[str, ...] = KINDS) -> Path:
    """`per_kind` single-question rows of each family in `kinds`, one clip each, into out/clips/ and
    out/clips_eval.jsonl (video, question, answer, kind, answer_type: the rows clips_eval.evaluate_clips scores);
    returns the JSONL's path."""
    if per_kind < 1:
        raise ValueError(f"per_kind ({per_kind}) must be at least 1")
    unknown = [k for k in kinds if k not in KINDS]
    if unknown:
        raise ValueError(f"unknown kinds {unknown}; known: {KINDS}")
    out = Path(out)
    (out / "clips").mkdir(parents=True, exist_ok=True)
    maker, rng = IndependentClipMaker(seed), random.Random(seed + 1)
    target = out / "clips_eval.jsonl"
    with target.open("w") as handle:
        for kind in kinds:
            written = index = 0
            while written < per_kind:
                events = _EVENTS[kind]
                clip = maker.clip(events[index % len(events)])
                index += 1
                qas = [qa for qa in questions(clip) if qa[0] == kind]
                if not qas:
                    continue
                _, question, answer = rng.choice(qas)
                name = f"clips/i{seed}_{kind}_{written:05d}.mp4"
                encode(clip, out / name)
                row = {"video": name, "question": question, "answer": answer, "kind": kind,
                       "answer_type": "time" if kind == "clip_when" else "exact"}
                handle.write(json.dumps(row) + "\n")
                written += 1
    return target
