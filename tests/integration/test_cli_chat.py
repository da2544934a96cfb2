"""`vreason chat` run as a user runs it, on the built-in demo model: /reset forgets the image, /save and /load
carry a conversation to a new process, and on a terminal the Up arrow recalls lines, those of earlier runs too.
"""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.cli_in_process import run_vreason

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
SHAPES = str(ROOT / "examples" / "shapes.png")  # one red circle
VREASON = [sys.executable, "-m", "vreason.cli.app"]
GREEDY = ["--temperature", "0", "--max-new-tokens", "4", "--stats"]
UP = "\x1b[A"


def chat(script: list[str], tmp_path: Path) -> subprocess.CompletedProcess:
    """A piped session: the console script's main(), in this process (tests/cli_in_process.py), a fresh model
    each call; the terminal test below needs a real process."""
    env = {"VREASON_CHAT_HISTORY": str(tmp_path / "history")}
    return run_vreason("chat", *GREEDY, stdin="\n".join(script) + "\n", env=env)


def prompt_tokens(result: subprocess.CompletedProcess) -> list[int]:
    return [int(line.split(" prompt")[0]) for line in result.stderr.splitlines() if " prompt + " in line]


def saved_parts(path: Path) -> list[tuple[str, list[str]]]:
    return [(m["role"], [p["type"] for p in m["content"]]) for m in json.loads(path.read_text())["messages"]]


def test_reset_forgets_the_image(tmp_path):
    saved = tmp_path / "after_reset.json"
    result = chat(["/image " + SHAPES, "what color is the circle?", "/reset", "what color is the circle?",
                   f"/save {saved}", "/exit"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert "(conversation cleared" in result.stdout
    with_image, after_reset = prompt_tokens(result)
    # the same question alone: the chat template around it, no visual tokens and no earlier turn
    assert after_reset < 20 < with_image
    assert saved_parts(saved) == [("user", ["text"]), ("assistant", ["text"])]


def test_save_then_load_in_a_new_process(tmp_path):
    saved, resaved = tmp_path / "chat.json", tmp_path / "again.json"
    first = chat(["/image " + SHAPES, "what color is the circle?", f"/save {saved}", "/exit"], tmp_path)
    assert first.returncode == 0, first.stderr
    assert f"(saved 1 turn(s), 1 image(s) to {saved})" in first.stdout
    assert saved_parts(saved) == [("user", ["image_url", "text"]), ("assistant", ["text"])]

    (tmp_path / "broken.json").write_text("{not json")
    second = chat([f"/load {tmp_path / 'missing.json'}", f"/load {tmp_path / 'broken.json'}", f"/load {saved}",
                   "what shape is it?", f"/save {resaved}", "/exit"], tmp_path)
    assert second.returncode == 0, second.stderr
    assert f"error: no such file: {tmp_path / 'missing.json'}" in second.stdout
    assert "broken.json is not a saved conversation (not JSON" in second.stdout
    assert f"(loaded 1 turn(s), 1 image(s) from {saved})" in second.stdout
    # the follow-up carried the loaded turn, image included: more than the first question with its image
    assert prompt_tokens(second)[0] > prompt_tokens(first)[0]
    before, after = json.loads(saved.read_text())["messages"], json.loads(resaved.read_text())["messages"]
    assert after[:2] == before  # the image round-trips byte for byte
    assert [m["role"] for m in after] == ["user", "assistant", "user", "assistant"]


class Terminal:
    """`vreason chat` on a pseudo-terminal, so that it sees a tty and reads lines with readline."""

    def __init__(self, history: Path):
        master, slave = pty.openpty()
        env = {**os.environ, "VREASON_CHAT_HISTORY": str(history), "TERM": "xterm"}
        self.process = subprocess.Popen([*VREASON, "chat"], stdin=slave, stdout=slave, stderr=slave, env=env,
                                        close_fds=True)
        os.close(slave)
        self.master = master
        self.output = ""

    def wait_for(self, text: str, count: int = 1, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while self.output.count(text) < count:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"waited for {text!r} x{count}; the terminal shows:\n{self.output[-2000:]}"
            ready, _, _ = select.select([self.master], [], [], remaining)
            if ready:
                try:
                    self.output += os.read(self.master, 4096).decode(errors="replace")
                except OSError:  # the child closed the terminal
                    break

    def type(self, keys: str) -> None:
        os.write(self.master, keys.encode())

    def close(self) -> int:
        try:
            code = self.process.wait(timeout=60)
        finally:
            os.close(self.master)
        return code


def test_up_arrow_recalls_lines_across_runs(tmp_path):
    pytest.importorskip("readline")
    history = tmp_path / "state" / "chat_history"  # its folder does not exist yet: chat creates it

    first = Terminal(history)
    first.wait_for("you> ")
    first.type("/help\r")
    first.wait_for("commands:")
    first.wait_for("you> ", 2)
    first.type(UP + "\r")  # the previous line, run again
    first.wait_for("commands:", 2)
    first.wait_for("you> ", 3)
    first.type("\x04")  # Ctrl-D leaves and saves the history
    assert first.close() == 0
    assert "^[[A" not in first.output
    assert history.read_text().splitlines()[-1] == "/help"

    second = Terminal(history)
    second.wait_for("you> ")
    second.type(UP + "\r")  # a new run: Up brings back the last line of the one before
    second.wait_for("commands:")
    second.wait_for("you> ", 2)
    second.type("/exit\r")
    assert second.close() == 0
    assert history.read_text().splitlines()[-2:] == ["/help", "/exit"]
