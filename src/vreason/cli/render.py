"""How answers reach the terminal: the answer on stdout, thinking and notices on stderr (so pipes get
only the answer), or one JSON object with --json.

Text that reaches rich (`notice`) is printed as plain text, never read as markup: prompts, answers, paths and
labels hold brackets (`[agreement 100% of 5]`, `[{"bbox_2d": ...}]`) that rich would otherwise eat as tags.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable

from rich.console import Console
from rich.text import Text

from vreason.engine.types import Answer, StreamDelta

err_console = Console(stderr=True, highlight=False, soft_wrap=True)
NOTICE_STYLE = "dim"


def notice(text: str, end: str = "\n") -> None:
    """`text` dimmed on stderr, exactly as written (no markup, no highlighting)."""
    err_console.print(Text(text, style=NOTICE_STYLE), end=end)


def answer_json(answer: Answer) -> str:
    data = answer.to_dict()
    return json.dumps(
        {
            "answer": data["text"],
            "thinking": data["thinking"],
            "finish_reason": data["finish_reason"],
            "model": data["model"],
            "usage": data["usage"],
            "timings": {k: round(v, 4) for k, v in data["timings"].items()},
        },
        ensure_ascii=False,
    )


def print_answer(answer: Answer) -> None:
    if answer.thinking:
        notice(f"<think>\n{answer.thinking}\n</think>")
    print(answer.text, flush=True)


def print_stream(events: Iterable[StreamDelta | Answer]) -> Answer | None:
    """Write deltas as they arrive; returns the final answer."""
    final = None
    in_thinking = False
    for event in events:
        if isinstance(event, Answer):
            final = event
        elif event.channel == "thinking":
            if not in_thinking:
                notice("<think>")
                in_thinking = True
            notice(event.text, end="")
        else:
            if in_thinking:
                notice("\n</think>")
                in_thinking = False
            sys.stdout.write(event.text)
            sys.stdout.flush()
    if in_thinking:
        notice("\n</think>")
    sys.stdout.write("\n")
    sys.stdout.flush()
    return final


def print_stats(answer: Answer) -> None:
    t, u = answer.timings, answer.usage
    notice(
        f"{u.prompt_tokens} prompt + {u.completion_tokens} generated tokens, "
        f"first token {t.ttft_s * 1000:.0f} ms, {answer.tokens_per_s:.1f} tok/s, {t.total_s:.2f} s total "
        f"({answer.finish_reason})"
    )
