"""What every browser test of the web UI shares: where Chromium is, where screenshots go, a free port."""

from __future__ import annotations

import socket
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "test-output" / "ui"  # screenshots of each tab after a real exchange
CHROMIUM = "/usr/bin/chromium"  # Debian's (Playwright's own download cannot run here); `make test` installs it


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
