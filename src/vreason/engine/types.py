"""The data that crosses the engine boundary: conversation messages in, answers and stream deltas out.

Plain dataclasses, no torch: surfaces (CLI, server, UI) and the reasoning layer build and read these.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from vreason.errors import InvalidRequestError

if TYPE_CHECKING:
    from vreason.media.image_input import ImageSource, PreparedImage
    from vreason.media.video_types import PreparedVideo, VideoSource

Role = Literal["system", "user", "assistant"]
ROLES = ("system", "user", "assistant")


@dataclass(frozen=True)
class TextPart:
    text: str


@dataclass(frozen=True)
class ImagePart:
    source: ImageSource | PreparedImage  # anything media.load_image takes, or an image prepared earlier


@dataclass(frozen=True)
class VideoPart:
    """A clip (path, URL, data URI, bytes), a list of frames (images) with their `timestamps` in seconds, or a
    video the media step already decoded. `sampling` says how frames are taken from a clip."""

    source: VideoSource | PreparedVideo | list
    sampling: Any = None  # VideoSampling; None: the defaults
    timestamps: tuple[float, ...] | None = None  # only for a list of frames: each frame's time

    def __post_init__(self) -> None:
        from vreason.media.video_types import VideoSampling

        if self.sampling is None:
            object.__setattr__(self, "sampling", VideoSampling())
        elif isinstance(self.sampling, dict):
            object.__setattr__(self, "sampling", VideoSampling.from_dict(self.sampling))
        if self.timestamps is not None:
            if not isinstance(self.source, list | tuple):
                raise InvalidRequestError("video timestamps are only for a list of frames", param="timestamps")
            if len(self.timestamps) != len(self.source):
                raise InvalidRequestError(
                    f"a list of {len(self.source)} video frames needs as many timestamps, got {len(self.timestamps)}",
                    param="timestamps",
                )
            object.__setattr__(self, "timestamps", tuple(float(t) for t in self.timestamps))


Part = TextPart | ImagePart | VideoPart


@dataclass
class Message:
    role: Role
    content: list[Part] = field(default_factory=list)  # in order: images and text may interleave

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise InvalidRequestError(f"message role ({self.role!r}) must be one of {', '.join(ROLES)}", param="role")

    @classmethod
    def user(cls, text: str = "", images: Sequence[ImageSource | PreparedImage] = ()) -> Message:
        """Images first, then the question: Qwen's own convention for visual questions."""
        parts: list[Part] = [ImagePart(src) for src in images]
        if text:
            parts.append(TextPart(text))
        return cls("user", parts)

    @classmethod
    def assistant(cls, text: str) -> Message:
        return cls("assistant", [TextPart(text)])

    @classmethod
    def system(cls, text: str) -> Message:
        return cls("system", [TextPart(text)])

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Message:
        """An OpenAI/Qwen-style message dict: content is a string or a list of parts
        ({"type": "text", "text"}, {"type": "image", "image"}, {"type": "image_url", "image_url": {"url"}},
        {"type": "video_url", "video_url": {"url", ...sampling options}}, {"type": "video", "video", ...options,
        "timestamps"} where "video" is a clip or a list of frames)."""
        if not isinstance(data, dict) or "role" not in data:
            raise InvalidRequestError(f"a message must be a dict with 'role' and 'content', got {data!r:.80}")
        content = data.get("content", "")
        if content is None:
            content = ""
        if isinstance(content, str):
            return cls(data["role"], [TextPart(content)] if content else [])
        parts: list[Part] = []
        for item in content:
            if isinstance(item, str):
                parts.append(TextPart(item))
                continue
            kind = item.get("type") if isinstance(item, dict) else None
            if kind == "text":
                parts.append(TextPart(str(item.get("text", ""))))
            elif kind == "image" or (kind is None and isinstance(item, dict) and "image" in item):
                parts.append(ImagePart(item.get("image") or item.get("url")))
            elif kind == "image_url":
                url = item.get("image_url")
                parts.append(ImagePart(url.get("url") if isinstance(url, dict) else url))
            elif kind in ("video_url", "video") or (kind is None and isinstance(item, dict) and "video" in item):
                parts.append(_video_part(item, kind or "video"))
            else:
                raise InvalidRequestError(
                    f"unsupported content part type {kind!r} (use text, image, image_url, video or video_url)"
                )
        return cls(data["role"], parts)

    @property
    def text(self) -> str:
        return "".join(p.text for p in self.content if isinstance(p, TextPart))

    @property
    def images(self) -> list[ImageSource | PreparedImage]:
        return [p.source for p in self.content if isinstance(p, ImagePart)]

    @property
    def videos(self) -> list[VideoPart]:
        return [p for p in self.content if isinstance(p, VideoPart)]


def _video_part(item: dict[str, Any], kind: str) -> VideoPart:
    from vreason.media.video_types import SAMPLING_KEYS

    if kind == "video_url":
        body = item.get("video_url")
        if isinstance(body, str):
            body = {"url": body}
        if not isinstance(body, dict) or not body.get("url"):
            raise InvalidRequestError("a video_url part needs {'video_url': {'url': ...}}", param="video_url")
        unknown = sorted(set(body) - {"url", *SAMPLING_KEYS})
        if unknown:
            raise InvalidRequestError(
                f"unknown video_url key(s) {', '.join(unknown)} (known: url, {', '.join(SAMPLING_KEYS)})",
                param=unknown[0],
            )
        options = {k: v for k, v in body.items() if k != "url"}
        return VideoPart(body["url"], options, None)
    source = item.get("video")
    if source is None or source == "" or source == []:
        raise InvalidRequestError(
            "a video part needs 'video': a path, URL, data URI or a list of frames", param="video"
        )
    unknown = sorted(set(item) - {"type", "video", "timestamps", *SAMPLING_KEYS})
    if unknown:
        raise InvalidRequestError(
            f"unknown video key(s) {', '.join(unknown)} (known: video, timestamps, {', '.join(SAMPLING_KEYS)})",
            param=unknown[0],
        )
    options = {k: item[k] for k in SAMPLING_KEYS if k in item}
    timestamps = item.get("timestamps")
    return VideoPart(
        list(source) if isinstance(source, list | tuple) else source,
        options,
        tuple(timestamps) if timestamps is not None else None,
    )


@dataclass
class Usage:
    prompt_tokens: int  # text and visual tokens fed to the model
    completion_tokens: int  # generated tokens, the end-of-turn token included
    image_tokens: int = 0  # the share of prompt_tokens that are visual
    cached_tokens: int = 0  # prompt tokens whose KV was reused from an earlier request (not recomputed)
    cached_images: int = 0  # images whose vision features were reused (the vision tower did not run)
    video_tokens: int = 0  # the share of image_tokens that come from videos

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass
class Timings:
    preprocess_s: float = 0.0  # image loading, resizing and tokenization
    ttft_s: float = 0.0  # from the start of generation to the first token (prefill)
    decode_s: float = 0.0  # from the first token to the last
    total_s: float = 0.0


@dataclass
class Answer:
    text: str  # the answer, without any thinking
    thinking: str | None  # the model's reasoning (thinking models), else None
    finish_reason: Literal["stop", "length", "abort"]
    usage: Usage
    timings: Timings
    token_ids: list[int] = field(default_factory=list)  # generated ids, for tests and traces
    model: str = ""

    def to_dict(self) -> dict:
        data = asdict(self)
        data["usage"]["total_tokens"] = self.usage.total_tokens
        data["timings"]["tokens_per_s"] = round(self.tokens_per_s, 2)
        data.pop("token_ids")
        return data

    @property
    def tokens_per_s(self) -> float:
        generated = self.usage.completion_tokens
        if generated <= 1 or self.timings.decode_s <= 0:
            return 0.0
        return (generated - 1) / self.timings.decode_s


@dataclass(frozen=True)
class StreamDelta:
    channel: Literal["text", "thinking"]
    text: str
