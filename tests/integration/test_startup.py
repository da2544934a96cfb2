"""Start-up of `vreason ask` on the built-in demo model: a local model is loaded with no network call at all
(no hub lookup, no DNS), and the answer comes out of a process that imported no server or UI library."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHAPES = ROOT / "examples" / "shapes.png"

# Runs the real `vreason` entry point with an audit hook that records every socket connect and name lookup.
PROBE = """
import sys
seen = []
def hook(event, args):
    if event in ("socket.connect", "socket.getaddrinfo", "socket.gethostbyname"):
        seen.append(f"{event} {args!r:.100}")
sys.addaudithook(hook)
import atexit
def report():
    print("NETWORK", seen, file=sys.stderr)
    print("LOADED", " ".join(m for m in ("fastapi", "uvicorn", "gradio", "vreason.server", "vreason.ui")
                             if m in sys.modules), file=sys.stderr)
atexit.register(report)
sys.argv = ["vreason", *sys.argv[1:]]
from vreason.cli.app import main
main()
"""


@pytest.mark.slow
def test_ask_on_the_demo_model_makes_no_network_call_and_loads_no_server():
    env = {"PATH": "/usr/bin:/bin", "HOME": str(Path.home())}  # no HF_HUB_OFFLINE: the code itself stays off the net
    run = subprocess.run(
        [sys.executable, "-c", PROBE, "ask", str(SHAPES), "What color is the shape?", "--temperature", "0"],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=ROOT,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip().splitlines()[-1] == "red"
    assert "NETWORK []" in run.stderr, run.stderr
    loaded = next(line for line in run.stderr.splitlines() if line.startswith("LOADED"))
    assert loaded.split()[1:] == [], run.stderr
