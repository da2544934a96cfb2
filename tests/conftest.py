"""Shared fixtures. Models are built from configs (no downloads) once per test process and shared (under
pytest-xdist each worker builds its own).

`tiny_model_dir`: a random Qwen3-VL (text hidden 64, 2 layers; vision depth 2, patch 16, merge 2) with the
real Qwen tokenizer, real processor and an Instruct chat template, saved with save_pretrained and loaded
back through the same code users take.
`compact_model_dir`: the same model with a small byte-level tokenizer, as the built-in model has (376 tokens: the
bytes, the merges of a few test phrases, every Qwen3-VL added token). For tests that load or save the model many
times (fine-tuning): the real Qwen tokenizer.json (151,643 tokens, 294k merges, 18.7 MB) costs ~3.7 s to load
and ~0.45 s to save, every time.
"""

from __future__ import annotations

import http.server
import io
import os
import socketserver
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

# The memory tests' fixtures (memory_dir, postgres_server, postgres_url, memory_store, embedder), for every file.
pytest_plugins = ["tests.memory_support"]

# Python processes the tests start (the CLI, servers, workers) inherit this: a crash in native code in one of them
# (a segfault, an abort such as "terminate called without an active exception") prints every thread's stack to
# its stderr, which the test's failure shows, instead of an exit code alone.
os.environ.setdefault("PYTHONFAULTHANDLER", "1")


def pytest_runtest_setup(item):
    """Native libraries may install their own SIGSEGV handler when imported (xgrammar does), replacing the one
    pytest's faulthandler set: a crash in native code then kills the run with no Python traceback. So before
    every test faulthandler is installed again (disable + enable: enable alone keeps a stale registration; two
    system calls), and a crash names the test and every thread's stack, whatever a test imported before."""
    import faulthandler

    from _pytest.faulthandler import fault_handler_stderr_fd_key  # pytest's own copy of the real stderr

    stderr = item.config.stash.get(fault_handler_stderr_fd_key, None)  # fd 2 is captured during a test
    if stderr is None:  # pytest's faulthandler plugin is off: nothing to restore
        return
    faulthandler.disable()
    faulthandler.enable(file=stderr, all_threads=True)


@pytest.fixture(scope="session")
def qwen_tokenizer():
    from vreason.models.qwen_tokenizer import build_qwen_tokenizer

    return build_qwen_tokenizer()


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory, qwen_tokenizer) -> Path:
    from vreason.models.scratch import build_scratch_checkpoint

    return build_scratch_checkpoint(tmp_path_factory.mktemp("tiny-qwen3-vl"), tokenizer=qwen_tokenizer)


@pytest.fixture(scope="session")
def compact_model_dir(tmp_path_factory) -> Path:
    from vreason.models.compact_tokenizer import train_compact_tokenizer
    from vreason.models.scratch import build_scratch_checkpoint

    words = ["What color is it?", "Are you sure?", "Is it red? Is it blue? Answer in a sentence.", "red blue yes no",
             "Yes, it is blue.", "No, it is red.", "What colour is the shape? a red circle and a blue square",
             "Which way does the bar move? left right up down"]
    tokenizer = train_compact_tokenizer(words, vocab_size=512)  # these phrases run out of merges at 376 tokens
    return build_scratch_checkpoint(tmp_path_factory.mktemp("compact-qwen3-vl"), tokenizer=tokenizer)


@pytest.fixture(scope="session")
def tiny_thinking_dir(tmp_path_factory, qwen_tokenizer) -> Path:
    from vreason.models.scratch import build_scratch_checkpoint

    return build_scratch_checkpoint(
        tmp_path_factory.mktemp("tiny-qwen3-vl-thinking"), thinking=True, seed=1, tokenizer=qwen_tokenizer
    )


@pytest.fixture(scope="session")
def vr(tiny_model_dir):
    from vreason import VReason

    return VReason(str(tiny_model_dir))


def png_bytes(size=(64, 48), color=(200, 30, 30), mode="RGB", fmt="PNG") -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size, color).save(buffer, format=fmt)
    return buffer.getvalue()


@pytest.fixture
def image_file(tmp_path) -> Path:
    path = tmp_path / "red.png"
    path.write_bytes(png_bytes())
    return path


class _Handler(http.server.BaseHTTPRequestHandler):
    routes: dict[str, tuple[int, dict[str, str], bytes]] = {}

    def do_GET(self):  # noqa: N802 (http.server's naming)
        status, headers, body = self.routes.get(self.path, (404, {"Content-Type": "text/plain"}, b"missing"))
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def http_server() -> Iterator[tuple[str, dict]]:
    """A real HTTP server on 127.0.0.1; tests fill `routes` with path -> (status, headers, body)."""
    routes: dict[str, tuple[int, dict[str, str], bytes]] = {}
    handler = type("Handler", (_Handler,), {"routes": routes})
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", routes
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def started_threads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Names of the threads started while the test runs (a thread pool's workers included)."""
    started: list[str] = []
    original = threading.Thread.start

    def record(self: threading.Thread) -> None:
        started.append(self.name)
        original(self)

    monkeypatch.setattr(threading.Thread, "start", record)
    return started
