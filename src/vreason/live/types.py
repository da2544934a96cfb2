"""What a live watch produces: plain dataclasses, no torch, no decoder.

`LiveFrame` is one frame a source delivered (RGB uint8, stream time in seconds since the source started,
wall-clock capture time). `WatchAnswer` is a question answered about one window (periodic, asked by the
caller, or a trigger's yes/no check); `WatchEvent` is a trigger that turned true. Both carry the window they
saw (stream times of its first and last frame) and serialise to one JSON object (`to_dict`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from vreason.errors import VReasonError


class SourceError(VReasonError):
    """A live source could not be opened or read (a clear, one-line reason); the CLI prints it as `error: ...`."""


@dataclass
class LiveFrame:
    seq: int  # order of acceptance into the window (0, 1, 2...): pairs (2k, 2k+1) are the model's patches
    image: np.ndarray  # (H, W, 3) uint8 at the window's frame size
    stream_time: float  # seconds since the source's first frame
    wall_time: float  # time.time() when the frame was captured (or arrived)


@dataclass
class WindowInfo:
    start: float  # stream time of the window's first frame
    end: float  # stream time of its newest frame
    frames: int
    new_frames: int  # frames no earlier window held
    wall_time_newest: float  # capture wall time of the newest frame


@dataclass
class WatchAnswer:
    kind: str  # "ask" (asked by the caller), "every" (periodic) or "check" (a trigger's yes/no question)
    question: str
    answer: str
    stream_time: float  # end of the window it saw
    wall_time: float  # when the answer arrived
    window: WindowInfo
    prefill_tokens: int = 0  # prompt tokens the model computed (not reused from the prefix cache)
    prompt_tokens: int = 0
    video_tokens: int = 0
    cached_patches: int = 0  # images and video frame pairs whose vision features came from the cache
    latency_s: float = 0.0  # from the capture of the window's newest frame to the answer
    trigger: str | None = None

    def to_dict(self) -> dict:
        return {"type": "answer", **asdict(self)}


@dataclass
class WatchEvent:
    trigger: str
    question: str
    answer: str
    stream_time: float  # newest frame of the window that made it fire
    wall_time: float
    window: WindowInfo
    latency_s: float
    frames: list[str] = field(default_factory=list)  # JPEG files of the frames it saw (when saving is on)

    def to_dict(self) -> dict:
        return {"type": "event", **asdict(self)}


@dataclass
class WatchStats:
    frames_seen: int = 0  # delivered by the source
    frames_sampled_out: int = 0  # skipped to keep the window's rate
    frames_dropped: int = 0  # left the window before any question saw them (slow consumer)
    windows_asked: int = 0
    questions: int = 0
    events: int = 0
    errors: int = 0  # questions that failed (the watch went on)
    latencies_s: list[float] = field(default_factory=list)
    prefill_tokens: list[int] = field(default_factory=list)

    def to_dict(self) -> dict:
        lat = sorted(self.latencies_s)
        pre = self.prefill_tokens
        return {
            "type": "summary",
            "frames_seen": self.frames_seen,
            "frames_sampled_out": self.frames_sampled_out,
            "frames_dropped": self.frames_dropped,
            "windows_asked": self.windows_asked,
            "questions": self.questions,
            "events": self.events,
            "errors": self.errors,
            "latency_p50_s": round(_quantile(lat, 0.5), 3),
            "latency_p99_s": round(_quantile(lat, 0.99), 3),
            "prefill_tokens_mean": round(sum(pre) / len(pre), 1) if pre else 0.0,
        }


def _quantile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    return values[min(len(values) - 1, int(q * len(values)))]
