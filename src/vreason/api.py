"""The Python API: load a Qwen3-VL checkpoint once, then ask, chat and stream.

    vr = VReason()                                       # built-in demo model
    vr = VReason("Qwen/Qwen3-VL-8B-Instruct")            # or a hub id / local directory
    answer = vr.ask("cat.jpg", "What animal is this?")   # Answer(text, thinking, usage, timings, ...)
    for delta in vr.stream("cat.jpg", "Describe it."): print(delta, end="")
    conv = vr.conversation(); conv.ask("How many?", images=["a.png"]); conv.ask("And their colours?")
    vr.ask(None, "What happens at the end?", video="clip.mp4")          # a clip: path, URL, data URI or bytes
    vr.ask(None, "When does it turn blue?", video={"video": "clip.mp4", "fps": 4, "max_frames": 64, "start": 5})
    conv.ask("What is in this clip?", video="clip.mp4"); conv.ask("And after that?")   # clip decoded once

Videos are sampled per `VideoSampling` (fps default 2, num_frames, min_frames/max_frames, start/end seconds,
max_pixels over all frames; the options usable together, the fps lowered to fit max_frames) and reach the
model with Qwen3-VL's `<t seconds>` markers from the frames' real times. In `chat`, video parts are
`{"type": "video_url", "video_url": {"url": ..., "fps": 2}}` or `{"type": "video", "video": PATH_OR_FRAMES,
"timestamps": [...]}`; a `VideoPart` also stands among the images of `ask`.

Sampling keywords (temperature, top_p, top_k, max_new_tokens, repetition_penalty, presence_penalty,
frequency_penalty, seed, stop) override Qwen's recommended defaults for the model's kind.

`VReason` is the synchronous face of `AsyncVReason` (async_api.py), for a Python prompt and the CLI: one event
loop on a daemon thread (`SyncBridge`) runs the async calls; `vr.aio` is the async API itself, and `vr.run`
awaits any coroutine on that loop (the blocking forms of the reasoning functions use it).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from vreason.async_api import (
    AsyncVReason,
    Images,
    MessageLike,
    VideoLike,
    as_image_list,
    as_video_part,
    user_message,
)
from vreason.engine.factory import DEFAULT_MAX_IMAGES_PER_REQUEST, EngineSpec, build_engine
from vreason.engine.interface import Engine
from vreason.engine.sampling import SamplingParams
from vreason.engine.sync_bridge import SyncBridge
from vreason.engine.types import Answer, Message, StreamDelta, VideoPart
from vreason.media import ImageSource, MediaPolicy, PreparedImage, PreparedVideo

if TYPE_CHECKING:
    from vreason.memory import Memory, MemoryResult
    from vreason.memory.notes import NoteKeeper
    from vreason.memory.types import MemoryItem
    from vreason.models.loader import LoadedModel

logger = logging.getLogger("vreason")
T = TypeVar("T")

__all__ = ["Conversation", "Images", "MessageLike", "VReason", "VideoLike"]


class VReason:
    def __init__(
        self,
        model: str | None = None,
        *,
        device: str = "auto",
        dtype: str = "auto",
        quantize: str | None = None,
        adapter: str | None = None,
        min_pixels: int | None = None,
        max_pixels: int | None = None,
        media_policy: MediaPolicy | None = None,
        max_images_per_request: int | None = DEFAULT_MAX_IMAGES_PER_REQUEST,
        engine: Engine | None = None,
        model_code: str = "auto",
    ):
        """Load `model` (None: the built-in demo model) into a local engine, or use `engine` as given
        (a remote or vLLM backend, or one from `vreason.engine.factory.build_engine`; the loading arguments
        are then ignored). `model_code="transformers"` loads transformers' model classes even where vreason's
        own code would serve the checkpoint (for training on `vr.loaded.model`, or to compare the two)."""
        if engine is None:
            engine = build_engine(EngineSpec(
                model=model, device=device, dtype=dtype, quantize=quantize, adapter=adapter, min_pixels=min_pixels,
                max_pixels=max_pixels, media_policy=media_policy, max_images_per_request=max_images_per_request,
                model_code=model_code,
            ))
        self.engine: Engine = engine
        # the checkpoint of an in-process engine (tests, fine-tuning, the UI's demo notice); None for remote ones
        self.loaded: LoadedModel | None = getattr(engine, "loaded", None)
        self.aio = AsyncVReason(engine)
        self.bridge = SyncBridge()

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
        return self.aio.sampling(**overrides)

    def run(self, awaitable: Awaitable[T]) -> T:
        """Await `awaitable` on this object's event loop and return its result (from synchronous code only)."""
        return self.bridge.run(awaitable)

    def prepare_image(self, source: ImageSource | PreparedImage) -> PreparedImage:
        """Load and check once; the result can be passed anywhere an image is taken (saves re-decoding)."""
        return self.aio.media.load(source)

    def prepare_video(self, video: VideoLike) -> PreparedVideo:
        """Read, sample and decode once; the result can be passed anywhere a video is taken."""
        return self.run(self.aio.prepare_video(video))

    def ask(self, images: Images, question: str, *, video: VideoLike = None, **sampling: Any) -> Answer:
        """A question about images (None for none) and/or one video (`video=`: a path, URL, data URI, bytes,
        `VideoPart`, or `{"video": source, "fps": ..., "max_frames": ..., "start": ..., "end": ...}`)."""
        return self.run(self.aio.ask(images, question, video=video, **sampling))

    def chat(self, messages: Sequence[MessageLike], **sampling: Any) -> Answer:
        return self.run(self.aio.chat(messages, **sampling))

    def chat_many(
        self,
        conversations: Sequence[Sequence[MessageLike]],
        per_request: Sequence[dict[str, Any]] | None = None,
        **sampling: Any,
    ) -> list[Answer]:
        """Run several independent requests at once (the engine batches them); answers in input order.

        `sampling` applies to all; `per_request[i]` (optional) overrides it for request i (e.g. its own seed).
        If any request fails, the first failure is raised once all have finished."""
        return self.run(self.aio.chat_many(conversations, per_request, **sampling))

    def ask_many(self, items: Sequence[tuple[Images, str]], **sampling: Any) -> list[Answer]:
        """`ask` for many (images, question) pairs at once, batched by the engine."""
        return self.run(self.aio.ask_many(items, **sampling))

    def stream(self, images: Images, question: str, *, video: VideoLike = None, **sampling: Any) -> Iterator[str]:
        """Text deltas of the answer (a thinking model's reasoning is left out; see stream_chat)."""
        for event in self.stream_chat([user_message(question, images, video)], **sampling):
            if isinstance(event, StreamDelta) and event.channel == "text":
                yield event.text

    def stream_chat(self, messages: Sequence[MessageLike], **sampling: Any) -> Iterator[StreamDelta | Answer]:
        """`StreamDelta`s on the text and thinking channels, then the final `Answer`."""
        yield from self.bridge.iterate(lambda: self.aio.stream_chat(messages, **sampling))

    def close(self) -> None:
        """Stop the engine and its event loop (their threads are daemons: a script that ends without closing
        does not hang)."""
        self.run(self.aio.close())
        self.bridge.close()

    def conversation(
        self, system: str | None = None, memory: Memory | None = None, keep_notes: bool = False
    ) -> Conversation:
        """A multi-turn chat; with `memory` (from `vr.memory(user=...)`) each question recalls that user's
        memories into the prompt and "Remember: ..." / "Forget ..." are carried out (`conv.last_memory`).
        `keep_notes=True` also condenses the conversation into memory notes (memory/notes.py): the older turns
        once it grows long, the rest when it ends (`close()`, the end of a `with` block, or `reset()`)."""
        return Conversation(self, system, memory, keep_notes)

    def memory(
        self, user: str, directory: str | None = None, url: str | None = None, session: str | None = None
    ) -> Memory:
        """`user`'s memory across sessions (vreason.memory): remember, recall, answer with it, forget, export.
        The store: `url` (SQLite or PostgreSQL), else a SQLite file in `directory` or the data dir; pictures are
        described by this model when first stored."""
        from vreason.memory import AsyncMemory, Memory, open_store

        return Memory(AsyncMemory(open_store(url, directory), user, self.aio, session, source="api"), self.run)


class Conversation:
    """Multi-turn chat: keeps the history (answers without their thinking) and the prepared images."""

    def __init__(
        self, vr: VReason, system: str | None = None, memory: Memory | None = None, keep_notes: bool = False
    ):
        self.vr = vr
        self.memory = memory
        self.last_memory: MemoryResult | None = None  # recalled/cited ids of the last turn, with memory
        self.messages: list[Message] = [Message.system(system)] if system else []
        self.id = uuid.uuid4().hex  # sent with every turn: remote backends route the turns to one replica
        self.notes: NoteKeeper | None = None  # with keep_notes: the notes written (`conv.notes.notes`)
        if keep_notes:
            if memory is None:
                raise ValueError("keep_notes needs a memory: vr.conversation(memory=vr.memory(user=...), ...)")
            from vreason.memory.notes import NoteKeeper

            self.notes = NoteKeeper(memory, int(getattr(vr.aio.engine, "max_context", 0) or 0))

    def __enter__(self) -> Conversation:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> MemoryItem | None:
        """The session ends: with keep_notes, the turns not yet in a note are condensed into one (returned).
        Without it nothing is written. Closing twice writes nothing more."""
        return self.notes.at_end(self.messages) if self.notes is not None else None

    def ask(self, question: str, images: Images = None, *, video: VideoLike = None, **sampling: Any) -> Answer:
        answer = None
        for event in self.stream(question, images, video=video, **sampling):
            if isinstance(event, Answer):
                answer = event
        assert answer is not None, "the engine always ends a generation with an Answer"
        return answer

    def stream(
        self, question: str, images: Images = None, *, video: VideoLike = None, **sampling: Any
    ) -> Iterator[StreamDelta | Answer]:
        # media prepared once: the history holds the decoded images and clip, so follow-ups read nothing again
        user = user_message(question, self._prepared(images), self._prepared_video(video))
        messages, turn = [*self.messages, user], None
        if self.memory is not None:  # recalled notes and pictures join this request only, not the history
            turn = self.memory.prepare(messages)
            if turn.reply_without_model:  # "Remember: ..." / "Forget ...": done by memory, no model call
                from vreason.memory.turn import memory_answer_object

                self.last_memory = self.memory.finish(turn, "")
                answer = memory_answer_object(self.last_memory.reply or "", self.vr.model_name)
                yield StreamDelta("text", answer.text)
                yield answer
                self.messages += [user, Message.assistant(answer.text)]
                if self.notes is not None:
                    self.notes.after_turn(self.messages, 0)
                return
            messages = turn.messages
        answer = None
        for event in self.vr.stream_chat(messages, conversation_id=self.id, **sampling):
            if isinstance(event, Answer):
                answer = event
            yield event
        if answer is not None:  # only a finished turn joins the history
            if turn is not None:
                self.last_memory = self.memory.finish(turn, answer.text)
            self.messages += [user, Message.assistant(answer.text)]
            if self.notes is not None:  # grown long: the older turns into a note, once
                self.notes.after_turn(self.messages, answer.usage.prompt_tokens)

    def _prepared(self, images: Images) -> list:
        return [
            VideoPart(self.vr.prepare_video(item), item.sampling) if isinstance(item, VideoPart)
            else self.vr.prepare_image(item)
            for item in as_image_list(images)
        ]

    def _prepared_video(self, video: VideoLike):
        part = as_video_part(video)
        if part is None:
            return None
        return VideoPart(self.vr.prepare_video(part), part.sampling)

    def reset(self) -> None:
        """Forget every turn (and so every image sent); the system prompt stays. What follows is a new
        conversation, so it gets a new id: a remote backend need not route it to where the old one ran.
        With keep_notes, the conversation so far is condensed into a note first (it ends here); the history is
        cleared even when that note fails (its error is raised after)."""
        try:
            if self.notes is not None:
                self.notes.at_end(self.messages)
        finally:
            self.messages = [m for m in self.messages if m.role == "system"]
            self.id = uuid.uuid4().hex
            if self.notes is not None:
                self.notes.restart()
