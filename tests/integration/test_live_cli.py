"""`vreason watch` end to end (its main() in this process; a subprocess for SIGINT) on the built-in demo
model: a synthetic clip (a red circle on screen from 3 s to 7 s) played in real time, a trigger, events and
every check appended to a JSONL file with stream times, the summary on exit; SIGINT stops a watch cleanly with
its summary; a missing source fails before the model loads. Whether the demo model fires at the right time is
measured (benchmarks/live_bench.py), not asserted here."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest

from tests.cli_in_process import run_vreason
from vreason.live.synthetic import Appearance, write_stream

pytestmark = pytest.mark.slow

VREASON = [sys.executable, "-m", "vreason.cli.app"]


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    schedule = [Appearance("circle", "red", 3.0, 7.0)]
    return write_stream(tmp_path_factory.mktemp("live") / "circle.mp4", schedule, seconds=10, fps=8, size=256)


def test_watch_a_clip_writes_events_jsonl(clip, tmp_path):
    events = tmp_path / "out.jsonl"
    # the console script's main(), in this process (tests/cli_in_process.py); SIGINT below needs a real process
    done = run_vreason(
        "watch",
        str(clip),
        "--realtime",
        "--window",
        "4s",
        "--fps",
        "2",
        "--when",
        "a red circle appears",
        "--events",
        str(events),
    )
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in events.read_text().splitlines()]
    checks = [r for r in rows if r["type"] == "answer"]
    fired = [r for r in rows if r["type"] == "event"]
    assert len(checks) >= 8  # one window per frame pair over 10 s, some skipped when the CPU is busy
    for row in rows:
        assert 0 <= row["window"]["start"] <= row["stream_time"] == row["window"]["end"] <= 10
        assert row["window"]["end"] - row["window"]["start"] <= 4
    for row in checks:
        assert row["trigger"] == "a red circle appears"
        assert row["question"] == "is there a red circle?"
        assert row["prefill_tokens"] > 0
        assert row["video_tokens"] > 0
    for row in fired:
        assert row["answer"].lower().startswith("yes")
        assert all(os.path.getsize(p) > 0 for p in row["frames"])
    times = [r["stream_time"] for r in checks]
    assert times == sorted(times)
    printed = [json.loads(line) for line in done.stdout.splitlines()]  # piped: one JSON object a line
    assert printed[-1]["type"] == "summary"
    assert printed[-1]["events"] == len(fired)
    assert printed[-1]["frames_seen"] == 80
    assert "watched 80 frames" in done.stderr


def test_sigint_stops_with_a_summary(clip, tmp_path):
    process = subprocess.Popen(
        [*VREASON, "watch", str(clip), "--realtime", "--every", "1s", "--ask", "what is there?"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    first = json.loads(process.stdout.readline())  # the model has loaded and the clip plays
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    rows = [first] + [json.loads(line) for line in out.splitlines()]
    assert first["kind"] == "every"
    assert first["question"] == "what is there?"
    assert rows[-1]["type"] == "summary"
    assert 0 < rows[-1]["frames_seen"] < 80  # stopped before the end of the clip
    assert rows[-1]["questions"] == len(rows) - 1
    assert "watched" in err


def test_a_missing_source_fails_before_the_model_loads(tmp_path):
    done = run_vreason("watch", str(tmp_path / "nope.mp4"), "--when", "a red circle appears")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1] == f"error: source {tmp_path / 'nope.mp4'}: no such file"
    assert "loading" not in done.stderr
