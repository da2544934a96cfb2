"""What the CLI writes to the terminal: model and user text reach stderr exactly as written, brackets included
(rich must not read `[b]` or `[agreement ...]` as markup and drop it)."""

from __future__ import annotations

from vreason.cli.render import notice, print_answer, print_stream
from vreason.engine.types import Answer, StreamDelta, Timings, Usage

BRACKETED = 'look at [b]this[/b] and [{"bbox_2d": [1, 2, 3, 4]}] [agreement 100% of 5] [dim]'


def answer(text: str, thinking: str | None = None) -> Answer:
    return Answer(text=text, thinking=thinking, finish_reason="stop", usage=Usage(1, 1), timings=Timings())


def test_notice_prints_brackets_as_written(capsys):
    notice(BRACKETED)
    assert capsys.readouterr().err == BRACKETED + "\n"


def test_thinking_with_brackets_reaches_stderr_whole(capsys):
    print_answer(answer("blue [2 box(es)]", thinking=BRACKETED))
    out, err = capsys.readouterr()
    assert out == "blue [2 box(es)]\n"
    assert err == f"<think>\n{BRACKETED}\n</think>\n"


def test_streamed_thinking_with_brackets_reaches_stderr_whole(capsys):
    print_stream([StreamDelta("thinking", "[red]"), StreamDelta("thinking", " or [/red]?"),
                  StreamDelta("text", "[red]"), answer("[red]")])
    out, err = capsys.readouterr()
    assert out == "[red]\n"
    assert err == "<think>\n[red] or [/red]?\n</think>\n"
