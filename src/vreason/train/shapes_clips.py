"""Shapes-world clips: short H.264 videos of shapes that appear, disappear or move, with questions and exact
answers about what changes, when and which way, as the JSONL rows `vreason finetune` and evaluation read.

Same seed, same clips, same questions. A clip is 4-8 s of a near-white field with 1-3 shapes of distinct
colours (drawn with shapes_world's palette and `_draw`); one event per clip:
- appear: 1-3 shapes are absent before a whole second t and drawn from t on (frames with time >= t);
- disappear: one shape is drawn until a whole second t and absent from t on;
- move: one shape slides left, right, up or down by at least 35% of the frame, over all or part of the clip;
other shapes stay still as distractors.

"When" answers are the whole second the model is told: the `<t seconds>` marker (as engine/prompt.py prints
it, to one decimal, then floored) of the first temporal patch whose frames show the change, with frames
picked as the engine picks them (media/video_budget.py `plan_frames`) under `DEMO_VIDEO_BUDGET`. Event
seconds are only chosen where that equals the event's own second, so the answer is both what happened and
what the model can read. `lead(clip, s)` makes a clip the last part of a recording s seconds longer (rows
sample it from `Clip.start`): the same frames, every marker and "when" answer s later, as when a user asks
about a segment of a longer video. Training and held-out clips differ in frame size, source frame rate,
duration and speed (`TRAIN` / `HELD_OUT`); clips_eval.py writes and scores the held-out questions,
clips_train.py the training rows (with training-only questions under these).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from vreason.media.video_budget import VideoBudget, plan_frames
from vreason.media.video_types import VideoSampling
from vreason.train.shapes_questions import SHAPES
from vreason.train.shapes_world import PALETTE, _draw

DIRECTIONS = ("left", "right", "up", "down")
# The demo model's video processor (assets/demo-model/processor_config.json): 2 frames a second, 4 to 768
# frames. A clip of D seconds is D temporal patches, each `(8 x 8)` tokens at 256 px.
DEMO_VIDEO_BUDGET = VideoBudget()
MIN_MOVE = 0.35  # of the frame's width (or height): a clear move, above the 30% a person calls "moved"
CRF = 23


@dataclass(frozen=True)
class Split:
    """What clips of one split look like; held-out clips use sizes, rates, lengths and speeds training lacks."""

    sides: tuple[tuple[int, int], ...]  # (width, height), multiples of 32: the model sees them unresized
    fps: tuple[int, ...]  # source frame rates
    seconds: tuple[int, ...]  # durations
    move_share: tuple[float, float]  # the part of the clip a move takes (sets its speed)


_TRAIN_SIDES = (224, 256, 288)
TRAIN = Split(tuple((w, h) for w in _TRAIN_SIDES for h in _TRAIN_SIDES), (4, 5, 6), (4, 6, 8), (0.6, 1.0))
HELD_OUT = Split(((320, 320), (320, 256), (256, 320), (320, 288), (288, 320)), (7, 8), (5, 7), (0.35, 0.55))


@dataclass(frozen=True)
class Track:
    """One shape over the clip: where it is at each time and whether it is drawn."""

    kind: str
    color: str
    size: tuple[int, int]  # width, height of the box `_draw` fills
    start: tuple[int, int]  # top-left corner before the move (or always, when still)
    end: tuple[int, int]  # top-left corner after the move
    move: tuple[float, float] = (0.0, 0.0)  # seconds the move starts and ends
    shown: tuple[float, float] = (0.0, float("inf"))  # drawn for times in [shown[0], shown[1])

    @property
    def name(self) -> str:
        return f"{self.color} {self.kind}"

    def visible(self, t: float) -> bool:
        return self.shown[0] - 1e-9 <= t < self.shown[1] - 1e-9

    def corner(self, t: float) -> tuple[int, int]:
        t0, t1 = self.move
        a = 0.0 if t <= t0 else 1.0 if t >= t1 else (t - t0) / (t1 - t0)
        (x0, y0), (x1, y1) = self.start, self.end
        return round(x0 + a * (x1 - x0)), round(y0 + a * (y1 - y0))

    def box(self, t: float) -> tuple[int, int, int, int]:
        x, y = self.corner(t)
        return x, y, x + self.size[0], y + self.size[1]

    def swept(self) -> tuple[int, int, int, int]:
        """Every pixel the shape covers at some time (its box at the start and end and between)."""
        a, b = self.box(self.move[0]), self.box(self.move[1])
        return min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])


@dataclass
class Clip:
    width: int
    height: int
    fps: int
    seconds: int
    background: tuple[int, int, int]
    tracks: list[Track]
    qas: list[tuple[str, str, str]] = field(default_factory=list)  # (kind, question, answer)
    # Whole seconds of recording before the part the model is shown (`lead`): the file holds start + seconds,
    # its rows sample from `start` on, and the markers read the recording's time (`<7.2 seconds>`), as when a
    # user asks about a segment of a longer video
    start: int = 0

    @property
    def times(self) -> list[float]:
        """Frame times, as the media step reads them (microseconds), of the whole recording (`start` + `seconds`)
        and one frame past it: a clip of exactly 6 s would span 5.999999 s once rounded and be sampled a temporal
        patch short."""
        return [round(i / self.fps, 6) for i in range((self.start + self.seconds) * self.fps + 1)]

    @property
    def sampling(self) -> VideoSampling:
        """How its rows ask the media step for the part the model is shown."""
        return VideoSampling(start=float(self.start)) if self.start else VideoSampling()


def seen_times(clip: Clip, budget: VideoBudget = DEMO_VIDEO_BUDGET) -> list[float]:
    """Times of the frames the model takes from `clip` (an even count; two per `<t seconds>` marker)."""
    times = clip.times
    return [times[i] for i in plan_frames(times, clip.sampling, budget, budget.max_frames, "clip")]


def lead(clip: Clip, seconds: int) -> Clip:
    """`clip` as the last part of a recording `seconds` longer: shapes as at its first frame for the lead, every
    event and each "when" answer `seconds` later, the same frames shown (`Clip.start`)."""
    if clip.start or seconds < 0:
        raise ValueError(f"lead of {seconds} s on a clip that starts at {clip.start} s")

    def later(t: float) -> float:
        return t if t in (0.0, float("inf")) else t + seconds

    tracks = [replace(t, move=(t.move[0] + seconds, t.move[1] + seconds) if t.start != t.end else t.move,
                      shown=(later(t.shown[0]), later(t.shown[1]))) for t in clip.tracks]
    qas = [(kind, q, str(int(a) + seconds) if kind == "clip_when" else a) for kind, q, a in clip.qas]
    return replace(clip, tracks=tracks, qas=qas, start=seconds)


def marker_seconds(seen: list[float], temporal_patch: int = 2) -> list[int]:
    """Each temporal patch's marker as the model reads it (`<3.4 seconds>`: one decimal), floored."""
    pairs = range(0, len(seen), temporal_patch)
    return [int(float(f"{(seen[i] + seen[i + temporal_patch - 1]) / 2:.1f}")) for i in pairs]


def first_seen_second(clip: Clip, track: Track, budget: VideoBudget = DEMO_VIDEO_BUDGET) -> int | None:
    """The marker second of the first patch whose frames show `track` other than the clip's first frame does."""
    seen = seen_times(clip, budget)
    before = track.visible(seen[0])
    for j, t in enumerate(seen):
        if track.visible(t) != before:
            return marker_seconds(seen, budget.temporal_patch)[j // budget.temporal_patch]
    return None


class ClipWorld:
    def __init__(self, seed: int, split: Split = TRAIN, budget: VideoBudget = DEMO_VIDEO_BUDGET):
        self.seed = seed
        self.split = split
        self.budget = budget

    def clip(self, index: int, event: str) -> Clip:
        """Clip `index` of this world with one `event` ("appear": 1-3 shapes, "appear1": one, "disappear",
        "move", or "appear0": a count question's clip in which nothing appears), and its questions. "appear1+"
        and "disappear+" are "appear1" and "disappear" with 1-2 still shapes beside the one that changes (without
        the "+", a third of them have none, and naming the one shape on screen answers)."""
        rng = random.Random(f"{self.seed}:{index}:{event}")
        beside = event.endswith("+")
        event = event.removesuffix("+")
        width, height = rng.choice(self.split.sides)
        clip = Clip(width, height, rng.choice(self.split.fps), rng.choice(self.split.seconds),
                    tuple(rng.randint(225, 255) for _ in range(3)), [])
        colors = rng.sample(list(PALETTE), 3)
        short = min(width, height)
        extent = rng.randint(int(short * 0.18), int(short * 0.26))
        events = {"appear": rng.randint(1, 3), "appear1": 1, "disappear": 1, "move": 1}.get(event, 0)
        statics = rng.randint(min(int(beside), 3 - events), 3 - events) if events else rng.randint(1, 3)
        seconds = list(range(1, clip.seconds))
        aligned = [t for t in seconds if self._aligned(clip, t)]
        if not aligned:
            raise ValueError(f"no whole second of a {clip.seconds} s clip starts a temporal patch under {self.budget}")
        for i in range(events + statics):
            kind = rng.choice(SHAPES)
            size = (extent, extent) if kind in ("circle", "star", "hexagon") else (
                rng.randint(int(extent * 0.7), extent), rng.randint(int(extent * 0.7), extent))
            for _ in range(100):  # a place that overlaps no other shape's whole path
                track = self._track(rng, clip, kind, colors[i], size, event if i < events else "still", aligned)
                if not any(_overlaps(track.swept(), other.swept(), 4) for other in clip.tracks):
                    clip.tracks.append(track)
                    break
            else:
                if i < events:
                    raise AssertionError(f"no room for a {size} shape in a {width}x{height} clip")
        clip.qas = self._questions(rng, clip, event)
        return clip

    def _aligned(self, clip: Clip, t: int) -> bool:
        probe = Track("circle", "red", (1, 1), (0, 0), (0, 0), shown=(t, float("inf")))
        return first_seen_second(clip, probe, self.budget) == t

    def _track(self, rng: random.Random, clip: Clip, kind: str, color: str, size: tuple[int, int], role: str,
               aligned: list[int]) -> Track:
        w, h = clip.width, clip.height
        x, y = rng.randint(2, w - size[0] - 2), rng.randint(2, h - size[1] - 2)
        if role.startswith("appear"):
            return Track(kind, color, size, (x, y), (x, y), shown=(rng.choice(aligned), float("inf")))
        if role == "disappear":
            return Track(kind, color, size, (x, y), (x, y), shown=(0.0, rng.choice(aligned)))
        if role != "move":
            return Track(kind, color, size, (x, y), (x, y))
        direction = rng.choice(DIRECTIONS)
        horizontal = direction in ("left", "right")
        span, extent = (w, size[0]) if horizontal else (h, size[1])
        distance = rng.randint(round(span * MIN_MOVE), span - extent - 4)
        near = rng.randint(2, span - extent - 2 - distance)
        a, b = (near, near + distance) if direction in ("right", "down") else (near + distance, near)
        start, end = ((a, y), (b, y)) if horizontal else ((x, a), (x, b))
        share = rng.uniform(*self.split.move_share)
        t0 = rng.uniform(0, clip.seconds * (1 - share))
        return Track(kind, color, size, start, end, move=(t0, t0 + clip.seconds * share))

    def _questions(self, rng: random.Random, clip: Clip, event: str) -> list[tuple[str, str, str]]:
        moving = [t for t in clip.tracks if t.start != t.end]
        # shapes that appear: absent from the clip's first frame and drawn in a later one
        appearing = [t for t in clip.tracks if not t.visible(0.0)]
        leaving = [t for t in clip.tracks if t.visible(0.0) and not t.visible(clip.seconds)]
        qas = []
        if appearing or event == "appear0" or rng.random() < 0.5:  # fewer 0s: they would be half the counts
            qas.append(("clip_count", "how many shapes appear in the video?", str(len(appearing))))
        if len(appearing) == 1:
            qas.append(("clip_appear", "what color is the shape that appears?", appearing[0].color))
            qas.append(("clip_appear", "what shape appears?", appearing[0].kind))
        for t in appearing:
            qas.append(("clip_when", f"when does the {t.name} appear?", str(int(t.shown[0]))))
        for t in leaving:
            qas.append(("clip_disappear", "what color is the shape that disappears?", t.color))
            qas.append(("clip_when", f"when does the {t.name} disappear?", str(int(t.shown[1]))))
        for t in moving:
            qas.append(("clip_move", f"which direction does the {t.name} move?", _direction(t)))
        rng.shuffle(qas)
        return qas


def _direction(track: Track) -> str:
    dx, dy = track.end[0] - track.start[0], track.end[1] - track.start[1]
    if abs(dx) > abs(dy):
        return "right" if dx > 0 else "left"
    return "down" if dy > 0 else "up"


def _overlaps(a: tuple[int, int, int, int], b: tuple[int, int, int, int], margin: int) -> bool:
    return not (a[2] + margin < b[0] or b[2] + margin < a[0] or a[3] + margin < b[1] or b[3] + margin < a[1])


def render(clip: Clip) -> list[np.ndarray]:
    """The clip's frames, (height, width, 3) uint8 each; frame i is at i / fps seconds."""
    frames: list[np.ndarray] = []
    last_key = None
    for t in clip.times:
        key = tuple((tr.box(t) if tr.visible(t) else None) for tr in clip.tracks)
        if key == last_key:  # nothing moved or changed: the same picture again
            frames.append(frames[-1])
            continue
        frames.append(draw_frame(clip, t))
        last_key = key
    return frames


def draw_frame(clip: Clip, t: float) -> np.ndarray:
    """The clip's picture at time `t`, (height, width, 3) uint8: every shape drawn then, where it is then."""
    image = Image.new("RGB", (clip.width, clip.height), clip.background)
    draw = ImageDraw.Draw(image)
    for track in clip.tracks:
        if track.visible(t):
            _draw(draw, track.kind, track.box(t), PALETTE[track.color])
    return np.asarray(image)


def encode(clip: Clip, path: Path, crf: int = CRF) -> None:
    """H.264 (libx264, yuv420p) MP4, a key frame every two seconds, one thread (generators run side by side)."""
    import av

    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=Fraction(clip.fps))
        stream.width, stream.height, stream.pix_fmt = clip.width, clip.height, "yuv420p"
        stream.options = {"preset": "veryfast", "crf": str(crf), "g": str(2 * clip.fps), "threads": "1"}
        for i, pixels in enumerate(render(clip)):
            # converted to the encoder's yuv420p here, on one thread: left to the encoder, PyAV lets swscale pick
            # its thread count; once in a while (a CI run, and 1 of 60 tries here on a 2-core Xeon) the same clip then
            # came out with other bytes, though the cause was not pinned down
            frame = av.VideoFrame.from_ndarray(pixels, format="rgb24").reformat(format="yuv420p", threads=1)
            frame.pts, frame.time_base = i, Fraction(1, clip.fps)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))


def example_clip() -> Clip:
    """examples/moving_red_circle.mp4: 6 s at 6 fps, 256 px; a red circle moves right across the top half
    (from 0.5 s to 5.5 s) while a blue square stays still below it."""
    circle = Track("circle", "red", (56, 56), (16, 40), (184, 40), move=(0.5, 5.5))
    square = Track("rectangle", "blue", (48, 48), (104, 176), (104, 176))
    clip = Clip(256, 256, 6, 6, (245, 245, 240), [circle, square])
    clip.qas = [("clip_move", "which direction does the red circle move?", "right")]
    return clip
