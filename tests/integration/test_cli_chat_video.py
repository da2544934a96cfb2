"""`vreason chat` with a clip, run as a user runs it, on the built-in demo model: `/video PATH max_frames=4`
attaches a real H.264 clip (encoded here with PyAV), the follow-up question is about it too and reuses its KV,
bad clips and options are one error line each without ending the session, and /save and /load carry the clip
to a new process: by its path (with its sampling options) when it has one, as its sampled frames and their
times when it came as a data URI."""

from __future__ import annotations

import base64
import json
import re
import subprocess
from pathlib import Path

import pytest

from tests.cli_in_process import run_vreason
from tests.video_samples import make_clip

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
SHAPES = str(ROOT / "examples" / "shapes.png")
GREEDY = ["--temperature", "0", "--max-new-tokens", "4", "--stats"]
VIDEO_STATS = re.compile(r"(\d+) visual tokens \((\d+) from video\), (\d+) prompt tokens reused")


def chat(script: list[str], tmp_path: Path) -> subprocess.CompletedProcess:
    # the console script's main(), in this process (tests/cli_in_process.py)
    env = {"VREASON_CHAT_HISTORY": str(tmp_path / "history")}
    return run_vreason("chat", *GREEDY, stdin="\n".join(script) + "\n", env=env)


def video_stats(result: subprocess.CompletedProcess) -> list[tuple[int, int, int]]:
    """(visual, video, reused prompt tokens) of each answer about a clip."""
    return [tuple(int(g) for g in m.groups()) for m in VIDEO_STATS.finditer(result.stderr)]


def prompt_tokens(result: subprocess.CompletedProcess) -> list[int]:
    return [int(line.split(" prompt")[0]) for line in result.stderr.splitlines() if " prompt + " in line]


def test_video_attached_followed_up_saved_and_loaded(tmp_path):
    clip = make_clip(tmp_path / "bar.mp4", width=96, height=64, frames=30, fps=10)
    other = make_clip(tmp_path / "other.mp4", width=96, height=64, frames=20, fps=10)  # another clip's content
    uri = "data:video/mp4;base64," + base64.b64encode(other.read_bytes()).decode()
    other.unlink()  # it reaches the chat only as a data URI
    by_path, by_uri = tmp_path / "by_path.json", tmp_path / "by_uri.json"
    first = chat(
        [
            f"/video {clip} max_frames=4",
            "what moves?",
            "and at the end?",
            f"/save {by_path}",
            f"/video {tmp_path / 'missing.mp4'}",
            f"/video {SHAPES}",
            f"/video {clip} fps=fast",
            f"/video {clip} frames=4",
            "/reset",
            f"/video {uri} max_frames=4",
            "what moves here?",
            f"/save {by_uri}",
            "/exit",
        ],
        tmp_path,
    )
    assert first.returncode == 0, first.stderr
    assert f"(video attached: {clip}, 4 frames from 0.0 to " in first.stdout
    errors = [line for line in first.stdout.splitlines() if "error:" in line]
    assert len(errors) == 4, first.stdout
    assert "missing.mp4: no such file" in errors[0]
    assert "is a still image or has no video track" in errors[1]
    assert "fps must be a number, got 'fast'" in errors[2]
    assert "video option 'frames=4' must be KEY=VALUE with KEY one of fps, num_frames" in errors[3]
    (visual, video, reused_first), (_, video_again, reused), (_, video_uri, _) = video_stats(first)
    assert video > 0
    assert video_again == video == video_uri
    assert reused_first == 0
    assert reused >= video  # the follow-up prefilled only its own text: the clip's KV came from the cache
    assert f"(saved 2 turn(s), 0 image(s), 1 video(s) to {by_path})" in first.stdout

    saved = json.loads(by_path.read_text())["messages"]
    assert saved[0]["content"][0] == {"type": "video", "video": str(clip), "max_frames": 4}  # a reference, small
    assert [m["role"] for m in saved] == ["user", "assistant", "user", "assistant"]
    inlined = json.loads(by_uri.read_text())["messages"][0]["content"][0]
    assert len(inlined["video"]) == 4
    assert all(f.startswith("data:image/png;base64,") for f in inlined["video"])
    assert inlined["timestamps"] == sorted(inlined["timestamps"])
    assert len(inlined["timestamps"]) == 4

    resaved = tmp_path / "again.json"
    second = chat(
        [f"/load {by_path}", "what happens next?", f"/save {resaved}", f"/load {by_uri}", "and here?", "/exit"],
        tmp_path,
    )
    assert second.returncode == 0, second.stderr
    assert f"(loaded 2 turn(s), 0 image(s), 1 video(s) from {by_path})" in second.stdout
    assert f"(loaded 1 turn(s), 0 image(s), 1 video(s) from {by_uri})" in second.stdout
    (_, video_loaded, _), (_, video_frames, _) = video_stats(second)
    assert video_loaded == video_frames == video  # loaded clips are the same frames at the same size
    assert prompt_tokens(second)[0] > prompt_tokens(first)[1]  # the clip and both earlier turns, and a question
    assert json.loads(resaved.read_text())["messages"][:4] == saved
