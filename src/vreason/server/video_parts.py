"""Video content parts of the Chat Completions wire format (pydantic, HTTP boundary only).

Two spellings, each with its sampling options beside the clip, where they belong to it (one request may carry
several clips sampled differently):

- `{"type": "video_url", "video_url": {"url": ..., "fps": 2, "max_frames": 64, ...}}`, as vLLM and SGLang
  take a clip (options inside `video_url`: vreason's extension);
- `{"type": "video", "video": URL_OR_FRAMES, "timestamps": [...], "fps": ...}`, Qwen's own form: a clip, or a
  list of frames (image URLs or data URIs) with each frame's time in seconds, so frames a client sampled itself
  keep their true times (without `timestamps`, 2 frames a second).

Options are `VideoSampling`'s (fps, num_frames, min_frames, max_frames, start, end, max_pixels), all usable
together and checked here with the values in the message; an unknown key, or an option placed beside
`video_url` instead of inside it, is a 400 naming it, so a misspelt `max_frame` never silently samples the
default way. Each model converts itself to the engine's `VideoPart` with `to_part()`.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from vreason.engine.types import VideoPart
from vreason.errors import VReasonError
from vreason.media.video_types import SAMPLING_KEYS, VideoSampling

IMAGE_URL_SCHEMES = ("http://", "https://", "data:", "file://")
MAX_FRAME_LIST = 4096  # frames in one `video` list; the media policy's frame limit applies after sampling


def _checked_url(url: str, field: str) -> str:
    if not url.strip().lower().startswith(IMAGE_URL_SCHEMES):
        shown = url if len(url) <= 60 else url[:60] + "..."
        raise ValueError(f"{field} {shown!r} must be an http(s) URL, a data: URI or a file:// URL")
    return url.strip()


class VideoOptions(BaseModel):
    """How frames are taken from a clip. At `fps` (default 2, lowered to fit `max_frames`, never an error), or
    exactly `num_frames`, from `start` to `end` seconds, with at most `max_pixels` pixels in all sampled frames
    together (default: the checkpoint's video budget)."""

    model_config = ConfigDict(extra="forbid")

    fps: float | None = Field(default=None, gt=0, description="Frames sampled per second of video (default 2).")
    num_frames: int | None = Field(default=None, ge=1, description="Exactly this many frames (overrides fps).")
    min_frames: int | None = Field(default=None, ge=1, description="At least this many frames (default 4).")
    max_frames: int | None = Field(default=None, ge=1, description="At most this many frames; fps is lowered to fit.")
    start: float | None = Field(default=None, ge=0, description="Seconds from the start of the clip to begin at.")
    end: float | None = Field(default=None, gt=0, description="Seconds from the start of the clip to stop at.")
    max_pixels: int | None = Field(default=None, ge=1, description="Pixel budget of all sampled frames together.")

    @field_validator(*SAMPLING_KEYS, mode="before")
    @classmethod
    def _not_bool(cls, value: Any) -> Any:
        if isinstance(value, bool):  # JSON true is not 1 frame per second
            raise ValueError(f"must be a number, got {str(value).lower()}")
        return value

    @model_validator(mode="after")
    def _sampling(self) -> VideoOptions:
        self.sampling()  # the combined checks (end after start, min <= max) with the values in the message
        return self

    def sampling(self) -> VideoSampling:
        options = {k: getattr(self, k) for k in SAMPLING_KEYS if getattr(self, k) is not None}
        try:
            return VideoSampling.from_dict(options)
        except VReasonError as err:
            raise ValueError(str(err)) from None


class VideoURL(VideoOptions):
    url: str = Field(
        description="An http(s) URL (under the server's media policy), a data: URI, or a file:// URL under the "
        "server's allowed directory. Formats: MP4/MOV/MKV/WebM (H.264, H.265, VP9), GIF."
    )

    @field_validator("url")
    @classmethod
    def _scheme(cls, url: str) -> str:
        return _checked_url(url, "video_url.url")


class VideoContent(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["video_url"] = "video_url"
    video_url: VideoURL

    def to_part(self) -> VideoPart:
        return VideoPart(self.video_url.url, self.video_url.sampling())


class VideoFramesContent(VideoOptions):
    type: Literal["video"] = "video"
    video: str | list[str] = Field(
        description="A clip (as video_url.url), or frames in order: image URLs or data URIs, one per frame."
    )
    timestamps: list[float] | None = Field(
        default=None,
        description="For a list of frames: each frame's time in seconds, increasing (default: 2 frames a second).",
    )

    @field_validator("video")
    @classmethod
    def _sources(cls, video: str | list[str]) -> str | list[str]:
        if isinstance(video, str):
            return _checked_url(video, "video")
        if not video:
            raise ValueError("video is an empty list; send a clip or at least one frame")
        if len(video) > MAX_FRAME_LIST:
            raise ValueError(f"video lists {len(video)} frames, over the limit of {MAX_FRAME_LIST}")
        return [_checked_url(frame, f"video[{i}]") for i, frame in enumerate(video)]

    @model_validator(mode="after")
    def _times(self) -> VideoFramesContent:
        if self.timestamps is None:
            return self
        if isinstance(self.video, str):
            raise ValueError("timestamps are for a list of frames; a clip's frames carry their own times")
        if len(self.timestamps) != len(self.video):
            raise ValueError(f"{len(self.video)} frames need as many timestamps, got {len(self.timestamps)}")
        return self

    def to_part(self) -> VideoPart:
        timestamps = tuple(self.timestamps) if self.timestamps is not None else None
        return VideoPart(self.video, self.sampling(), timestamps)

    def sources(self) -> list[str]:
        return [self.video] if isinstance(self.video, str) else list(self.video)


def parse_video_part(index: int, item: dict[str, Any]) -> VideoContent | VideoFramesContent:
    """A `video_url` or `video` part; unknown keys named (with where the sampling options go)."""
    if item.get("type") == "video":
        unknown = sorted(set(item) - set(VideoFramesContent.model_fields))
        if unknown:
            raise ValueError(
                f"part {index}: unknown video key(s) {', '.join(unknown)} (known: video, timestamps, "
                f"{', '.join(SAMPLING_KEYS)})"
            )
        return VideoFramesContent.model_validate(item)
    video = item.get("video_url")
    if isinstance(video, str):  # some clients send the URL directly
        video = {"url": video}
    beside = sorted(set(item) - {"type", "video_url"})
    if beside:
        inside = any(k in SAMPLING_KEYS for k in beside)
        where = " (sampling options go inside video_url)" if inside else ""
        raise ValueError(f"part {index}: unknown key(s) {', '.join(beside)} beside video_url{where}")
    if isinstance(video, dict):
        unknown = sorted(set(video) - set(VideoURL.model_fields))
        if unknown:
            raise ValueError(
                f"part {index}: unknown video_url key(s) {', '.join(unknown)} (known: url, {', '.join(SAMPLING_KEYS)})"
            )
    return VideoContent(video_url=VideoURL.model_validate(video))
