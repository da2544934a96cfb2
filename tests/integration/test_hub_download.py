"""Downloading a hub model shows one progress display, against a hub on 127.0.0.1 (tests/fake_hub.py) that
serves the demo model's files like huggingface.co: a bar on a terminal, plain lines in a pipe, safetensors and
configs only, and a second run loads from the cache with no download."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fake_hub import FakeHub
from vreason.models.demo import demo_model_dir
from vreason.models.hub_download import plain_line

REPO = "acme/shapes-demo"
DOWNLOAD = """
import io, sys
import vreason.models.hub_download as hd
hd.PLAIN_LINE_EVERY_S = 0.3
class Terminal(io.StringIO):
    def isatty(self):
        return True
stream = Terminal() if sys.argv[1] == "tty" else io.StringIO()
print(hd.download_checkpoint(sys.argv[2], stream=stream))
sys.stderr.write(stream.getvalue())
"""


@pytest.fixture
def served(tmp_path: Path) -> Path:
    """The demo model plus a pickled-weights file no download may fetch."""
    repo = tmp_path / "repo"
    shutil.copytree(demo_model_dir(), repo)
    (repo / "pytorch_model.bin").write_bytes(b"\x80\x04pickle")
    return repo


def _env(hub: FakeHub, home: Path) -> dict[str, str]:
    env = dict(os.environ, HF_ENDPOINT=hub.url, HF_HOME=str(home))
    env.pop("HF_HUB_OFFLINE", None)
    return env


def _download(hub: FakeHub, home: Path, mode: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", DOWNLOAD, mode, REPO], env=_env(hub, home), capture_output=True, text=True, timeout=120
    )


def test_a_pipe_gets_plain_progress_lines_and_only_safe_files(served, tmp_path):
    with FakeHub(REPO, served, bytes_per_s=12e6) as hub:  # ~20 MB: 1.5-2 s, several lines
        done = _download(hub, tmp_path / "hf", "pipe")
    assert done.returncode == 0, done.stderr
    snapshot = Path(done.stdout.strip().splitlines()[-1])
    assert (snapshot / "model.safetensors").is_file()
    assert (snapshot / "config.json").is_file()
    assert not (snapshot / "pytorch_model.bin").exists()
    assert not any("pytorch_model.bin" in r for r in hub.requests if r.startswith("GET"))
    lines = done.stderr.splitlines()
    progress = [line for line in lines if line.startswith(f"downloading {REPO}: ")]
    assert progress, done.stderr
    assert all("\r" not in line for line in lines)
    assert "MB/s" in progress[-1]
    assert "%" in progress[-1]
    assert lines[-1].startswith(f"downloaded {REPO}: 19.")
    assert " MB in " in lines[-1]


def test_a_terminal_gets_one_bar_with_size_speed_and_time_left(served, tmp_path):
    with FakeHub(REPO, served, bytes_per_s=20e6) as hub:
        done = _download(hub, tmp_path / "hf", "tty")
    assert done.returncode == 0, done.stderr
    bars = {line.split(":")[0] for line in done.stderr.replace("\r", "\n").splitlines() if line.strip()}
    assert bars == {f"downloading {REPO}"}, done.stderr  # one bar: not the file count, not the bytes written
    final = done.stderr.replace("\r", "\n").strip().splitlines()[-1]
    # size done/total [elapsed<time left, speed]
    assert re.search(r"100%\|#+\| (19\.\dM)/\1 \[\d\d:\d\d<\d\d:\d\d, [\d.]+MB/s\]$", final), final


@pytest.mark.slow
def test_ask_with_a_hub_model_downloads_once_then_loads_from_the_cache(served, tmp_path):
    home = tmp_path / "hf"
    command = [
        sys.executable,
        "-m",
        "vreason.cli.app",
        "ask",
        "examples/shapes.png",
        "What color is the shape?",
        "--model",
        REPO,
        "--temperature",
        "0",
        "--max-new-tokens",
        "4",
    ]
    with FakeHub(REPO, served) as hub:
        first = subprocess.run(command, env=_env(hub, home), capture_output=True, text=True, timeout=240)
        fetched = [r for r in hub.requests if r.startswith("GET") and "/resolve/" in r]
        hub.requests.clear()
        second = subprocess.run(command, env=_env(hub, home), capture_output=True, text=True, timeout=240)
    assert first.returncode == 0, f"stdout: {first.stdout!r}\nstderr: {first.stderr}"  # where it stopped
    assert f"downloaded {REPO}: 19." in first.stderr
    assert first.stdout.strip(), "an answer is printed"
    assert len(fetched) >= 5
    assert second.returncode == 0, second.stderr
    assert "download" not in second.stderr
    assert hub.requests == []
    assert second.stdout == first.stdout


def test_plain_line_wording():
    assert plain_line("m", 1.2e9, 17e9, 10.0) == "downloading m: 1.2 GB of 17.0 GB (7%), 120.0 MB/s, about 2 min left"
    assert plain_line("m", 500, None, 0.0) == "downloading m: 500 B, 0 B/s"
    assert plain_line("m", 19.7e6, 19.7e6, 1.2, done=True) == "downloaded m: 19.7 MB in 1 s"
