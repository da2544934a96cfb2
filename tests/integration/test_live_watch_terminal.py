"""`vreason watch` on a terminal (a real pseudo-terminal) with `--webhook`, on the built-in demo model: the
live panel (window, frames, triggers, events) is drawn, each event is logged above it and POSTed as JSON to a
real HTTP receiver on 127.0.0.1, and the summary counts the deliveries. A receiver that refuses everything is
counted as failed while the watch goes on to its end."""

from __future__ import annotations

import http.server
import json
import os
import pty
import re
import subprocess
import sys
import threading

import pytest

from vreason.live.synthetic import Appearance, write_stream

pytestmark = [pytest.mark.slow, pytest.mark.heavy]  # two subprocesses load the demo model (~40 s each)

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    schedule = [Appearance("circle", "red", 2.0, 5.0)]
    return write_stream(tmp_path_factory.mktemp("live") / "circle.mp4", schedule, seconds=6, fps=8, size=256)


def receiver(status: int) -> tuple[http.server.ThreadingHTTPServer, list[dict]]:
    received: list[dict] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server's naming)
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, received


def watch_in_a_terminal(clip, webhook: str) -> tuple[int, str, str]:
    """Run the watch with its stdout on a pseudo-terminal; (exit code, what the terminal showed, stderr)."""
    leader, follower = pty.openpty()
    env = {**os.environ, "COLUMNS": "140", "LINES": "60", "TERM": "xterm-256color"}
    command = [
        sys.executable,
        "-m",
        "vreason.cli.app",
        "watch",
        str(clip),
        "--realtime",
        "--window",
        "1s",
        "--fps",
        "2",
        "--when",
        "a red circle appears",
        "--webhook",
        webhook,
    ]
    process = subprocess.Popen(command, stdout=follower, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, env=env)
    os.close(follower)
    screen = bytearray()
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        screen += chunk
    stderr = process.stderr.read().decode()
    code = process.wait(timeout=60)
    os.close(leader)
    return code, ANSI.sub("", screen.decode(errors="replace")), stderr


def test_the_live_panel_is_drawn_and_events_reach_the_webhook(clip):
    server, received = receiver(200)
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/hook"
        code, screen, stderr = watch_in_a_terminal(clip, url)
    finally:
        server.shutdown()
    assert code == 0, stderr
    assert "vreason watch" in screen  # the panel's title
    assert "window 1 s @ 2 fps" in screen
    assert "frames seen" in screen
    assert "a red circle appears" in screen  # the trigger's row
    assert "webhook sent" in screen
    events = re.findall(r"EVENT 'a red circle appears'", screen)  # the log above the panel
    assert events  # the demo model sees the circle in a 1 s window (live_bench measures how well)
    assert len(received) == len(events)
    assert all(item["type"] == "event" and item["trigger"] == "a red circle appears" for item in received)
    assert f"webhook: {len(received)} sent, 0 failed" in stderr


def test_a_failing_webhook_is_counted_and_the_watch_goes_on(clip):
    server, received = receiver(400)
    try:
        code, screen, stderr = watch_in_a_terminal(clip, f"http://127.0.0.1:{server.server_address[1]}/hook")
    finally:
        server.shutdown()
    assert code == 0, stderr
    assert received  # it was tried
    assert f"webhook: 0 sent, {len(received)} failed" in stderr
    assert "not delivered: HTTP 400" in stderr
