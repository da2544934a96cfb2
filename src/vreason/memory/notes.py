"""A conversation condensed into one memory note (`kind="note"`), when the user asks to keep it.

The exchange is written as "User: ... / Assistant: ..." lines (pictures as "[picture]"); up to `VERBATIM_CHARS`
it is kept as it is, longer ones are summarised by the model with the long-context summariser's instruction
(keep every name, number, colour and answer: reasoning/context_budget.py, whose prompt this repeats because
reasoning/ sits above the Python API that imports this package). A summary that says nothing (a small model)
falls back to the exchange cut to `VERBATIM_CHARS`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from vreason.engine.types import ImagePart, Message, TextPart

if TYPE_CHECKING:
    from vreason.async_api import AsyncVReason

VERBATIM_CHARS = 600
NOTE_PROMPT = (
    "Summarise this conversation in two or three sentences. Keep every name, number, colour and the answers.\n\n"
    "{exchange}"
)
NOTE_SAMPLING = {"temperature": 0.0, "presence_penalty": 0.0, "max_new_tokens": 128}


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
