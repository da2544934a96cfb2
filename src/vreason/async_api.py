"""The async Python API over any `Engine`: what the reasoning layer, evaluation, task packs, UI handlers and
server routes are written against.

    vr = AsyncVReason(build_engine(EngineSpec()))           # or VReason(...).aio
    answer = await vr.ask("cat.jpg", "What animal is this?")
    answers = await vr.chat_many([[...], [...]])            # batched by the engine
    async for event in vr.stream_chat(messages): ...        # StreamDelta..., then the Answer

Every request passes the media step (`MediaResolver`: conversation checked, images loaded and videos decoded
under the engine's media policy and video budget) before it reaches the engine, off the event loop when it
has media to read.

Videos: `ask(..., video="clip.mp4")` (a path, URL, data URI, bytes, a `VideoPart`, or a dict in the message
part's form, `{"video": "clip.mp4", "fps": 1, "max_frames": 32, "start": 5, "end": 30}`), or video parts in
`chat` messages (`{"type": "video_url", "video_url": {"url": ..., "fps": 1}}`, `VideoPart(...)`), or
`VideoPart`s among the images of `ask`. Sampling options are per video (`VideoSampling`); unknown keys are
refused by name. Sampling keywords
override Qwen's defaults for the model's kind; `min_pixels`/`max_pixels`, `timeout_s`, `conversation_id` and `keep_kv`
(False: do not keep this request's KV for follow-ups) ride along per request. `VReason` (api.py) is the
synchronous face of this class and nothing more.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Any

from vreason.engine.interface import Engine, GenerationRequest
from vreason.engine.sampling import SamplingParams
from vreason.engine.types import Answer, ImagePart, Message, Part, StreamDelta, TextPart, VideoPart
from vreason.errors import InvalidRequestError
from vreason.media import ImageSource, PreparedImage, PreparedVideo, VideoSource
from vreason.media_step import MediaResolver, needs_reading

Images = ImageSource | VideoPart | Sequence[ImageSource | VideoPart] | None
VideoLike = VideoSource | PreparedVideo | VideoPart | dict[str, Any] | None
MessageLike = Message | dict[str, Any]
# Request-level keywords beside the sampling ones.
REQUEST_KEYS = ("min_pixels", "max_pixels", "timeout_s", "conversation_id", "keep_kv")


class AsyncVReason:
    def __init__(self, engine: Engine, media: MediaResolver | None = None):
        self.engine = engine
        self.media = media or MediaResolver.for_engine(engine)

    @property
    def model_name(self) -> str:
        return self.engine.model_name

    @property
    def demo_family(self) -> bool:
        """The built-in demo model or one trained from it (models/demo.py: is_demo_family); False for an engine
        that does not say (an Engine written before the attribute)."""
        return bool(getattr(self.engine, "demo_family", False))

    @property
    def default_sampling(self) -> SamplingParams:
        return self.engine.default_params

    def sampling(self, **overrides: Any) -> SamplingParams:
        """Qwen's defaults for this model kind with `overrides` applied (None values ignored)."""
        return self.engine.default_params.updated(**overrides)

    async def prepare_image(self, source: ImageSource | PreparedImage) -> PreparedImage:
        """Load and check once under the media policy; pass the result anywhere an image is taken."""
        if isinstance(source, PreparedImage):
            return source
        return await asyncio.to_thread(self.media.load, source)

    async def image_embedding(self, image: ImageSource | PreparedImage):
        """The checkpoint's pooled vision features of one picture (an L2-normalised float32 vector), or None
        where the engine has no vision tower of its own to ask (remote, OpenVINO)."""
        embed = getattr(self.engine, "image_embedding", None)
        if embed is None:
            return None
        return await embed(await self.prepare_image(image))

    async def prepare_video(self, video: VideoLike) -> PreparedVideo:
        """Read, sample and decode once (see `as_video_part` for the forms taken); pass the result anywhere a
        video is taken (a conversation keeps it for its follow-up questions)."""
        part = as_video_part(video)
        assert part is not None, "prepare_video needs a video"
        return await asyncio.to_thread(self.media.load_video, part)

    async def ask(self, images: Images, question: str, *, video: VideoLike = None, **sampling: Any) -> Answer:
        """One question about images and/or a video (`video=`: a clip, URL, data URI, bytes, `VideoPart`, or
        `{"video": source, "fps": ..., "max_frames": ..., "start": ..., "end": ...}`)."""
        return await self.chat([user_message(question, images, video)], **sampling)

    async def chat(self, messages: Sequence[MessageLike], **sampling: Any) -> Answer:
        request = await self.request(messages, sampling, stream=False)
        return await final_answer(self.engine.generate(request))

    async def chat_many(
        self,
        conversations: Sequence[Sequence[MessageLike]],
        per_request: Sequence[dict[str, Any]] | None = None,
        **sampling: Any,
    ) -> list[Answer]:
        """Several independent requests at once (the engine batches them); answers in input order.

        `sampling` applies to all; `per_request[i]` (optional) overrides it for request i (e.g. its own seed).
        If any request fails, the first failure is raised once all have finished."""
        if per_request is not None and len(per_request) != len(conversations):
            raise InvalidRequestError(
                f"per_request has {len(per_request)} entries for {len(conversations)} conversations",
                param="per_request",
            )
        overrides = per_request or [{}] * len(conversations)
        requests = [
            await self.request(messages, {**sampling, **extra}, stream=False)
            for messages, extra in zip(conversations, overrides, strict=True)
        ]
        results = await asyncio.gather(
            *(final_answer(self.engine.generate(r)) for r in requests), return_exceptions=True
        )
        for result in results:
            if isinstance(result, BaseException):
                raise result
        return list(results)  # type: ignore[arg-type]

    async def ask_many(self, items: Sequence[tuple[Images, str]], **sampling: Any) -> list[Answer]:
        """`ask` for many (images, question) pairs at once, batched by the engine."""
        return await self.chat_many([[user_message(q, imgs)] for imgs, q in items], **sampling)

    async def stream(
        self, images: Images, question: str, *, video: VideoLike = None, **sampling: Any
    ) -> AsyncIterator[str]:
        """Text deltas of the answer (a thinking model's reasoning is left out; see stream_chat)."""
        async for event in self.stream_chat([user_message(question, images, video)], **sampling):
            if isinstance(event, StreamDelta) and event.channel == "text":
                yield event.text

    async def stream_chat(
        self, messages: Sequence[MessageLike], **sampling: Any
    ) -> AsyncIterator[StreamDelta | Answer]:
        """`StreamDelta`s on the text and thinking channels, then the final `Answer`. Closing the stream early
        aborts the request."""
        request = await self.request(messages, sampling, stream=True)
        stream = self.engine.generate(request)
        try:
            async for event in stream:
                yield event
        finally:
            await stream.aclose()  # type: ignore[attr-defined]

    async def request(
        self, messages: Sequence[MessageLike], sampling: dict[str, Any], stream: bool
    ) -> GenerationRequest:
        """A `GenerationRequest` with its media resolved: what every backend takes."""
        options = {k: sampling.pop(k) for k in REQUEST_KEYS if k in sampling}
        params = self.sampling(**sampling)
        parsed = [m if isinstance(m, Message) else Message.from_dict(m) for m in messages]
        if needs_reading(parsed):
            resolved = await asyncio.to_thread(self.media.resolve, parsed)  # reads files and URLs, decodes video
        else:
            resolved = self.media.resolve(parsed)
        return GenerationRequest(
            messages=resolved,
            params=params,
            budget=self.engine.budget.updated(options.get("min_pixels"), options.get("max_pixels")),
            stream=stream,
            timeout_s=options.get("timeout_s"),
            conversation_id=options.get("conversation_id"),
            keep_kv=bool(options.get("keep_kv", True)),
        )

    async def close(self) -> None:
        await self.engine.close()


async def final_answer(events: AsyncIterator[StreamDelta | Answer]) -> Answer:
    answer = None
    async for event in events:
        if isinstance(event, Answer):
            answer = event
    assert answer is not None, "the engine always ends a generation with an Answer"
    return answer


def as_image_list(images: Images) -> list[ImageSource]:
    if images is None:
        return []
    if isinstance(images, (str, bytes, bytearray)) or not isinstance(images, Sequence):
        return [images]
    return list(images)


def as_video_part(video: VideoLike) -> VideoPart | None:
    """A `VideoPart` from the forms `ask(video=...)` takes; a dict is read as a message's video part."""
    if video is None or isinstance(video, VideoPart):
        return video
    if isinstance(video, dict):
        return Message.from_dict({"role": "user", "content": [{"type": "video", **video}]}).videos[0]
    return VideoPart(video)


def user_message(question: str, images: Images = None, video: VideoLike = None) -> Message:
    """Qwen's order for a visual question: the video, then the images (a `VideoPart` among them stays where it
    is), then the question."""
    parts: list[Part] = []
    part = as_video_part(video)
    if part is not None:
        parts.append(part)
    for item in as_image_list(images):
        parts.append(item if isinstance(item, VideoPart) else ImagePart(item))
    if question:
        parts.append(TextPart(question))
    return Message("user", parts)
