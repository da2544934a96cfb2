"""How answers reach the terminal: the answer on stdout, thinking and notices on stderr (so pipes get
only the answer), or one JSON object with --json."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable

from rich.console import Console

from vreason.engine.types import Answer, StreamDelta

err_console = Console(stderr=True, highlight=False, soft_wrap=True)


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
        err_console.print(f"[dim]<think>\n{answer.thinking}\n</think>[/dim]", markup=True)
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
                err_console.print("[dim]<think>[/dim]", markup=True)
                in_thinking = True
            err_console.print(f"[dim]{event.text}[/dim]", end="", markup=True)
        else:
            if in_thinking:
                err_console.print("[dim]\n</think>[/dim]", markup=True)
                in_thinking = False
            sys.stdout.write(event.text)
            sys.stdout.flush()
    if in_thinking:
        err_console.print("[dim]\n</think>[/dim]", markup=True)
    sys.stdout.write("\n")
    sys.stdout.flush()
    return final


def print_stats(answer: Answer) -> None:
    t, u = answer.timings, answer.usage
    err_console.print(
        f"[dim]{u.prompt_tokens} prompt + {u.completion_tokens} generated tokens, "
        f"first token {t.ttft_s * 1000:.0f} ms, {answer.tokens_per_s:.1f} tok/s, {t.total_s:.2f} s total "
        f"({answer.finish_reason})[/dim]",
        markup=True,
    )
