"""`vreason ui` as a user starts it, in a subprocess: a malformed login fails in one line before any model
loads; serving beyond loopback without a login warns; with a login the page asks for it (a request without one
gets no app config) and the right password gets in over HTTP."""

from __future__ import annotations

import subprocess
import sys
import time

import httpx
import pytest

from tests.e2e.ui_support import free_port

pytestmark = pytest.mark.slow

VREASON = [sys.executable, "-m", "vreason.cli.app"]
START_TIMEOUT_S = 120



@pytest.mark.parametrize(("flags", "says"), [(["--auth", "alice"], "user:password"),
                                             (["--auth-server-key"], "needs --server")])
def test_a_malformed_login_fails_in_one_line_before_loading_a_model(tmp_path, flags, says):
    started = time.monotonic()
    result = subprocess.run([*VREASON, "ui", *flags, "--data-dir", str(tmp_path)], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines == [lines[0]]
    assert says in lines[0]
    assert "demo model" not in result.stderr + result.stdout  # refused before any model was opened
    assert time.monotonic() - started < 30


def test_the_ui_on_every_address_warns_without_a_login_and_asks_for_one_with_it(tmp_path):
    port = free_port()
    command = [*VREASON, "ui", "--host", "0.0.0.0", "--port", str(port), "--data-dir", str(tmp_path),
               "--auth", "alice:wonderland"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            assert process.poll() is None, f"vreason ui exited early: {process.stderr.read()}"
            try:
                if httpx.get(base + "/", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "vreason ui did not come up"
            time.sleep(0.5)
        assert httpx.get(base + "/config", timeout=5).status_code == 401  # nothing of the app without a login
        with httpx.Client(base_url=base, timeout=5) as client:
            refused = client.post("/login", data={"username": "alice", "password": "nope"})
            assert refused.status_code == 400
            assert client.post("/login", data={"username": "alice", "password": "wonderland"}).status_code == 200
            assert client.get("/config").status_code == 200
    finally:
        process.terminate()
        out, err = process.communicate(timeout=30)
    assert "vreason UI for vreason-demo on http://0.0.0.0" in out
    assert "no login" not in err  # a login is on: no warning

    # Without a login on 0.0.0.0: one warning line says so, before the model loads.
    process = subprocess.Popen([*VREASON, "ui", "--host", "0.0.0.0", "--port", str(free_port()), "--data-dir",
                                str(tmp_path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        warning = ""
        while "no login" not in warning and time.monotonic() < deadline and process.poll() is None:
            warning = process.stderr.readline()
    finally:
        process.terminate()
        process.communicate(timeout=30)
    assert warning.startswith("warning: the UI on 0.0.0.0 has no login")
    assert "--auth" in warning
