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

Role = Literal["system", "user", "assistant"]
ROLES = ("system", "user", "assistant")


@dataclass(frozen=True)
class TextPart:
    text: str


@dataclass(frozen=True)
class ImagePart:
    source: ImageSource | PreparedImage  # anything media.load_image takes, or an image prepared earlier


Part = TextPart | ImagePart


@dataclass
class Message:
    role: Role
    content: list[Part] = field(default_factory=list)  # in order: images and text may interleave

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise InvalidRequestError(
                f"message role ({self.role!r}) must be one of {', '.join(ROLES)}", param="role"
            )

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
        ({"type": "text", "text"}, {"type": "image", "image"}, {"type": "image_url", "image_url": {"url"}})."""
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
            else:
                raise InvalidRequestError(f"unsupported content part type {kind!r} (use text, image or image_url)")
        return cls(data["role"], parts)

    @property
    def text(self) -> str:
        return "".join(p.text for p in self.content if isinstance(p, TextPart))

    @property
    def images(self) -> list[ImageSource | PreparedImage]:
        return [p.source for p in self.content if isinstance(p, ImagePart)]


@dataclass
class Usage:
    prompt_tokens: int  # text and visual tokens fed to the model
    completion_tokens: int  # generated tokens, the end-of-turn token included
    image_tokens: int = 0  # the share of prompt_tokens that are visual
    cached_tokens: int = 0  # prompt tokens whose KV was reused from an earlier request (not recomputed)
    cached_images: int = 0  # images whose vision features were reused (the vision tower did not run)

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
