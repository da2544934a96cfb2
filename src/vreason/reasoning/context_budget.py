"""Long conversations within the model's context: a sliding window over turns, old turns condensed into notes.

`AsyncManagedConversation.ask` (over an `AsyncVReason`) counts the prompt before sending it (`token_count`).
When it would pass the budget (the model's context minus the answer's max_new_tokens, or a smaller limit of the
caller's), the oldest turns leave the window and become notes in the system message: a short exchange verbatim,
a long one summarised by the model itself, and each of its images and clips replaced by the model's
one-sentence description (a clip's tokens are counted as the engine sends them: token_count). Notes that grow
past their share of the budget first lose the descriptions of the oldest images and clips (the answers given
are the facts the conversation established), then are merged by the model, and are dropped oldest first only
as a last resort.
Compaction goes well below the budget (`compact_to`), so it happens rarely: between compactions every request
extends the previous one, and the engine's prefix reuse applies. `ManagedConversation` is the blocking form over
a `VReason`: the same window, each `ask` awaited on the VReason's loop.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from vreason.engine.types import Answer, Message, TextPart, VideoPart
from vreason.errors import InvalidRequestError
from vreason.reasoning.image_args import prepare_images
from vreason.reasoning.locate import EXACT_SAMPLING
from vreason.reasoning.token_count import CHARS_PER_TOKEN, TokenCounter, counter_for

if TYPE_CHECKING:
    from vreason.api import VReason
    from vreason.async_api import AsyncVReason, Images, VideoLike

# Used when the engine does not say how long its context is (remote backends): Qwen3-VL serves 256K natively,
# and 32K is what a single-GPU vLLM deployment commonly allows.
DEFAULT_CONTEXT_TOKENS = 32_768
# Kept free between the counted prompt and the context end: chat-template tokens the count cannot see coming.
SAFETY_TOKENS = 8
NOTES_HEADER = "Notes from earlier in this conversation (older turns, condensed):"
DESCRIBE_PROMPT = "Describe this image in one sentence."
DESCRIBE_VIDEO_PROMPT = "Describe what happens in this video in one sentence."
SUMMARY_PROMPT = (
    "Summarise this exchange in one or two sentences. Keep every name, number, colour and the answer.\n\n{exchange}"
)
MERGE_PROMPT = "Merge these notes into a few short sentences. Keep every name, number, colour and answer.\n\n{notes}"


@dataclass(frozen=True)
class ContextPolicy:
    max_prompt_tokens: int | None = None  # None: the model's context minus max_new_tokens
    context_tokens: int | None = None  # None: the engine's max_context, else DEFAULT_CONTEXT_TOKENS
    keep_recent_turns: int = 2  # never condensed while the budget allows
    compact_to: float = 0.6  # a compaction brings the prompt down to this share of the budget
    summarize: bool = True  # False: a pure sliding window (dropped turns keep only a truncated verbatim note)
    note_max_tokens: int = 48  # an exchange up to this long is kept verbatim as its note
    summary_max_new_tokens: int = 64
    notes_share: float = 0.35  # the notes may take at most this share of the budget

    def __post_init__(self) -> None:
        if self.max_prompt_tokens is not None and self.max_prompt_tokens < 16:
            raise InvalidRequestError(f"max_prompt_tokens ({self.max_prompt_tokens}) must be at least 16")
        if self.keep_recent_turns < 0:
            raise InvalidRequestError(f"keep_recent_turns ({self.keep_recent_turns}) must be >= 0")
        if not 0.1 <= self.compact_to <= 1.0:
            raise InvalidRequestError(f"compact_to ({self.compact_to}) must be between 0.1 and 1")
        if not 0.05 <= self.notes_share <= 0.9:
            raise InvalidRequestError(f"notes_share ({self.notes_share}) must be between 0.05 and 0.9")


@dataclass
class Turn:
    user: Message  # the question with its prepared images
    answer: str  # the model's answer (without thinking, as chat templates drop it)


@dataclass
class Note:
    """What is left of one turn that left the window (or of several, once merged)."""

    exchange: str  # "User: ... Assistant: ..." verbatim, or the model's summary of it
    images: list[str] = field(default_factory=list)  # the model's descriptions of the turn's images
    videos: list[str] = field(default_factory=list)  # ... and of its clips

    @property
    def text(self) -> str:
        return " ".join([*(f"[video: {d}]" for d in self.videos), *(f"[image: {d}]" for d in self.images),
                         self.exchange])


@dataclass
class Compaction:
    """One time the window moved: for logs and tests."""

    turns_dropped: int
    images_replaced: int
    summaries_by_model: int  # model requests made: image descriptions, exchange summaries, note merges
    tokens_before: int
    tokens_after: int
    budget: int
    videos_replaced: int = 0


@dataclass
class AsyncManagedConversation:
    vr: AsyncVReason
    system: str | None = None
    policy: ContextPolicy = field(default_factory=ContextPolicy)
    counter: TokenCounter | None = None  # None: exact with a local model, estimated otherwise
    turns: list[Turn] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    compactions: list[Compaction] = field(default_factory=list)
    sent_prompt_tokens: list[int] = field(default_factory=list)  # usage.prompt_tokens of every answered turn

    def __post_init__(self) -> None:
        if self.counter is None:
            self.counter = counter_for(self.vr)

    @property
    def context_tokens(self) -> int:
        return self.policy.context_tokens or int(getattr(self.vr.engine, "max_context", 0) or 0) or (
            DEFAULT_CONTEXT_TOKENS
        )

    def prompt_budget(self, max_new_tokens: int) -> int:
        room = self.context_tokens - max_new_tokens - SAFETY_TOKENS
        if self.policy.max_prompt_tokens is not None:
            room = min(room, self.policy.max_prompt_tokens)
        if room < 16:
            raise InvalidRequestError(
                f"max_new_tokens ({max_new_tokens}) leaves no room for a prompt in the context of "
                f"{self.context_tokens} tokens",
                param="max_new_tokens",
            )
        return room

    def messages(self, question: Message | None = None) -> list[Message]:
        """What is sent: system prompt and notes, the turns in the window, then `question`."""
        out: list[Message] = []
        system = self._system_text(self.notes)
        if system:
            out.append(Message.system(system))
        for turn in self.turns:
            out += [turn.user, Message.assistant(turn.answer)]
        if question is not None:
            out.append(question)
        return out

    async def ask(self, question: str, images: Images = None, *, video: VideoLike = None, **sampling: Any) -> Answer:
        """A question about images and/or one clip (`video=`, as `AsyncVReason.ask` takes it: decoded once
        here, so every later count and request reuses the decoded frames)."""
        from vreason.async_api import as_video_part, user_message

        part = as_video_part(video)
        clip = VideoPart(await self.vr.prepare_video(part), part.sampling) if part is not None else None
        user = user_message(question, await prepare_images(self.vr, images), clip)
        max_new = sampling.get("max_new_tokens") or self.vr.default_sampling.max_new_tokens
        counted = await self._fit(user, self.prompt_budget(max_new))
        answer = await self.vr.chat(self.messages(user), **sampling)
        self.counter.observe(counted, answer.usage.prompt_tokens)
        self.sent_prompt_tokens.append(answer.usage.prompt_tokens)
        self.turns.append(Turn(user, answer.text))
        return answer

    def reset(self) -> None:
        self.turns.clear()
        self.notes.clear()

    # -- the window ------------------------------------------------------------------------------------------

    def _count(self, question: Message) -> int:
        return self.counter.count(self.messages(question))

    async def _fit(self, question: Message, budget: int) -> int:
        before = self._count(question)
        if before <= budget:
            return before
        target = int(budget * self.policy.compact_to)
        dropped: list[Turn] = []
        keep = self.policy.keep_recent_turns
        while len(self.turns) > keep and self._count(question) > target:
            dropped.append(self.turns.pop(0))
        requests = await self._condense(dropped, budget)
        requests += await self._cap_notes(budget)
        # Still too long (large recent turns): the window gives up its recent turns too, oldest first.
        while self.turns and self._count(question) > budget:
            extra = [self.turns.pop(0)]
            requests += await self._condense(extra, budget)
            requests += await self._cap_notes(budget)
            dropped += extra
        after = self._count(question)
        if after > budget and self.notes:
            self.notes.clear()  # the question alone nearly fills the budget: it needs the room more than notes
            after = self._count(question)
        self.compactions.append(Compaction(
            turns_dropped=len(dropped),
            images_replaced=sum(len(t.user.images) for t in dropped),
            videos_replaced=sum(len(t.user.videos) for t in dropped),
            summaries_by_model=requests,
            tokens_before=before,
            tokens_after=after,
            budget=budget,
        ))
        if after > budget:
            raise InvalidRequestError(
                f"the question with its images and clips needs {after} prompt tokens, over the budget of {budget} "
                f"(context {self.context_tokens}); use fewer or smaller images (max_pixels), fewer video frames "
                "(max_frames) or lower max_new_tokens",
                param="messages",
            )
        return after

    async def _condense(self, turns: Sequence[Turn], budget: int) -> int:
        """Notes for `turns`; returns how many model requests it made (all in one batch)."""
        if not turns:
            return 0
        exchanges = [self._exchange(t, budget) for t in turns]
        long_ones = [i for i, e in enumerate(exchanges) if self._text_tokens(e) > self.policy.note_max_tokens]
        images = [(i, img) for i, t in enumerate(turns) for img in t.user.images]
        clips = [(i, clip) for i, t in enumerate(turns) for clip in t.user.videos]
        requests: list[list[Message]] = []
        if self.policy.summarize:
            requests += [[Message.user(SUMMARY_PROMPT.format(exchange=exchanges[i]))] for i in long_ones]
            requests += [[Message.user(DESCRIBE_PROMPT, [img])] for _, img in images]
            requests += [[Message("user", [clip, TextPart(DESCRIBE_VIDEO_PROMPT)])] for _, clip in clips]
        answers = await self._side_requests(requests)
        summaries = dict(zip(long_ones, answers[: len(long_ones)], strict=False))
        descriptions: dict[int, list[str]] = {}
        for (i, _), text in zip(images, answers[len(long_ones):], strict=False):
            descriptions.setdefault(i, []).append(text)
        clip_descriptions: dict[int, list[str]] = {}
        for (i, _), text in zip(clips, answers[len(long_ones) + len(images):], strict=False):
            clip_descriptions.setdefault(i, []).append(text)
        for i, turn in enumerate(turns):
            exchange = summaries.get(i) or self._truncate(exchanges[i], self.policy.note_max_tokens)
            shown = descriptions.get(i) or (["no longer shown"] * len(turn.user.images))
            watched = clip_descriptions.get(i) or (["no longer shown"] * len(turn.user.videos))
            self.notes.append(Note(exchange, shown, watched))
        return len(requests)

    async def _cap_notes(self, budget: int) -> int:
        limit = int(budget * self.policy.notes_share)
        for note in self.notes:  # oldest first
            if self._notes_tokens() <= limit:
                return 0
            note.images = []
            note.videos = []
        if self._notes_tokens() <= limit:
            return 0
        requests = 0
        if self.policy.summarize and len(self.notes) > 1:
            joined = "\n".join(f"- {n.text}" for n in self.notes)
            prompt = MERGE_PROMPT.format(notes=self._truncate(joined, budget // 2))
            self.notes = [Note((await self._side_requests([[Message.user(prompt)]]))[0])]
            requests = 1
        while len(self.notes) > 1 and self._notes_tokens() > limit:
            self.notes.pop(0)
        if self.notes and self._notes_tokens() > limit:
            self.notes = [Note(self._truncate(self.notes[0].text, max(limit - 16, 8)))]
        return requests

    async def _side_requests(self, requests: list[list[Message]]) -> list[str]:
        if not requests:
            return []
        params = {**EXACT_SAMPLING, "max_new_tokens": self.policy.summary_max_new_tokens}
        return [" ".join(a.text.split()) for a in await self.vr.chat_many(requests, **params)]

    def _system_text(self, notes: Sequence[Note]) -> str:
        parts = [self.system] if self.system else []
        if notes:
            parts.append(NOTES_HEADER + "\n" + "\n".join(f"- {n.text}" for n in notes))
        return "\n\n".join(parts)

    def _notes_tokens(self) -> int:
        return self.counter.count([Message.system(self._system_text(self.notes))]) - (
            self.counter.count([Message.system(self.system)]) if self.system else 0
        )

    def _text_tokens(self, text: str) -> int:
        return self.counter.count([Message.user(text)])

    def _exchange(self, turn: Turn, budget: int) -> str:
        text = f"User: {turn.user.text}\nAssistant: {turn.answer}"
        return self._truncate(text, budget // 2)

    @staticmethod
    def _truncate(text: str, tokens: int) -> str:
        limit = max(8, int(tokens * CHARS_PER_TOKEN))
        flat = " ".join(text.split())
        return flat if len(flat) <= limit else flat[: limit - 3].rstrip() + "..."



class ManagedConversation:
    """The blocking form of `AsyncManagedConversation` over a `VReason`: the same window and state, each `ask`
    awaited on the VReason's own loop."""

    def __init__(self, vr: VReason, system: str | None = None, policy: ContextPolicy | None = None,
                 counter: TokenCounter | None = None):
        self.vr = vr
        self.aio = AsyncManagedConversation(vr.aio, system, policy or ContextPolicy(), counter)

    def ask(self, question: str, images: Images = None, *, video: VideoLike = None, **sampling: Any) -> Answer:
        return self.vr.run(self.aio.ask(question, images, video=video, **sampling))

    def messages(self, question: Message | None = None) -> list[Message]:
        return self.aio.messages(question)

    def prompt_budget(self, max_new_tokens: int) -> int:
        return self.aio.prompt_budget(max_new_tokens)

    def reset(self) -> None:
        self.aio.reset()

    @property
    def system(self) -> str | None:
        return self.aio.system

    @property
    def policy(self) -> ContextPolicy:
        return self.aio.policy

    @property
    def counter(self) -> TokenCounter:
        return self.aio.counter  # type: ignore[return-value]

    @property
    def context_tokens(self) -> int:
        return self.aio.context_tokens

    @property
    def turns(self) -> list[Turn]:
        return self.aio.turns

    @property
    def notes(self) -> list[Note]:
        return self.aio.notes

    @property
    def compactions(self) -> list[Compaction]:
        return self.aio.compactions

    @property
    def sent_prompt_tokens(self) -> list[int]:
        return self.aio.sent_prompt_tokens
