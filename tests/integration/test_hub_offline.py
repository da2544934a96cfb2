"""A hub model with no network, in a subprocess as a user runs it: a cached one loads with no network call, one
that is not cached fails at once in one line (not transformers' 11 retry lines over 28 s).

"No network" is made the same on every machine: HF_ENDPOINT points at a closed port on 127.0.0.1 (or at a local
HTTP server that records what it is asked and answers as the hub does for a repository it lacks), and HF_HOME
at a temporary cache, so nothing here can reach or depend on the real hub.
"""

from __future__ import annotations

import hashlib
import http.server
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import png_bytes

VREASON = [sys.executable, "-m", "vreason.cli.app"]
# Before the fix this took 28 s; interpreter start and imports take ~3 s, more on a busy machine.
FAST_FAIL_S = 15
FAKE_COMMIT = "0123456789abcdef0123456789abcdef01234567"


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"  # closed once the socket is: connections are refused


class _EmptyHub(http.server.BaseHTTPRequestHandler):
    """A hub that has no models: every request is recorded and answered as huggingface.co answers an anonymous
    request for a repository it does not have (401 with the RepoNotFound error code)."""

    requests: list[str]

    def _missing(self) -> None:
        self.requests.append(f"{self.command} {self.path}")
        self.send_response(401)
        self.send_header("X-Error-Code", "RepoNotFound")
        self.send_header("X-Error-Message", "Repository not found")
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_HEAD = do_GET = _missing  # noqa: N815 (http.server's naming)

    def log_message(self, *args):
        pass


@pytest.fixture
def empty_hub() -> Iterator[tuple[str, list[str]]]:
    requests: list[str] = []
    handler = type("Handler", (_EmptyHub,), {"requests": requests})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", requests
    server.shutdown()
    server.server_close()


def run_offline(hf_home: Path, *args: str, offline: bool = False,
                endpoint: str | None = None) -> tuple[subprocess.CompletedProcess, float]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGINGFACE_", "TRANSFORMERS_"))}
    env.update(HF_HOME=str(hf_home), HF_ENDPOINT=endpoint or closed_port_url())
    if offline:
        env["HF_HUB_OFFLINE"] = "1"
    started = time.perf_counter()
    result = subprocess.run([*VREASON, *args], capture_output=True, text=True, timeout=240, env=env)
    return result, time.perf_counter() - started


def place_in_hub_cache(checkpoint: Path, hf_home: Path, hub_id: str) -> Path:
    """Lay `checkpoint` out as huggingface_hub's cache does: blobs by hash, snapshot symlinks, refs/main."""
    repo = hf_home / "hub" / f"models--{hub_id.replace('/', '--')}"
    snapshot = repo / "snapshots" / FAKE_COMMIT
    (repo / "blobs").mkdir(parents=True)
    snapshot.mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(FAKE_COMMIT)
    for file in checkpoint.iterdir():
        if not file.is_file():
            continue
        blob = repo / "blobs" / hashlib.sha256(file.read_bytes()).hexdigest()
        shutil.copyfile(file, blob)
        (snapshot / file.name).symlink_to(os.path.relpath(blob, snapshot))
    return snapshot


@pytest.fixture
def picture(tmp_path) -> Path:
    path = tmp_path / "red.png"
    path.write_bytes(png_bytes(size=(80, 60)))
    return path


@pytest.mark.parametrize(("offline", "why"), [
    (False, "the Hugging Face hub (http://127.0.0.1:"),
    (True, "downloads are off (HF_HUB_OFFLINE=1)"),
])
def test_uncached_model_without_network_fails_at_once_in_one_line(tmp_path, picture, offline, why):
    hf_home = tmp_path / "hf"
    result, seconds = run_offline(hf_home, "ask", str(picture), "q", "--model", "nobody/never-cached-model",
                                  offline=offline)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: model nobody/never-cached-model is not in the local cache")
    assert str(hf_home / "hub") in lines[0]
    assert why in lines[0]
    assert "--model /path/to/checkpoint-dir" in lines[0]
    assert seconds < FAST_FAIL_S


def test_cached_model_loads_with_no_network_call(tiny_model_dir, tmp_path, picture, empty_hub):
    endpoint, requests = empty_hub
    hf_home = tmp_path / "hf"
    place_in_hub_cache(tiny_model_dir, hf_home, "someone/tiny-qwen3-vl")
    result, _ = run_offline(hf_home, "ask", str(picture), "What color is it?", "--model", "someone/tiny-qwen3-vl",
                            "--json", "--max-new-tokens", "4", endpoint=endpoint)
    assert result.returncode == 0, result.stderr
    assert '"answer"' in result.stdout
    assert requests == []  # complete in the cache: the hub is not even asked whether it has a newer revision


def test_model_the_reachable_hub_lacks_fails_in_one_line(tmp_path, picture, empty_hub):
    endpoint, requests = empty_hub
    result, seconds = run_offline(tmp_path / "hf", "ask", str(picture), "q", "--model", "nobody/no-such-model",
                                  endpoint=endpoint)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: could not download model nobody/no-such-model from the Hugging Face hub")
    assert "is not a valid model identifier" in lines[0]  # the hub's answer, not "could not be reached"
    assert requests[0] == "HEAD /"  # the one reachability probe, then the download attempt
    assert any("nobody/no-such-model" in request for request in requests[1:])
    assert seconds < FAST_FAIL_S


def test_partly_cached_model_names_what_is_missing(tiny_model_dir, tmp_path, picture):
    hf_home = tmp_path / "hf"
    snapshot = place_in_hub_cache(tiny_model_dir, hf_home, "someone/tiny-qwen3-vl")
    (snapshot / "model.safetensors").resolve().unlink()  # an interrupted download: the blob never arrived
    result, seconds = run_offline(hf_home, "ask", str(picture), "q", "--model", "someone/tiny-qwen3-vl")
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "is not fully in the local cache" in lines[0]
    assert "lacks *.safetensors" in lines[0]
    assert seconds < FAST_FAIL_S
