"""What the chatbot shows for a conversation's turns, and which turn a shown message belongs to.

The turns (`conversation_store.Turn`) are the one record of a conversation; the chatbot's messages are drawn
from them every time, so reopening, editing and regenerating never have to patch a display list by hand.

Text from the user and the model is Markdown (lists, tables, code fences render) but never HTML: `<` and `&`
outside code are escaped before Gradio renders it, so `<img onerror=...>` or `<script>` in a question or an
answer shows as text. Code spans and fences are left alone (Markdown shows their content literally already),
so code keeps its `<` and `&`. Gradio's own sanitizer stays on as a second line.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from vreason.ui.conversation_store import Turn

THINKING_TITLE = "Thinking"
EMPTY_ANSWER = "(empty answer)"
# a fence runs to its closing fence or, while an answer is still streaming in, to the end of the text
_CODE = re.compile(r"(```[\s\S]*?(?:```|$)|~~~[\s\S]*?(?:~~~|$)|`[^`\n]+`)")


def safe_markdown(text: str) -> str:
    """`text` as Markdown with any HTML outside code shown literally."""
    pieces = _CODE.split(text)
    # split() with one group: even indexes are prose, odd ones the code matched
    # only `&` and `<` make HTML; `>` stays, so "> quoted" is still a blockquote
    return "".join(piece if i % 2 else piece.replace("&", "&amp;").replace("<", "&lt;")
                   for i, piece in enumerate(pieces))


@dataclass(frozen=True)
class Shown:
    """One chatbot message and the turn it came from (None: not part of a turn)."""

    message: dict[str, Any]
    turn: int


def answer_messages(turn: Turn, *, done: bool, thinking_s: float | None = None) -> list[dict[str, Any]]:
    """The model's side of a turn: its reasoning as a collapsible block (closed once done), then the answer with
    its stats line under it."""
    out: list[dict[str, Any]] = []
    if turn.thinking:
        metadata: dict[str, Any] = {"title": THINKING_TITLE, "status": "done" if done else "pending"}
        if thinking_s is not None:
            metadata["duration"] = round(thinking_s, 2)
        out.append({"role": "assistant", "content": safe_markdown(turn.thinking), "metadata": metadata})
    if turn.answer or done:
        text = safe_markdown(turn.answer) if turn.answer else EMPTY_ANSWER
        if done and (turn.stats or turn.stopped):
            stats = " · ".join(p for p in ("stopped" if turn.stopped else "", turn.stats) if p)
            text += f"\n\n<sub class=\"vr-stats\">{html.escape(stats)}</sub>"
        out.append({"role": "assistant", "content": text})
    return out


def question_messages(turn: Turn, image_path: Callable[[str], str]) -> list[dict[str, Any]]:
    """The user's side of a turn: each clip's contact sheet, each image, then the question with a line under it
    per clip saying how many frames the model saw (Gradio's chatbot does not show an image's alt text)."""
    out = [{"role": "user", "content": {"path": image_path(clip.sheet), "alt_text": clip.caption}}
           for clip in turn.videos]
    out += [{"role": "user", "content": {"path": image_path(name)}} for name in turn.images]
    text = safe_markdown(turn.question)
    for clip in turn.videos:
        text += f"\n\n<sub class=\"vr-clip\">Video: {html.escape(clip.caption)}</sub>"
    out.append({"role": "user", "content": text})
    return out


def shown_turns(turns: list[Turn], image_path: Callable[[str], str]) -> list[Shown]:
    """Every finished turn's messages: its clips' contact sheets, its images, its question, then the answer."""
    shown: list[Shown] = []
    for index, turn in enumerate(turns):
        shown += [Shown(m, index) for m in question_messages(turn, image_path)]
        shown += [Shown(m, index) for m in answer_messages(turn, done=True)]
    return shown


def display(turns: list[Turn], image_path: Callable[[str], str]) -> list[dict[str, Any]]:
    return [s.message for s in shown_turns(turns, image_path)]


def turn_of(turns: list[Turn], image_path: Callable[[str], str], index: int) -> int:
    """The turn the chatbot's message number `index` belongs to (for edit and retry events)."""
    shown = shown_turns(turns, image_path)
    if not 0 <= index < len(shown):
        return len(turns) - 1
    return shown[index].turn
