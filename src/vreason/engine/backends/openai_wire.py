"""The OpenAI chat-completions wire format, both ways: a `GenerationRequest` becomes a JSON body, and the
upstream's server-sent chunks become vreason's `StreamDelta`s and `Answer`.

Images arrive resolved by the media step (the same policy and checks as for the local engine), are resized
to the same pixel budget, and travel as PNG data URIs at exactly the size the local model would see, so an
upstream never fetches anything on a caller's behalf and the per-request pixel budget holds on any upstream.
Videos arrive as the frames the media step sampled and travel as `video_url` MP4 data URIs (`video_wire`).
No HTTP here.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from vreason.engine.backends.image_cache import DataUriCache, ImageFormat, image_data_uri
from vreason.engine.backends.video_wire import VideoUriCache, sampled_fps, video_tokens, video_wire_part
from vreason.engine.prompt import require_resolved
from vreason.engine.sampling import SamplingParams
from vreason.engine.text_output import StreamAssembler, final_text
from vreason.engine.types import ImagePart, Message, StreamDelta, TextPart, VideoPart
from vreason.errors import InvalidRequestError
from vreason.media import PixelBudget
from vreason.media.video_types import PreparedVideo


@dataclass
class WireRequest:
    """What the remote engine sends, prepared once and reused by every attempt."""

    messages: list[dict[str, Any]]  # OpenAI-style, images and videos inlined as data URIs
    image_tokens: int  # visual tokens of the images and videos as sent (Qwen3-VL: one per 32x32 pixels)
    affinity_key: str  # same for every turn of one conversation (see conversation_key)
    video_fps: float | None = None  # the rate the request's clips were sampled at, when they agree
    video_tokens: int = 0  # the share of image_tokens that come from videos


def encode_messages(
    messages: Sequence[Message],
    budget: PixelBudget,
    image_format: ImageFormat = "png",
    conversation_id: str | None = None,
    cache: DataUriCache | None = None,
    video_cache: VideoUriCache | None = None,
) -> WireRequest:
    """A resolved conversation as OpenAI messages, each image resized to the pixel budget and inlined, each
    video as its sampled frames. A message without media keeps plain string content, as the chat template
    renders it."""
    image_tokens = video_total = 0
    rates: set[float] = set()
    wire: list[dict[str, Any]] = []
    for message in messages:
        if not message.images and not message.videos:
            wire.append({"role": message.role, "content": message.text})
            continue
        parts: list[dict[str, Any]] = []
        for part in message.content:
            if isinstance(part, TextPart):
                parts.append({"type": "text", "text": part.text})
            elif isinstance(part, ImagePart):
                prepared = require_resolved(part.source)
                width, height = budget.target_size(*prepared.original_size)  # the size `fit` gives
                image_tokens += (width // budget.factor) * (height // budget.factor)
                uri = (
                    cache.fitted_uri(prepared, budget, image_format)
                    if cache is not None  # not truthiness: an empty cache has len 0
                    else image_data_uri(budget.fit(prepared), image_format)
                )
                parts.append({"type": "image_url", "image_url": {"url": uri}})
            elif isinstance(part, VideoPart):
                video = _resolved_video(part)
                tokens = video_tokens(video, budget.factor)
                image_tokens, video_total = image_tokens + tokens, video_total + tokens
                rates.add(round(sampled_fps(video), 6))
                parts.append(video_wire_part(video, video_cache))
        wire.append({"role": message.role, "content": parts})
    fps = rates.pop() if len(rates) == 1 else None
    return WireRequest(wire, image_tokens, conversation_id or conversation_key(wire), fps, video_total)


def _resolved_video(part: VideoPart) -> PreparedVideo:
    if not isinstance(part.source, PreparedVideo):
        raise InvalidRequestError(
            f"a video ({type(part.source).__name__}) reached the engine unresolved; resolve the conversation with "
            "vreason.media_step.MediaResolver first",
            param="messages",
        )
    return part.source


def conversation_key(wire_messages: Sequence[dict[str, Any]]) -> str:
    """A hash of the messages up to and including the first user message: every later turn of the same
    conversation starts with them, so all turns get the same key (and land where their prefix is cached)."""
    digest = hashlib.blake2b(digest_size=12)
    for message in wire_messages:
        digest.update(message["role"].encode() + b"\0")
        content = message["content"]
        parts = [{"type": "text", "text": content}] if isinstance(content, str) else content
        for part in parts:  # the strings themselves: a JSON dump of a data URI would cost more than its hash
            kind = part.get("type")
            value = part.get("text") if kind == "text" else part.get(kind, {}).get("url", "")
            digest.update(str(value).encode() + b"\0")
        if message["role"] == "user":
            break
    return digest.hexdigest()


def sampling_fields(params: SamplingParams) -> dict[str, Any]:
    """Sampling parameters as chat-completion fields, every one of them: the caller's values are already
    resolved (the model kind's defaults included), and an upstream must not fill in its own (vreason serve
    would add Qwen's presence penalty to a greedy request). `top_k` and `repetition_penalty` are extensions
    that vLLM, DashScope and `vreason serve` accept (top_k 0 means off for vLLM and vreason serve)."""
    body: dict[str, Any] = {
        "max_tokens": params.max_new_tokens,
        "temperature": params.temperature,
        "top_p": params.top_p,
        "top_k": params.top_k,
        "presence_penalty": params.presence_penalty,
        "frequency_penalty": params.frequency_penalty,
        "repetition_penalty": params.repetition_penalty,
    }
    if params.seed is not None:
        body["seed"] = params.seed
    if params.stop:
        body["stop"] = list(params.stop)
    fmt = params.output_format
    if fmt is not None:
        if fmt.kind == "json_object":
            body["response_format"] = {"type": "json_object"}
        else:
            schema = json.loads(fmt.schema or "{}")
            body["response_format"] = {"type": "json_schema", "json_schema": {"name": "output", "schema": schema}}
    return body


def request_body(model: str, wire: WireRequest, params: SamplingParams) -> dict[str, Any]:
    # Always streamed from the upstream, also for non-streaming callers: time to first token is measured
    # the same way, and a broken stream is noticed at once instead of at a read timeout.
    body = {
        "model": model,
        "messages": wire.messages,
        "stream": True,
        "stream_options": {"include_usage": True},
        **sampling_fields(params),
    }
    if wire.video_fps is not None:
        # vLLM samples a clip again in its processor (at 2 fps unless told); at the rate the frames were taken
        # it keeps them all. Other servers ignore the field (vreason serve reads num_frames in video_url).
        body["mm_processor_kwargs"] = {"fps": wire.video_fps}
    return body


@dataclass
class ChunkReader:
    """Reads one attempt's `data:` chunks. Content passes through the local engine's `StreamAssembler`, so
    `<think>...</think>` inside the content is split exactly as a local answer would be; a `reasoning_content`
    (or `reasoning`) field from an upstream's reasoning parser goes to the thinking channel as it is."""

    pieces: list[str] = field(default_factory=list)  # content chunks, in order
    reasoning: list[str] = field(default_factory=list)
    finish_reason: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cached_tokens: int = 0  # prompt tokens the upstream's prefix cache served (usage.prompt_tokens_details)
    chunks_with_tokens: int = 0
    error: dict | None = None  # an error chunk sent after the stream started
    done: bool = False

    def __post_init__(self) -> None:
        self._assembler = StreamAssembler(self._decode, (), thinking_prompt=False)

    def _decode(self, indexes: Sequence[int]) -> str:
        return "".join(self.pieces[i] for i in indexes)

    def feed(self, line: str) -> list[StreamDelta]:
        """One line of the event stream; returns the deltas it completes."""
        if not line.startswith("data:"):
            return []  # blank separators, comments, `event:` lines
        data = line[5:].strip()
        if data == "[DONE]":
            self.done = True
            return []
        chunk = json.loads(data)
        if "error" in chunk or chunk.get("object") == "error":
            self.error = chunk
            return []
        usage = chunk.get("usage")
        if usage:
            self.prompt_tokens = usage.get("prompt_tokens", self.prompt_tokens)
            self.completion_tokens = usage.get("completion_tokens", self.completion_tokens)
            details = usage.get("prompt_tokens_details") or {}
            self.cached_tokens = details.get("cached_tokens") or self.cached_tokens
        out: list[StreamDelta] = []
        for choice in chunk.get("choices") or ():
            delta = choice.get("delta") or {}
            thought = delta.get("reasoning_content") or delta.get("reasoning")
            if thought:
                self.reasoning.append(thought)
                out.append(StreamDelta("thinking", thought))
            text = delta.get("content")
            if text:
                self.pieces.append(text)
                out += self._assembler.push(len(self.pieces) - 1)
            if thought or text:
                self.chunks_with_tokens += 1
            if choice.get("finish_reason"):
                self.finish_reason = choice["finish_reason"]
        return out

    def finish(self) -> list[StreamDelta]:
        return self._assembler.finish()

    def answer_parts(self) -> tuple[str | None, str]:
        """(thinking, text) of the whole answer, by the same rules the stream followed."""
        inline_thinking, text = final_text(range(len(self.pieces)), self._decode, False)
        thinking = "".join(self.reasoning) if self.reasoning else inline_thinking
        return thinking, text

    @property
    def answer_finish(self) -> Literal["stop", "length", "abort"]:
        return "length" if self.finish_reason == "length" else "stop"
