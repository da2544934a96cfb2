"""Memory with the built-in demo model, end to end: a picture shown with "Remember: this is part #17" is stored
with the model's own facts; a later session's "what colour was part #17?" recalls it, attaches the picture, and
answers with the ids it came from; another user gets nothing. Through the Python API, a conversation, and the CLI
(`vreason ask --user`, in this process and in two fresh processes)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from vreason.engine.types import ImagePart
from vreason.memory.turn import NOTHING_RECALLED

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
SHAPES = str(ROOT / "examples" / "shapes.png")  # one red circle
QUESTION = "what colour was part #17?"


@pytest.fixture(scope="module")
def demo():
    from vreason import VReason

    return VReason()


def test_remember_then_recall_in_a_later_session(demo, memory_dir):
    monday = demo.memory(user="ana", session="monday")
    stored = monday.answer("Remember: this is part #17", images=[SHAPES])
    assert stored.answer is None  # carried out by memory, no model answer
    picture, fact = stored.written
    assert (picture.kind, fact.kind, fact.text) == ("image", "fact", "this is part #17")
    assert picture.facts["facts"]["color"] == "red"  # the demo model's own words when it first saw it
    assert stored.text == f"Remembered [{picture.id}] [{fact.id}]: this is part #17"

    later = demo.memory(user="ana", session="friday")
    turn = later.prepare([{"role": "user", "content": QUESTION}])
    assert turn.recalled[0].id == fact.id
    assert turn.messages[0].role == "system"
    assert f"[{fact.id}] " in turn.messages[0].text
    assert f"about picture {picture.id}" in turn.messages[0].text
    assert isinstance(turn.messages[1].content[0], ImagePart)  # the picture goes with the question
    assert turn.pictures == [picture.id]
    answer = later.answer(QUESTION, temperature=0.0)
    assert "red" in answer.text.split(" [")[0]  # the colour in the answer itself, before its citations
    assert set(answer.cited) == {fact.id, picture.id}
    assert f"[{fact.id}]" in answer.text

    bob = demo.memory(user="bob")
    theirs = bob.answer(QUESTION, temperature=0.0)
    assert theirs.recalled == []
    assert theirs.cited == []
    # nothing of his matches and there is no picture: the demo model is not asked to guess (it said "red")
    assert (theirs.text, theirs.answer) == (NOTHING_RECALLED, None)
    with_picture = bob.answer("what colour is the shape?", images=[SHAPES], temperature=0.0)
    assert with_picture.answer is not None  # his own picture: the model looks
    assert with_picture.text == "red"


def test_writes_only_when_asked(demo, memory_dir):
    mem = demo.memory(user="ana")
    mem.answer("What color is the shape?", images=[SHAPES], temperature=0.0)
    assert mem.list() == []  # a question writes nothing
    off = mem.answer("Remember: this is part #9", images=[SHAPES], write=False)
    assert off.written == []
    assert "Not remembered" in off.text
    assert mem.list() == []


def test_conversation_with_memory(demo, memory_dir):
    mem = demo.memory(user="ana")
    conv = demo.conversation(memory=mem)
    reply = conv.ask("Remember: this is part #17", images=[SHAPES])
    assert reply.text.startswith("Remembered [m")
    assert [i.kind for i in conv.last_memory.written] == ["image", "fact"]
    conv.ask("Which part is it?")
    assert conv.last_memory.used  # the recalled ids that went into the prompt
    conv.ask("Forget part #17")
    assert conv.last_memory.forgotten == 2
    assert mem.list() == []


def test_cli_ask_with_user(memory_dir, monkeypatch):
    from vreason.cli.app import build_app
    from vreason.memory import store as store_module

    app = build_app(["ask", "memory"])
    runner = CliRunner()
    stored = runner.invoke(app, ["ask", SHAPES, "Remember: this is part #17", "--user", "ana"])
    assert stored.exit_code == 0, stored.output
    assert "Remembered [m1] [m2]: this is part #17" in stored.stdout
    store_module._STORES.clear()  # what a new process would see: the file only
    recalled = runner.invoke(app, ["ask", QUESTION, "--user", "ana", "--json", "--temperature", "0"])
    assert recalled.exit_code == 0, recalled.output
    data = json.loads(recalled.stdout)
    assert data["answer"] == "red [m2] [m1]"
    assert data["memory"]["cited"] == ["m2", "m1"]
    other = runner.invoke(app, ["ask", QUESTION, "--user", "bob", "--json", "--temperature", "0"])
    assert json.loads(other.stdout)["memory"]["recalled"] == []
    listed = runner.invoke(app, ["memory", "list", "--user", "ana"])
    assert "this is part #17" in listed.stdout
    assert "(2 memories, 1 picture" in listed.stdout
    assert runner.invoke(app, ["memory", "list", "--user", "bob"]).stdout.startswith("(0 memories")
    no_user = runner.invoke(app, ["ask", QUESTION])
    assert no_user.exit_code != 0


@pytest.mark.heavy
def test_done_when_two_processes(tmp_path):
    """The issue's check as a user runs it: two `vreason ask` processes sharing only the memory file."""
    env = {**os.environ, "VREASON_MEMORY_DIR": str(tmp_path)}
    cli = [sys.executable, "-m", "vreason.cli.app", "ask"]

    def ask(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([*cli, *args], capture_output=True, text=True, timeout=300, env=env)

    first = ask(SHAPES, "Remember: this is part #17", "--user", "ana")
    assert first.returncode == 0, first.stderr
    second = ask(QUESTION, "--user", "ana", "--temperature", "0")
    assert second.returncode == 0, second.stderr
    assert second.stdout.strip() == "red [m2] [m1]"
    assert "memory: [m2]" in second.stderr
    third = ask(QUESTION, "--user", "bob", "--temperature", "0")
    assert third.stdout.strip() == NOTHING_RECALLED
    assert "[m" not in third.stdout


def test_chat_remember_keeps_the_conversation_as_a_note(memory_dir):
    from vreason.cli.app import build_app

    lines = f"/image {SHAPES}\nWhat color is the shape?\n/remember\n"
    result = CliRunner().invoke(build_app(["chat"]), ["chat", "--user", "ana", "--temperature", "0"], input=lines)
    assert result.exit_code == 0, result.output
    assert "(remembered as [m1]: User: [picture] What color is the shape? Assistant: red" in result.stdout
    listed = CliRunner().invoke(build_app(["memory"]), ["memory", "list", "--user", "ana", "--kind", "note"])
    assert "User: [picture] What color is the shape? Assistant: red" in listed.stdout


def test_a_demo_model_from_a_folder_is_asked_the_demo_question_forms(tmp_path, memory_dir, vr):
    """Memory asks a picture's facts in the forms the model was trained on: a copy of the built-in model in a
    folder of its own (as a fine-tune or a recipe run is) gets the demo's shapes-world forms, the tiny random model
    with Qwen's tokenizer the general ones."""
    from vreason import VReason
    from vreason.memory.describe import GENERAL_QUESTIONS, SHAPES_QUESTIONS
    from vreason.models.demo import SHIPPED_DIR

    folder = tmp_path / "my-demo-finetune"
    shutil.copytree(SHIPPED_DIR, folder)
    copy = VReason(str(folder))
    assert copy.model_name == str(folder)
    assert copy.demo_family
    assert not vr.demo_family
    stored = copy.memory(user="ana").answer("Remember: this is part #17", images=[SHAPES])
    facts = stored.written[0].facts["facts"]
    assert facts["color"] == "red"
    assert facts["shape"] == "circle"
    assert set(facts) <= set(SHAPES_QUESTIONS) - {"description"}
    general = vr.memory(user="bo").answer("Remember: this is part #18", images=[SHAPES])
    assert set(general.written[0].facts["facts"]) <= set(GENERAL_QUESTIONS) - {"description"}
