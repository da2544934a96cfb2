"""Which frames of a clip the model sees, and at what size: Qwen3-VL's video arithmetic in one place. No torch.

`VideoBudget` holds a checkpoint's video bounds (read from its video processor by `from_processor`; the
defaults are the released Qwen3-VL ones, with the total capped for CPU as images are). `plan_frames` picks
frames from the presentation times of a clip's frames under a `VideoSampling`; `VideoBudget.frame_size` is
the size all sampled frames are decoded to. Both follow Qwen's reference (qwen-vl-utils `smart_nframes` /
`fetch_video`, transformers' `Qwen3VLVideoProcessor.resize` with `cap_pixels_per_frame=True`):

- frames: `duration * fps`, clamped to [min_frames, max_frames] and to the frames the range holds, floored to
  an even count (a temporal patch is two frames); `num_frames` replaces `duration * fps`. A `max_frames`
  below `duration * fps` lowers the rate (never an error). Times are spread evenly over the range and each
  takes the frame nearest to it, so variable-frame-rate clips are sampled evenly in time, not in frames.
- size: each frame gets at most `max_frame_tokens` tokens and the clip's share of the total budget, at least
  1.05x the minimum; both sides multiples of 32 (Qwen's `smart_resize` over time, height and width).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from vreason.errors import InvalidRequestError
from vreason.media.pixel_budget import FACTOR
from vreason.media.video_types import (
    DEFAULT_MAX_FRAMES,
    DEFAULT_MIN_FRAMES,
    DEFAULT_VIDEO_FPS,
    TEMPORAL_PATCH,
    VideoError,
    VideoSampling,
)

# Released Qwen3-VL video processors: at least 4096 and at most 25,165,824 pixels over the whole clip, at most
# 768 tokens a frame. The total is capped at 4096 video tokens here (a 30 s clip at 2 fps keeps ~136 tokens a
# frame), as image budgets are capped, so a clip stays affordable on CPU; raise it with max_pixels.
QWEN_VIDEO_MIN_PIXELS = 4096
QWEN_VIDEO_MAX_PIXELS = 25_165_824
DEFAULT_VIDEO_MAX_PIXELS = 4096 * FACTOR * FACTOR * TEMPORAL_PATCH
DEFAULT_MAX_FRAME_TOKENS = 768


@dataclass(frozen=True)
class VideoBudget:
    min_pixels: int = QWEN_VIDEO_MIN_PIXELS  # total over all frames
    max_pixels: int = DEFAULT_VIDEO_MAX_PIXELS  # total over all frames
    max_frame_tokens: int = DEFAULT_MAX_FRAME_TOKENS
    fps: float = DEFAULT_VIDEO_FPS
    min_frames: int = DEFAULT_MIN_FRAMES
    max_frames: int = DEFAULT_MAX_FRAMES
    factor: int = FACTOR
    temporal_patch: int = TEMPORAL_PATCH

    @classmethod
    def from_processor(cls, processor: object) -> VideoBudget:
        """The bounds a checkpoint's video processor declares, the total capped at DEFAULT_VIDEO_MAX_PIXELS."""
        video = getattr(processor, "video_processor", None)
        if video is None:
            return cls()
        size = getattr(video, "size", None) or {}
        size = size if isinstance(size, dict) else vars(size)
        low = int(size.get("shortest_edge") or QWEN_VIDEO_MIN_PIXELS)
        high = min(int(size.get("longest_edge") or QWEN_VIDEO_MAX_PIXELS), DEFAULT_VIDEO_MAX_PIXELS)
        return cls(
            min_pixels=low,
            max_pixels=max(low, high),
            max_frame_tokens=int(getattr(video, "max_video_tokens", None) or DEFAULT_MAX_FRAME_TOKENS),
            fps=float(getattr(video, "fps", None) or DEFAULT_VIDEO_FPS),
            min_frames=int(getattr(video, "min_frames", None) or DEFAULT_MIN_FRAMES),
            max_frames=int(getattr(video, "max_frames", None) or DEFAULT_MAX_FRAMES),
            factor=int(video.patch_size * video.merge_size) if hasattr(video, "patch_size") else FACTOR,
            temporal_patch=int(getattr(video, "temporal_patch_size", None) or TEMPORAL_PATCH),
        )

    def key(self) -> str:
        return f"{self.min_pixels}:{self.max_pixels}:{self.max_frame_tokens}:{self.factor}"

    def frame_size(self, num_frames: int, width: int, height: int, max_pixels: int | None = None) -> tuple[int, int]:
        """(width, height) every frame of a clip of `num_frames` sampled frames is resized to."""
        total = self.max_pixels if max_pixels is None else max(max_pixels, self.min_pixels)
        per_frame = max(min(self.max_frame_tokens * self.factor**2, total // num_frames), int(self.min_pixels * 1.05))
        height, width = _smart_resize(
            num_frames, height, width, self.temporal_patch, self.factor, self.min_pixels, per_frame * num_frames
        )
        return width, height

    def tokens(self, num_frames: int, width: int, height: int) -> int:
        """Visual tokens of `num_frames` frames already at (width, height)."""
        chunks = -(-num_frames // self.temporal_patch)
        return chunks * (width // self.factor) * (height // self.factor)


def _smart_resize(frames: int, height: int, width: int, temporal: int, factor: int, low: int, high: int):
    """transformers' Qwen3-VL video `smart_resize` (the same arithmetic; its aspect-ratio error is ours)."""
    if height < factor or width < factor:
        scale = max(factor / height, factor / width)
        height, width = int(height * scale), int(width * scale)
    h_bar = round(height / factor) * factor
    w_bar = round(width / factor) * factor
    t_bar = round(frames / temporal) * temporal
    if t_bar * h_bar * w_bar > high:
        beta = math.sqrt(frames * height * width / high)
        h_bar = max(factor, math.floor(height / beta / factor) * factor)
        w_bar = max(factor, math.floor(width / beta / factor) * factor)
    elif t_bar * h_bar * w_bar < low:
        beta = math.sqrt(low / (frames * height * width))
        h_bar = math.ceil(height * beta / factor) * factor
        w_bar = math.ceil(width * beta / factor) * factor
    return h_bar, w_bar


def plan_frames(
    times: Sequence[float],
    sampling: VideoSampling,
    budget: VideoBudget,
    max_frames_allowed: int,
    label: str,
    all_by_default: bool = False,
) -> list[int]:
    """Indices into `times` (increasing presentation times in seconds) of the frames to take, an even count
    (the last frame repeated when the range holds an odd number below two). `all_by_default`: a caller's own
    list of frames is taken whole unless fps/num_frames/max_frames say otherwise."""
    if not times:
        raise VideoError(label, "has no video frames")
    start = sampling.start or 0.0
    last = times[-1]
    if start > last:
        raise InvalidRequestError(
            f"{label}: video start ({start} s) is past the clip's last frame at {last:.2f} s", param="start"
        )
    end = math.inf if sampling.end is None else sampling.end
    inside = [i for i, t in enumerate(times) if start - 1e-6 <= t < end]
    if not inside:
        raise InvalidRequestError(f"{label}: no video frame between {start} s and {sampling.end} s", param="end")
    if sampling.num_frames is not None and sampling.num_frames > max_frames_allowed:
        raise InvalidRequestError(
            f"{label}: num_frames ({sampling.num_frames}) is over the limit of {max_frames_allowed} frames",
            param="num_frames",
        )
    ceiling = min(sampling.max_frames or budget.max_frames, max_frames_allowed)
    explicit = sampling.fps is not None or sampling.num_frames is not None or sampling.max_frames is not None
    if all_by_default and not explicit:
        if len(inside) > max_frames_allowed:
            raise InvalidRequestError(
                f"{label}: {len(inside)} frames is over the limit of {max_frames_allowed}; pass max_frames or fps",
                param="video",
            )
        wanted = len(inside)
    elif sampling.num_frames is not None:
        wanted = min(sampling.num_frames, ceiling)
    else:
        step = (times[inside[-1]] - times[inside[0]]) / max(len(inside) - 1, 1)
        span = times[inside[-1]] - times[inside[0]] + step  # the last frame lasts as long as the others
        fps = sampling.fps or budget.fps
        low = _ceil_even(sampling.min_frames or budget.min_frames)
        # rounded: times are whole microseconds, so a 6 s clip at 6 fps spans 5.9999996 s (10 frames, not 12)
        wanted = min(max(round(span * fps, 3), low), _floor_even(ceiling) or ceiling)
    wanted = max(1, min(int(wanted), len(inside)))
    if wanted >= 2 and not (all_by_default and not explicit):
        wanted = _floor_even(wanted)
    first, final = times[inside[0]], times[inside[-1]]
    picks: list[int] = []
    cursor = 0
    for k in range(wanted):
        target = first + (final - first) * (k / (wanted - 1) if wanted > 1 else 0.0)
        # the nearest frame after the previous pick that leaves a frame for each pick still to come
        last_allowed = len(inside) - (wanted - k)
        while cursor < last_allowed and _nearer(times[inside[cursor + 1]], times[inside[cursor]], target):
            cursor += 1
        picks.append(inside[cursor])
        cursor += 1
    if len(picks) % budget.temporal_patch:
        picks += [picks[-1]] * (budget.temporal_patch - len(picks) % budget.temporal_patch)
    return picks


def _nearer(a: float, b: float, target: float) -> bool:
    return abs(a - target) <= abs(b - target)


def _floor_even(n: float) -> int:
    return int(n // TEMPORAL_PATCH * TEMPORAL_PATCH)


def _ceil_even(n: float) -> int:
    return int(-(-n // TEMPORAL_PATCH) * TEMPORAL_PATCH)
