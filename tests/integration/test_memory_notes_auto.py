"""Conversation notes kept automatically, only when asked: `vr.conversation(memory=mem, keep_notes=True)` and
`vreason chat --user NAME --keep-notes` condense the conversation into a memory note when the session ends
(close, `with` exit, reset, /exit, end of input), and the older turns once when it grows long; without the flag
nothing is written. On the built-in demo model and a real SQLite store."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli_in_process import run_vreason
from vreason.engine.types import Message
from vreason.memory import AsyncMemory, Memory, open_store
from vreason.memory.notes import KEEP_RECENT_TURNS, LONG_TURNS, NoteKeeper, long_split

ROOT = Path(__file__).resolve().parents[2]
SHAPES = str(ROOT / "examples" / "shapes.png")  # one red circle
SHORT = {"temperature": 0.0, "max_new_tokens": 4}


@pytest.fixture(scope="module")
def demo():
    from vreason import VReason

    return VReason()


def notes(mem: Memory) -> list[str]:
    return [item.text for item in mem.list(kind="note")]


def turns(count: int) -> list[Message]:
    out = [Message.system("be brief")]
    for i in range(1, count + 1):
        out += [Message.user(f"question {i}"), Message.assistant(f"answer {i}")]
    return out


def test_long_means_more_turns_or_half_the_context():
    assert long_split(turns(LONG_TURNS)) is None
    split = long_split(turns(LONG_TURNS + 1))
    # everything but the latest turns: the system message and the first LONG_TURNS + 1 - KEEP_RECENT_TURNS turns
    assert split == 1 + 2 * (LONG_TURNS + 1 - KEEP_RECENT_TURNS)
    assert long_split(turns(3), prompt_tokens=2000, context_tokens=4096) is None
    assert long_split(turns(3), prompt_tokens=2100, context_tokens=4096) == 1 + 2 * (3 - KEEP_RECENT_TURNS)
    assert long_split(turns(KEEP_RECENT_TURNS), prompt_tokens=4000, context_tokens=4096) is None  # nothing older
    assert long_split(turns(3), prompt_tokens=10**6, context_tokens=0) is None  # context unknown: turns only


def test_note_keeper_condenses_older_turns_once_then_the_rest(tmp_path):
    mem = Memory(AsyncMemory(open_store(None, str(tmp_path)), "ana"))  # no model: notes are the exchange itself
    keeper = NoteKeeper(mem)
    history = turns(LONG_TURNS + 1)
    older = keeper.after_turn(history, 0)
    assert older is not None
    assert older.kind == "note"
    assert "question 1 " in older.text
    assert f"question {LONG_TURNS}" not in older.text
    history = turns(2 * LONG_TURNS + 2)
    assert keeper.after_turn(history, 0) is None  # once, not again
    rest = keeper.at_end(history)
    assert f"question {LONG_TURNS} " in rest.text
    assert "question 1 " not in rest.text
    assert keeper.at_end(history) is None  # nothing new since
    assert [n.id for n in keeper.notes] == [older.id, rest.id]
    assert notes(mem)
    assert len(notes(mem)) == 2


@pytest.mark.slow
def test_without_keep_notes_nothing_is_written(demo, memory_dir):
    mem = demo.memory(user="ana")
    with demo.conversation(memory=mem) as conv:
        conv.ask("What color is the shape?", images=[SHAPES], **SHORT)
        conv.ask("And its shape?", **SHORT)
        conv.reset()
        conv.ask("Anything else?", **SHORT)
    assert conv.close() is None
    assert mem.stats().items == 0


@pytest.mark.slow
def test_session_end_writes_one_note(demo, memory_dir):
    mem = demo.memory(user="ana")
    with demo.conversation(memory=mem, keep_notes=True) as conv:
        conv.ask("What color is the shape?", images=[SHAPES], temperature=0.0)
        assert notes(mem) == []  # short: nothing until the session ends
    (note,) = notes(mem)
    assert note.startswith("User: [picture] What color is the shape? Assistant: red")
    assert conv.close() is None
    assert len(notes(mem)) == 1
    with pytest.raises(ValueError, match="keep_notes needs a memory"):
        demo.conversation(keep_notes=True)


@pytest.mark.slow
def test_long_conversation_is_condensed_once(demo, memory_dir):
    mem = demo.memory(user="ana")
    conv = demo.conversation(memory=mem, keep_notes=True)
    for i in range(1, LONG_TURNS + 1):
        conv.ask(f"question {i}", **SHORT)
    assert notes(mem) == []
    conv.ask(f"question {LONG_TURNS + 1}", **SHORT)
    (older,) = notes(mem)
    assert "question 1 " in older
    assert f"question {LONG_TURNS}" not in older
    for i in range(LONG_TURNS + 2, LONG_TURNS + 5):
        conv.ask(f"question {i}", **SHORT)
    assert len(notes(mem)) == 1  # once, not again
    rest = conv.close()
    assert f"question {LONG_TURNS + 4}" in rest.text
    assert "question 1 " not in rest.text
    assert len(notes(mem)) == 2


@pytest.mark.slow
def test_cli_chat_keep_notes(memory_dir, tmp_path):
    env = {"VREASON_CHAT_HISTORY": str(tmp_path / "history")}
    args = ["chat", "--user", "ana", "--temperature", "0", "--max-new-tokens", "4"]
    script = f"/image {SHAPES}\nWhat color is the shape?\n"  # then end of input, as Ctrl-D
    plain = run_vreason(*args, stdin=script, env=env)
    assert plain.returncode == 0, plain.stderr
    assert "kept as note" not in plain.stdout
    assert "[m" not in run_vreason("memory", "list", "--user", "ana").stdout  # nothing written

    kept = run_vreason(*args, "--keep-notes", stdin=script + "/exit\n", env=env)
    assert kept.returncode == 0, kept.stderr
    assert "(kept as note [m1]: User: [picture] What color is the shape? Assistant: red" in kept.stdout
    listed = run_vreason("memory", "list", "--user", "ana", "--kind", "note")
    assert "What color is the shape?" in listed.stdout

    alone = run_vreason("chat", "--keep-notes", "--no-memory", stdin="", env=env)
    assert alone.returncode != 0
    assert "--keep-notes needs a memory" in alone.stderr
