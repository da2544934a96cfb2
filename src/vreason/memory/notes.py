"""A conversation condensed into one memory note (`kind="note"`), when the user asks to keep it.

Asked once (`/remember`, `remember_conversation`), or for the whole session (`vreason chat --keep-notes`,
`vr.conversation(memory=mem, keep_notes=True)`): then a `NoteKeeper` condenses the turns not yet in a note when
the session ends, and, once, the older turns when the conversation grows long (`long_split`). Without it nothing
is written: no memory is written unless asked for.

The exchange is written as "User: ... / Assistant: ..." lines (pictures as "[picture]"); up to `VERBATIM_CHARS`
it is kept as it is, longer ones are summarised by the model with the long-context summariser's instruction
(keep every name, number, colour and answer: reasoning/context_budget.py, whose prompt this repeats because
reasoning/ sits above the Python API that imports this package). A summary that says nothing (a small model)
falls back to the exchange cut to `VERBATIM_CHARS`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

from vreason.engine.types import ImagePart, Message, TextPart

if TYPE_CHECKING:
    from vreason.async_api import AsyncVReason
    from vreason.memory.types import MemoryItem

VERBATIM_CHARS = 600
NOTE_PROMPT = (
    "Summarise this conversation in two or three sentences. Keep every name, number, colour and the answers.\n\n"
    "{exchange}"
)
NOTE_SAMPLING = {"temperature": 0.0, "presence_penalty": 0.0, "max_new_tokens": 128}

# "Grows long": more than LONG_TURNS user turns, or a prompt past LONG_SHARE of the model's context. A note is two
# or three sentences (NOTE_PROMPT, 128 tokens at most): about eight turns is as much as that still carries every
# name, number and colour of. Half the context: the summariser's prompt is those turns' text (pictures as
# "[picture]", so never longer than the chat's own prompt), so condensing by then always fits it and its answer in
# the context, and it happens before the context budget's sliding window starts dropping turns.
LONG_TURNS = 8
LONG_SHARE = 0.5
KEEP_RECENT_TURNS = 2  # the latest turns are left to the session-end note, so the two notes do not overlap


def exchange_text(messages: Sequence[Message | dict[str, Any]]) -> str:
    lines = []
    for message in messages:
        parsed = message if isinstance(message, Message) else Message.from_dict(message)
        if parsed.role == "system":
            continue
        words = " ".join(
            "[picture]" if isinstance(part, ImagePart) else part.text if isinstance(part, TextPart) else "[video]"
            for part in parsed.content
        )
        lines.append(f"{parsed.role.capitalize()}: {' '.join(words.split())}")
    return " ".join(lines)


async def condense(vr: AsyncVReason | None, messages: Sequence[Message | dict[str, Any]]) -> str:
    exchange = exchange_text(messages)
    if len(exchange) <= VERBATIM_CHARS or vr is None:
        return exchange[:VERBATIM_CHARS]
    answer = await vr.chat([Message.user(NOTE_PROMPT.format(exchange=exchange))], **NOTE_SAMPLING)
    summary = " ".join(answer.text.split())
    return summary if len(summary.split()) >= 5 else exchange[:VERBATIM_CHARS]


def long_split(messages: Sequence[Message], prompt_tokens: int = 0, context_tokens: int = 0) -> int | None:
    """Where the older turns end (an index into `messages`) when the conversation is long, else None: everything
    before the `KEEP_RECENT_TURNS` latest user turns."""
    starts = [i for i, m in enumerate(messages) if m.role == "user"]
    long = len(starts) > LONG_TURNS or (context_tokens > 0 and prompt_tokens > LONG_SHARE * context_tokens)
    if not long or len(starts) <= KEEP_RECENT_TURNS:
        return None
    return starts[-KEEP_RECENT_TURNS]


class WritesNotes(Protocol):  # memory/sync.py's Memory
    def remember_conversation(self, messages: Sequence[Any]) -> MemoryItem: ...


class NoteKeeper:
    """The notes of one conversation whose user asked to keep them: `after_turn` condenses the older turns once
    the conversation is long (once only), `at_end` what is not in a note yet. `notes` lists what was written."""

    def __init__(self, memory: WritesNotes, context_tokens: int = 0):
        self.memory = memory
        self.context_tokens = context_tokens
        self.start = 0  # messages before this index are in a note already
        self.condensed_long = False
        self.notes: list[MemoryItem] = []

    def after_turn(self, messages: Sequence[Message], prompt_tokens: int) -> MemoryItem | None:
        if self.condensed_long:
            return None
        split = long_split(messages[self.start :], prompt_tokens, self.context_tokens)
        if split is None:
            return None
        self.condensed_long = True  # tried once: a failed note leaves these turns to the session-end note
        note = self._write(messages[self.start : self.start + split])
        self.start += split
        return note

    def at_end(self, messages: Sequence[Message]) -> MemoryItem | None:
        note = self._write(messages[self.start :])
        self.start = len(messages)
        return note

    def restart(self) -> None:
        """A new conversation in the same session (`reset`): long again counts from its first turn."""
        self.start, self.condensed_long = 0, False

    def _write(self, messages: Sequence[Message]) -> MemoryItem | None:
        if not any(m.role != "system" for m in messages):
            return None
        note = self.memory.remember_conversation(list(messages))
        self.notes.append(note)
        return note
