"""`vreason serve` as a user runs it: a separate process, its start-up and ready lines, a request through the
openai client, and a clean exit on SIGTERM. Bad flags fail before any model is loaded."""

from __future__ import annotations

import queue
import re
import signal
import subprocess
import sys
import threading
import time

import httpx
import openai
import pytest

from tests.conftest import png_bytes

pytestmark = pytest.mark.slow

VREASON = [sys.executable, "-m", "vreason.cli.app"]
READY = re.compile(r"serving (\S+) at (http://127\.0\.0\.1:\d+/v1)")
START_TIMEOUT_S = 120


def _lines(stream) -> queue.Queue:
    lines: queue.Queue = queue.Queue()

    def pump() -> None:
        for line in stream:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    return lines


def test_serve_starts_answers_and_stops(tiny_model_dir, tmp_path):
    image = tmp_path / "red.png"
    image.write_bytes(png_bytes())
    command = [*VREASON, "serve", "--model", str(tiny_model_dir), "--port", "0", "--served-model-name", "tiny",
               "--api-key", "k-123", "--allowed-local-media-path", str(tmp_path)]
    process = subprocess.Popen(command, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    try:
        lines = _lines(process.stderr)
        seen: list[str] = []
        deadline = time.monotonic() + START_TIMEOUT_S
        match = None
        while match is None and time.monotonic() < deadline:
            line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            assert line is not None, f"vreason serve exited early: {''.join(seen)}"
            seen.append(line)
            match = READY.search(line)
        assert match, f"no ready line within {START_TIMEOUT_S} s: {''.join(seen)}"
        assert any(f"loading {tiny_model_dir}" in s for s in seen)
        assert match.group(1) == "tiny"
        assert "API key required" in seen[-1]
        assert f"file:// under {tmp_path.resolve()}" in seen[-1]
        url = match.group(2)

        assert httpx.get(url.removesuffix("/v1") + "/health").status_code == 200
        client = openai.OpenAI(base_url=url, api_key="k-123", max_retries=0)
        reply = client.chat.completions.create(
            model="tiny", max_tokens=2, temperature=0,
            messages=[{"role": "user", "content": [{"type": "image_url", "image_url": {"url": image.as_uri()}},
                                                   {"type": "text", "text": "Color?"}]}],
        )
        assert reply.usage.completion_tokens == 2
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=30)
    # uvicorn shuts down gracefully, then re-raises the signal so the exit status says what ended it.
    assert code in (0, -signal.SIGTERM)
    rest = []
    while (line := lines.get(timeout=5)) is not None:
        rest.append(line)
    assert "Traceback" not in "".join(rest)


@pytest.mark.parametrize(
    ("flags", "needle"),
    [
        (["--allowed-local-media-path", "/no/such/dir"], "is not a directory"),
        (["--max-request-bytes", "10"], "max_request_bytes (10) must be at least 1024"),
        (["--api-key", " "], "api_key is empty"),
    ],
)
def test_serve_refuses_bad_flags_before_loading(flags, needle, monkeypatch):
    from typer.testing import CliRunner

    from vreason.cli.app import app
    from vreason.errors import VReasonError

    monkeypatch.delenv("VREASON_API_KEY", raising=False)
    result = CliRunner().invoke(app, ["serve", *flags])
    assert isinstance(result.exception, VReasonError)  # `vreason` prints it as one line and exits 2
    assert needle in str(result.exception)
    assert "loading" not in result.output
