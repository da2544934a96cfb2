"""What a video input is once the media step has read it, and how a caller asks for it to be sampled.

Plain dataclasses, no torch, no decoder: the server, CLI, Python API and evaluation build a `VideoSampling`
from their options; the media step decodes a source under it into a `PreparedVideo` (frames with their real
presentation times); the engine turns that into the checkpoint's video inputs with `<t seconds>` markers
computed from those times. Every limit a caller can get wrong is checked here, once, with a message naming it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

from vreason.errors import InvalidRequestError, MediaError

# Qwen3-VL's video defaults (its video processor and qwen-vl-utils): 2 frames a second, frames taken in pairs
# (temporal patch 2), at least 4 and at most 768 frames.
DEFAULT_VIDEO_FPS = 2.0
DEFAULT_MIN_FRAMES = 4
DEFAULT_MAX_FRAMES = 768
TEMPORAL_PATCH = 2

VideoSource = str | Path | bytes | bytearray


class VideoError(MediaError):
    """A video input could not be read, decoded or sampled (named as a video: "video clip.mp4: has no video
    track"). A `MediaError`, so every surface that handles bad images handles it too."""

    def __init__(self, source: str, problem: str):
        super().__init__(source, problem)
        self.args = (f"video {source}: {problem}",)


SAMPLING_KEYS = ("fps", "num_frames", "min_frames", "max_frames", "start", "end", "max_pixels")


@dataclass(frozen=True)
class VideoSampling:
    """How to take frames from a clip. All fields may be given together: `fps` is lowered to fit `max_frames`
    (never an error), `num_frames` overrides `fps`, `start`/`end` cut the clip (seconds), `max_pixels` bounds
    the total pixels of all sampled frames (None: the checkpoint's video budget)."""

    fps: float | None = None  # None: DEFAULT_VIDEO_FPS
    num_frames: int | None = None
    min_frames: int | None = None
    max_frames: int | None = None
    start: float | None = None
    end: float | None = None
    max_pixels: int | None = None

    def __post_init__(self) -> None:
        for name in ("fps", "start", "end"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int | float) or not math.isfinite(value)):
                raise InvalidRequestError(f"video {name} must be a finite number of seconds, got {value!r}", param=name)
        if self.fps is not None and self.fps <= 0:
            raise InvalidRequestError(f"video fps ({self.fps}) must be > 0", param="fps")
        for name in ("num_frames", "min_frames", "max_frames", "max_pixels"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise InvalidRequestError(f"video {name} must be a whole number >= 1, got {value!r}", param=name)
        if self.start is not None and self.start < 0:
            raise InvalidRequestError(f"video start ({self.start}) must be >= 0 seconds", param="start")
        if self.start is not None and self.end is not None and self.end <= self.start:
            raise InvalidRequestError(f"video end ({self.end}) must be after start ({self.start})", param="end")
        if self.min_frames is not None and self.max_frames is not None and self.min_frames > self.max_frames:
            raise InvalidRequestError(
                f"video min_frames ({self.min_frames}) must be <= max_frames ({self.max_frames})", param="min_frames"
            )

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> VideoSampling:
        """Sampling options as the server and JSONL rows spell them; unknown keys are refused by name."""
        if not data:
            return cls()
        if not isinstance(data, dict):
            raise InvalidRequestError(f"video sampling options must be an object, got {data!r:.60}")
        unknown = sorted(set(data) - set(SAMPLING_KEYS))
        if unknown:
            raise InvalidRequestError(
                f"unknown video option(s) {', '.join(unknown)} (known: {', '.join(SAMPLING_KEYS)})", param=unknown[0]
            )
        return cls(**{k: v for k, v in data.items() if v is not None})

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None}

    @property
    def key(self) -> str:
        """Part of the vision-cache key: the same clip sampled another way is another entry."""
        return ";".join(f"{k}={v}" for k, v in sorted(self.to_dict().items()))


@dataclass(frozen=True)
class PreparedVideo:
    """Decoded, sampled frames of one clip. Frames are RGB uint8 (T, H, W, 3), all one size; `timestamps[i]` is
    frame i's presentation time in seconds from the start of the clip (not from `start`), increasing."""

    frames: np.ndarray
    timestamps: tuple[float, ...]
    label: str  # how error messages and traces name this input
    content_hash: str  # of the encoded source bytes (or of the frames for a frame list)
    sampling: VideoSampling = VideoSampling()
    duration_s: float | None = None  # of the whole clip, when the container says
    source_fps: float | None = None  # average frame rate of the stream, when known
    original_size: tuple[int, int] | None = None  # (width, height) before any resizing
    # Content keys the engine computed per preprocessing setting (as PreparedImage.content_keys).
    content_keys: dict = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.frames.ndim != 4 or self.frames.shape[-1] != 3 or self.frames.dtype != np.uint8:
            raise InvalidRequestError(
                f"{self.label}: frames must be uint8 (T, H, W, 3), got {self.frames.dtype} {tuple(self.frames.shape)}"
            )
        if len(self.timestamps) != self.frames.shape[0]:
            raise InvalidRequestError(
                f"{self.label}: {self.frames.shape[0]} frames but {len(self.timestamps)} timestamps"
            )
        if self.frames.shape[0] == 0:
            raise InvalidRequestError(f"{self.label}: the video has no frames in the requested range")
        if any(b < a for a, b in zip(self.timestamps, self.timestamps[1:], strict=False)):
            raise InvalidRequestError(f"{self.label}: frame timestamps must not decrease")

    @property
    def num_frames(self) -> int:
        return int(self.frames.shape[0])

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of the sampled frames."""
        return int(self.frames.shape[2]), int(self.frames.shape[1])
