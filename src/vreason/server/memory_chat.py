"""The opt-in `memory` field of POST /v1/chat/completions: recall into the prompt, say which items were used.

    {"model": ..., "messages": [...], "memory": {"recall": true, "write": false, "k": 5, "session": "s1"}}

The memory is always the one of the request's API key's user; `memory.user` may be given, but only as that
same name (a 400 otherwise). With `recall`, the notes of the best `k` items (`[m42] 2026-11-30, session s1: ...`)
join the system message and recalled pictures the last user turn (`AsyncMemory.prepare`). A "Remember: ..." or
"Forget ..." turn is answered by memory, not the model, as `vreason ask --user` does: carried out and confirmed
with `write`, else the answer says nothing was written (no memory is written unless asked). A whole (not
streamed) answer that cites nothing, to a question a recalled picture's facts answer (a colour, a count), is
that fact with its ids, as `vreason ask --user` answers too. The completion keeps OpenAI's shape and gains one
top-level field (the `openai` client keeps it as an extra attribute):

    "vreason": {"memory": {"user": "ana", "recalled": ["m3", "m1"], "cited": ["m3"], "used": ["m3"],
                           "written": ["m7"], "forgotten": 0}}

`cited` are the recalled ids the answer writes (`[m3]`); `used`, those cited, else every id put into the prompt.
A streamed answer carries the same object in one last chunk with no choices, before `data: [DONE]`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from vreason.server.users import request_user

if TYPE_CHECKING:  # protocol.py imports this module: nothing heavy at import time
    from vreason.server.memory_access import ServerMemory


class MemoryOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user: str | None = Field(default=None, max_length=128)  # only the key's own user
    recall: bool = True
    write: bool = False
    k: int = Field(default=5, ge=1, le=50)
    session: str | None = Field(default=None, max_length=128)


@dataclass
class MemoryTurn:
    """One completion's memory: the prepared turn of `AsyncMemory.prepare` and what `finish` reported."""

    memory: Any  # AsyncMemory
    turn: Any  # what AsyncMemory.prepare returned
    options: MemoryOptions
    user: str
    report: dict[str, Any] = field(default_factory=dict)
    reply: str | None = None  # memory's own answer to a remember / forget turn
    answer_text: str | None = None  # the first choice's text, once a stream has it
    text: str = ""  # the first choice's text to send (the model's, or the facts answer, see `finish`)

    @property
    def messages(self) -> list:
        return self.turn.messages

    @property
    def reply_without_model(self) -> bool:
        """A remember / forget turn: memory answers it (done with `write`, else saying it was not), the model is
        not asked."""
        return bool(self.turn.reply_without_model)

    async def finish(self, text: str, from_facts: bool = False) -> dict[str, Any]:
        """Carry out a remember/forget (with `write`), find the cited ids; returns the `vreason` field.

        `from_facts` (a whole answer, not a stream already sent): when the answer cites nothing and the question
        asks for what a recalled picture's facts hold (a colour, a count...), `text` becomes that value with its
        ids, as `vreason ask --user` answers (memory/turn.py: the facts are the model's own words about the picture).
        """
        result = await self.memory.finish(self.turn, text, write=self.options.write)
        self.text = text
        if from_facts and not result.cited and self.turn.request is None:
            from vreason.memory.turn import fact_answer

            fact = await fact_answer(self.memory, self.turn.question, self.turn.recalled)
            if fact is not None:
                value, ids = fact
                cite = " ".join(f"[{i}]" for i in ids)
                self.text = f"{text.strip()} {cite}" if value.lower() in text.lower() else f"{value} {cite}"
                result.cited, result.used = ids, ids
        self.report = {
            "memory": {
                "user": self.user,
                "recalled": list(self.turn.in_prompt),
                "cited": list(result.cited),
                "used": list(result.used),
                "written": [item.id for item in result.written],
                "forgotten": int(result.forgotten),
            }
        }
        self.reply = getattr(result, "reply", None)
        return self.report


async def prepare_turn(access: ServerMemory, options: MemoryOptions, http: Any, messages: list) -> MemoryTurn:
    """Recall for `messages` (already resolved under the media policy) in the memory of the request's user."""
    memory = access.for_request(http, session=options.session, user=options.user)
    turn = await memory.prepare(messages, recall=options.recall, k=options.k)
    return MemoryTurn(memory, turn, options, request_user(http))


async def with_memory_chunk(
    chunks: AsyncIterator[str],
    turn: MemoryTurn,
    chunk_of: Callable[[dict], str],
    error_of: Callable[[BaseException], str],
) -> AsyncIterator[str]:
    """A stream's SSE pieces, with the memory report as one last chunk before `data: [DONE]` (the first answer's
    text, which the stream's on_answer left in `turn.answer_text`, is what `finish` reads for citations). A
    failure there goes out as an error chunk, as any error after the first byte does, and the stream still ends."""
    async for piece in chunks:
        if piece.startswith("data: [DONE]") and not turn.report:
            try:
                await turn.finish(turn.answer_text or "")
                yield chunk_of(turn.report)
            except Exception as exc:
                yield error_of(exc)
        yield piece
