"""The media step of the request path: a conversation's images and videos loaded and checked under the media
policy, before any engine sees them (server -> media -> engine; Python API -> media -> engine).

`MediaResolver.resolve` is also the one domain check of a conversation that every surface shares: at least
one message, the last from the user, images and videos only in user messages, at most `max_images` of them
(a video counts as one). Engines take only resolved conversations (engine/prompt.require_resolved): they never
read a file or a URL.

Videos are sampled and decoded here (media/video_input.py) at the size the model sees, under `video_budget`
(the engine's, from its checkpoint's video processor); a decoded clip is remembered by its content hash, its
sampling and the budget (`DecodedVideoCache`), so a follow-up question about the same clip decodes nothing.

Encoded inputs (bytes, data URIs, base64 text) are remembered by content, so the same picture re-sent with
every turn of an OpenAI-style conversation is decoded once; paths and URLs are read under the policy every
time (the file or the page may change). It sits beside `media/` (pixels only) and above `engine/` (whose
message types it reads), so the packages depend one way.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from vreason.engine.interface import GenerationRequest
from vreason.engine.sampling import SamplingParams
from vreason.engine.types import ImagePart, Message, VideoPart
from vreason.errors import InvalidRequestError
from vreason.media import ImageSource, MediaPolicy, PixelBudget, PreparedImage, PreparedVideo, load_image
from vreason.media.policy import DEFAULT_MAX_IMAGES_PER_REQUEST
from vreason.media.video_budget import VideoBudget

DEFAULT_DECODED_CACHE_BYTES = 64 * 1024 * 1024
DEFAULT_DECODED_VIDEO_CACHE_BYTES = 256 * 1024 * 1024


class DecodedImageCache:
    """Encoded image inputs -> their decoded `PreparedImage`, keyed by content and the policy that checked
    them. Bounded by the bytes of pixels held, least recently used out first; thread-safe."""

    def __init__(self, max_bytes: int = DEFAULT_DECODED_CACHE_BYTES):
        self.max_bytes = max_bytes
        self.bytes_used = 0
        self._entries: OrderedDict[tuple, PreparedImage] = OrderedDict()
        self._lock = threading.Lock()

    def load(self, source: bytes | bytearray | str, policy: MediaPolicy) -> PreparedImage:
        raw = source.encode() if isinstance(source, str) else bytes(source)
        key = (policy, hashlib.blake2b(raw, digest_size=16).digest())
        with self._lock:
            image = self._entries.get(key)
            if image is not None:
                self._entries.move_to_end(key)
                return image
        image = load_image(source, policy)  # the policy's checks run on every first sight
        size = _pixel_bytes(image)
        with self._lock:
            if key not in self._entries and size <= self.max_bytes:
                self._entries[key] = image
                self.bytes_used += size
                while self.bytes_used > self.max_bytes:
                    _, old = self._entries.popitem(last=False)
                    self.bytes_used -= _pixel_bytes(old)
        return image

    def __len__(self) -> int:
        return len(self._entries)


class DecodedVideoCache:
    """Decoded clips by (content hash, sampling, budget, policy), least recently used out first, bounded by the
    bytes of frames held; thread-safe. Decoding twice is harmless (the second result replaces the first)."""

    def __init__(self, max_bytes: int = DEFAULT_DECODED_VIDEO_CACHE_BYTES):
        self.max_bytes = max_bytes
        self.bytes_used = 0
        self._entries: OrderedDict[tuple, PreparedVideo] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple) -> PreparedVideo | None:
        with self._lock:
            video = self._entries.get(key)
            if video is not None:
                self._entries.move_to_end(key)
            return video

    def put(self, key: tuple, video: PreparedVideo) -> None:
        size = video.frames.nbytes
        with self._lock:
            if key in self._entries or size > self.max_bytes:
                return
            self._entries[key] = video
            self.bytes_used += size
            while self.bytes_used > self.max_bytes:
                _, old = self._entries.popitem(last=False)
                self.bytes_used -= old.frames.nbytes

    def __len__(self) -> int:
        return len(self._entries)


@dataclass
class MediaResolver:
    policy: MediaPolicy = field(default_factory=MediaPolicy)
    max_images: int | None = DEFAULT_MAX_IMAGES_PER_REQUEST  # per request, videos included; None: no limit
    cache: DecodedImageCache | None = field(default_factory=DecodedImageCache)
    video_budget: VideoBudget = field(default_factory=VideoBudget)  # pass the engine's (engine.video_budget)
    video_cache: DecodedVideoCache | None = field(default_factory=DecodedVideoCache)

    @classmethod
    def for_engine(cls, engine: Any, **kwargs: Any) -> MediaResolver:
        """The media step an engine's requests need: its policy, its image limit and its video budget (clips
        are decoded at the size its checkpoint takes; engines without one get Qwen3-VL's)."""
        return cls(
            engine.policy,
            engine.max_images_per_request,
            video_budget=getattr(engine, "video_budget", None) or VideoBudget(),
            **kwargs,
        )

    def resolve(self, messages: Sequence[Message]) -> list[Message]:
        """The conversation checked, with every image part holding a `PreparedImage` and every video part a
        `PreparedVideo` (raises InvalidRequestError / MediaError naming the problem)."""
        check_conversation(messages, self.max_images)
        return [self._resolve_message(m) for m in messages]

    def load_video(self, part: VideoPart) -> PreparedVideo:
        """A video part's clip or frames, sampled and decoded (or as decoded before, by content)."""
        from vreason.media.video_input import decode_video, load_frames, read_video  # PyAV loads on first video

        if isinstance(part.source, PreparedVideo):
            return part.source
        if isinstance(part.source, list | tuple):
            return load_frames(list(part.source), part.timestamps, part.sampling, self.video_budget, self.policy)
        data = read_video(part.source, self.policy)
        key = (self.policy, self.video_budget, part.sampling, data.digest)
        video = self.video_cache.get(key) if self.video_cache is not None else None
        if video is None:
            video = decode_video(data, part.sampling, self.video_budget, self.policy)
            if self.video_cache is not None:
                self.video_cache.put(key, video)
        return video

    def load(self, source: ImageSource | PreparedImage) -> PreparedImage:
        if isinstance(source, PreparedImage):
            return source
        if self.cache is not None and _encoded(source):
            return self.cache.load(source, self.policy)  # type: ignore[arg-type]
        return load_image(source, self.policy)

    def _resolve_message(self, message: Message) -> Message:
        if all(_resolved(p) for p in message.content):
            return message
        parts = [
            ImagePart(self.load(p.source))
            if isinstance(p, ImagePart)
            else VideoPart(self.load_video(p), p.sampling)
            if isinstance(p, VideoPart)
            else p
            for p in message.content
        ]
        return Message(message.role, parts)


def _resolved(part: object) -> bool:
    if isinstance(part, ImagePart):
        return isinstance(part.source, PreparedImage)
    if isinstance(part, VideoPart):
        return isinstance(part.source, PreparedVideo)
    return True


def needs_reading(messages: Sequence[Message]) -> bool:
    """Whether resolving reads or decodes anything (callers move that off the event loop)."""
    return not all(_resolved(p) for m in messages for p in m.content)


def check_conversation(messages: Sequence[Message], max_images: int | None) -> None:
    if not messages:
        raise InvalidRequestError("a request needs at least one message", param="messages")
    if messages[-1].role != "user":
        raise InvalidRequestError(
            f"the last message must be from the user (got {messages[-1].role!r})", param="messages"
        )
    for message in messages:
        if (message.images or message.videos) and message.role != "user":
            kind = "images" if message.images else "videos"
            raise InvalidRequestError(
                f"{kind} can only be attached to user messages, not {message.role!r}", param="messages"
            )
    check_image_count(sum(len(m.images) for m in messages), max_images, sum(len(m.videos) for m in messages))


def check_image_count(count: int, max_images: int | None, videos: int = 0) -> None:
    """The per-request image limit (a video counts as one); callers that load images before building messages
    check it first."""
    if max_images is not None and count + videos > max_images:
        what = f"{count} images and {videos} videos" if videos else f"{count} images"
        raise InvalidRequestError(f"{what} in one request is over the limit of {max_images}", param="messages")


def make_request(
    messages: Sequence[Message | dict],
    params: SamplingParams,
    budget: PixelBudget | None = None,
    policy: MediaPolicy | None = None,
    **kwargs: Any,
) -> GenerationRequest:
    """A request with its media resolved under `policy` (default: the closed `MediaPolicy()`), for callers
    that drive an engine directly."""
    parsed = [m if isinstance(m, Message) else Message.from_dict(m) for m in messages]
    resolved = MediaResolver(policy or MediaPolicy(), max_images=None, cache=None).resolve(parsed)
    return GenerationRequest(messages=resolved, params=params, budget=budget, **kwargs)


def _encoded(source: object) -> bool:
    """Inputs whose bytes are the whole image: safe to key by content."""
    if isinstance(source, (bytes, bytearray)):
        return True
    if not isinstance(source, str):
        return False
    # load_image reads a string this long as base64 text, never as a path; URLs are never keyed by content
    return source[:5].lower() == "data:" or (len(source) >= 4096 and "://" not in source[:12])


def _pixel_bytes(image: PreparedImage) -> int:
    width, height = image.original_size  # not `image.image`: that decodes a deferred image
    return width * height * 3  # prepared images are RGB
