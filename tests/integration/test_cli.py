"""The `vreason` command end to end: its own `main()` in this process (tests/cli_in_process.py), and in a
subprocess, as a user runs it, where the process is the point (hub settings read at import, `python -m`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli_in_process import run_vreason as run
from tests.conftest import png_bytes

VREASON = [sys.executable, "-m", "vreason.cli.app"]


def run_subprocess(*args: str, stdin: str | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([*VREASON, *args], input=stdin, capture_output=True, text=True, timeout=240,
                          env=full_env)


@pytest.fixture(scope="module")
def picture(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("cli") / "red.png"
    path.write_bytes(png_bytes(size=(80, 60)))
    return path


def test_ask_json_matches_the_api(tiny_model_dir, picture, vr):
    # `--json true` as other tools take it: the word is the flag's value, not a second image
    result = run("ask", str(picture), "What color is it?", "--model", str(tiny_model_dir), "--json", "true",
                 "--temperature", "0", "--presence-penalty", "0", "--max-new-tokens", "12")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert {"answer", "thinking", "usage", "timings", "finish_reason", "model"} <= data.keys()
    expected = vr.ask(str(picture), "What color is it?", temperature=0.0, presence_penalty=0.0, max_new_tokens=12)
    assert data["answer"] == expected.text
    assert data["usage"]["completion_tokens"] == expected.usage.completion_tokens
    assert data["usage"]["total_tokens"] == data["usage"]["prompt_tokens"] + data["usage"]["completion_tokens"]
    assert data["timings"]["total_s"] > 0


def test_ask_stream_prints_the_same_answer(tiny_model_dir, picture, vr):
    result = run("ask", str(picture), "What is it?", "--model", str(tiny_model_dir), "--stream",
                 "--temperature", "0", "--presence-penalty", "0", "--max-new-tokens", "10", "--stats")
    assert result.returncode == 0, result.stderr
    expected = vr.ask(str(picture), "What is it?", temperature=0.0, presence_penalty=0.0, max_new_tokens=10)
    assert result.stdout == expected.text + "\n"
    assert "tok/s" in result.stderr


def test_errors_are_one_line_with_exit_code_2(tiny_model_dir, picture, tmp_path):
    missing = run("ask", str(tmp_path / "nope.png"), "q", "--model", str(tiny_model_dir))
    assert missing.returncode == 2
    assert missing.stderr.strip().splitlines()[-1].startswith("error: image ")
    assert "Traceback" not in missing.stderr
    bad_value = run("ask", str(picture), "q", "--model", str(tiny_model_dir), "--temperature", "9")
    assert bad_value.returncode == 2
    assert "temperature (9.0) must be between 0 and 2" in bad_value.stderr
    corrupt = tmp_path / "corrupt.jpg"
    corrupt.write_bytes(b"\xff\xd8\xff garbage")
    broken = run("ask", str(corrupt), "q", "--model", str(tiny_model_dir))
    assert broken.returncode == 2
    assert "corrupt.jpg" in broken.stderr
    debug = run("--debug", "ask", str(tmp_path / "nope.png"), "q", "--model", str(tiny_model_dir))
    assert debug.returncode == 2
    assert "Traceback" in debug.stderr


def test_missing_weights_offline_says_what_to_download(picture, tmp_path):
    # a subprocess: huggingface_hub reads HF_HOME and HF_HUB_OFFLINE when it is imported
    result = run_subprocess("ask", str(picture), "q", "--model", "Qwen/Qwen3-VL-2B-Instruct",
                            env={"HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")})
    assert result.returncode == 2
    line = result.stderr.strip().splitlines()[-1]
    assert "hf download Qwen/Qwen3-VL-2B-Instruct" in line
    assert "HF_HUB_OFFLINE=1" in line
    assert str(tmp_path / "hf") in line  # where it looked


def test_chat_keeps_history_and_attaches_images(tiny_model_dir, picture, tmp_path):
    script = "\n".join([
        "/image " + str(tmp_path / "missing.png"),  # a bad image is reported, the session goes on
        "/image " + str(picture),
        "what color?",
        "and now?",
        "/reset",
        "/exit",
    ]) + "\n"
    result = run("chat", "--model", str(tiny_model_dir), "--temperature", "0", "--max-new-tokens", "4",
                 "--stats", stdin=script)
    assert result.returncode == 0, result.stderr
    assert "error: image" in result.stdout
    assert "no such file" in result.stdout
    assert "(image attached" in result.stdout
    assert result.stdout.count("assistant> ") == 2
    assert "(conversation cleared)" in result.stdout
    prompt_tokens = [int(line.split(" prompt")[0]) for line in result.stderr.splitlines() if " prompt + " in line]
    assert len(prompt_tokens) == 2
    assert prompt_tokens[1] > prompt_tokens[0]


def test_models_lists_presets():
    result = run_subprocess("models", "--json")  # the console script as installed, start to exit
    assert result.returncode == 0
    rows = json.loads(result.stdout)
    assert any(r["hub_id"] == "Qwen/Qwen3-VL-8B-Instruct" and r["memory_gib"] > 16 for r in rows)
    table = run("models")
    assert "Qwen/Qwen3-VL-32B-Thinking-FP8" in table.stdout
