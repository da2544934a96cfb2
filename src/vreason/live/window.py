"""The rolling window: the last N seconds of a live source, sampled at a set rate, as a video the engine takes.

Sources call `add` from their decoding thread (thread-safe); the watcher calls `snapshot` for the current
window as a `PreparedVideo` whose timestamps are the frames' real capture times, counted from the window's
first frame (`WindowInfo.start` says where that is in the stream).

Bounds, whatever the stream does:
- rate: one frame per slot of 1/fps seconds is kept, the others skipped (`sampled_out`) before conversion;
- time and count: frames older than `seconds` before the newest leave, and never more than `max_frames` stay;
- pixels: every frame is resized once, on arrival, to one size under the engine's video budget for a full
  window (`VideoBudget.frame_size`), so a window never holds more pixels than a clip of `max_frames` frames;
- a slow consumer: frames that leave before any snapshot included them are counted as `dropped`; nothing
  queues behind the window.

Frames leave in pairs (the first frame kept always has an even `seq`), so a frame pair that is one temporal
patch of the model in one window is the same patch in the next: what lets the engine reuse its features.
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from collections import deque
from collections.abc import Callable

import numpy as np
from PIL import Image

from vreason.live.types import LiveFrame, WindowInfo
from vreason.media.video_budget import VideoBudget
from vreason.media.video_types import PreparedVideo, VideoSampling

# A frame is kept when it is the first in a new slot of 1/fps seconds; the small slack keeps a source at
# exactly the window's rate (times like 0.49999) from being sampled out by rounding.
SLACK = 1e-3


class RollingWindow:
    def __init__(
        self,
        seconds: float = 30.0,
        fps: float = 2.0,
        max_frames: int | None = None,
        budget: VideoBudget | None = None,
        max_pixels: int | None = None,
        label: str = "live",
    ):
        if seconds <= 0 or fps <= 0:
            raise ValueError(f"window seconds ({seconds}) and fps ({fps}) must be > 0")
        self.seconds = float(seconds)
        self.fps = float(fps)
        self.budget = budget or VideoBudget()
        wanted = max(2, math.ceil(self.seconds * self.fps) + 1)
        self.max_frames = min(max_frames or wanted, self.budget.max_frames)
        self.max_frames += self.max_frames % 2  # whole pairs
        self.max_pixels = max_pixels
        self.label = label
        self.frame_size: tuple[int, int] | None = None  # (width, height), fixed by the first frame
        self.frames: deque[LiveFrame] = deque()
        self.seen = 0
        self.sampled_out = 0
        self.dropped = 0
        self.next_seq = 0
        self.snapshot_seq = -1  # the newest seq a snapshot has included
        self.on_frame: Callable[[], None] | None = None
        self._last_time: float | None = None
        self._lock = threading.Lock()
        self._id = f"{label}:{time.time_ns()}"

    def wants(self, stream_time: float) -> bool:
        """Whether a frame at `stream_time` would be kept (sources skip converting the others)."""
        last = self._last_time
        return last is None or _slot(stream_time, self.fps) > _slot(last, self.fps)

    def add(self, image: np.ndarray | Image.Image, stream_time: float, wall_time: float | None = None) -> bool:
        """Offer a frame; returns whether it was kept. Called from any thread."""
        with self._lock:
            self.seen += 1
            if not self.wants(stream_time):
                self.sampled_out += 1
                return False
            self._last_time = stream_time
        picture = image if isinstance(image, Image.Image) else Image.fromarray(np.asarray(image, np.uint8))
        picture = picture.convert("RGB")
        if self.frame_size is None:
            self.frame_size = self.budget.frame_size(self.max_frames, *picture.size, self.max_pixels)
        if picture.size != self.frame_size:
            picture = picture.resize(self.frame_size, Image.Resampling.BICUBIC)
        array = np.asarray(picture, np.uint8)
        with self._lock:
            frame = LiveFrame(self.next_seq, array, float(stream_time), wall_time or time.time())
            self.next_seq += 1
            self.frames.append(frame)
            self._evict()
        if self.on_frame is not None:
            self.on_frame()
        return True

    def _evict(self) -> None:
        newest = self.frames[-1].stream_time
        while len(self.frames) > 2 and (
            newest - self.frames[0].stream_time > self.seconds or len(self.frames) > self.max_frames
        ):
            for _ in range(2 if self.frames[0].seq % 2 == 0 else 1):  # a pair at a time
                gone = self.frames.popleft()
                if gone.seq > self.snapshot_seq:
                    self.dropped += 1

    @property
    def newest_seq(self) -> int:
        return self.next_seq - 1

    @property
    def newest_time(self) -> float:
        """Stream time of the newest frame kept (0 before the first)."""
        return self._last_time if self._last_time is not None else 0.0

    def __len__(self) -> int:
        return len(self.frames)

    def snapshot(self) -> tuple[PreparedVideo, WindowInfo, list[LiveFrame]] | None:
        """The current window as a video (None before the first frame). Marks its frames as seen."""
        with self._lock:
            frames = list(self.frames)
            if not frames:
                return None
            new = sum(1 for f in frames if f.seq > self.snapshot_seq)
            self.snapshot_seq = frames[-1].seq
        start = frames[0].stream_time
        times = tuple(round(f.stream_time - start, 4) for f in frames)
        digest = hashlib.blake2b(f"{self._id}:{frames[0].seq}:{frames[-1].seq}".encode(), digest_size=16)
        video = PreparedVideo(
            frames=np.stack([f.image for f in frames]),
            timestamps=times,
            label=f"{self.label} window {start:.1f}-{frames[-1].stream_time:.1f}s",
            content_hash=digest.hexdigest(),
            sampling=VideoSampling(fps=self.fps),
            duration_s=times[-1],
            source_fps=self.fps,
            original_size=self.frame_size,
        )
        info = WindowInfo(start, frames[-1].stream_time, len(frames), new, frames[-1].wall_time)
        return video, info, frames


def _slot(t: float, fps: float) -> int:
    return math.floor(t * fps + SLACK)
