"""What a new user meets first, run as a user runs it (a subprocess, no network): short model names and a
"did you mean" for a typo, `vreason models --cached` reading the hub cache on disk, a flag that lets `ask`
fetch an image from the LAN, and a spinner while the model loads (on a terminal only)."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from functools import partial
from pathlib import Path

import pytest

from tests.cli_in_process import run_vreason
from tests.conftest import png_bytes

VREASON = [sys.executable, "-m", "vreason.cli.app"]
# No hub, ever: a test that reached for the network would fail rather than hang.
OFFLINE = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
SPINNER_TEXT = "loading the built-in demo model"


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*VREASON, *args], capture_output=True, text=True, timeout=240,
                          env={**os.environ, **OFFLINE, **(env or {})})


@pytest.fixture(scope="module")
def picture(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("first") / "red.png"
    path.write_bytes(png_bytes(size=(80, 60)))
    return path


def test_models_shows_short_names_that_model_accepts():
    run = partial(run_vreason, env=OFFLINE)  # the console script's main(), in this process (tests/cli_in_process.py)
    rows = json.loads(run("models", "--json").stdout)
    eight = next(r for r in rows if r["hub_id"] == "Qwen/Qwen3-VL-8B-Instruct")
    assert (eight["name"], eight["alias"]) == ("qwen3-vl-8b-instruct", "qwen3-vl-8b")
    table = run("models").stdout
    assert "qwen3-vl-8b " in table
    assert "qwen3-vl-32b-thinking-fp8" in table
    assert "Qwen/Qwen3-VL-32B-Thinking-FP8" in table  # piped output is not cut at 80 columns


def test_a_mistyped_short_name_gets_a_did_you_mean_in_one_line(picture):
    run = partial(run_vreason, env=OFFLINE)  # no slash: never a hub id, so nothing is looked up
    typo = run("ask", str(picture), "What color?", "--model", "qwen3-vl-8bb")
    assert typo.returncode == 2
    assert typo.stderr.strip().splitlines()[-1].startswith(
        "error: model 'qwen3-vl-8bb' is neither a local directory nor a hub id")
    assert "did you mean qwen3-vl-8b" in typo.stderr
    assert "Traceback" not in typo.stderr
    unrelated = run("ask", str(picture), "What color?", "--model", "zebra")
    assert unrelated.returncode == 2
    assert "did you mean" not in unrelated.stderr


def _cache_repo(cache: Path, repo_id: str, files: dict[str, bytes], kind: str = "models") -> None:
    """A repo laid out as huggingface_hub downloads it: blobs, snapshots/<commit>/ links to them, refs/main."""
    root = cache / f"{kind}--{repo_id.replace('/', '--')}"
    commit = "0123456789abcdef0123456789abcdef01234567"
    (root / "blobs").mkdir(parents=True)
    (root / "snapshots" / commit).mkdir(parents=True)
    (root / "refs").mkdir()
    (root / "refs" / "main").write_text(commit)
    for k, (name, data) in enumerate(files.items()):
        blob = root / "blobs" / f"blob{k}"
        blob.write_bytes(data)
        (root / "snapshots" / commit / name).symlink_to(Path("..") / ".." / "blobs" / blob.name)


def test_models_cached_lists_what_is_on_disk(tmp_path):
    cache = tmp_path / "hub"
    qwen_config = json.dumps({"model_type": "qwen3_vl"}).encode()
    _cache_repo(cache, "Qwen/Qwen3-VL-2B-Instruct", {"config.json": qwen_config, "model.safetensors": b"w" * 4096})
    _cache_repo(cache, "someone/my-qwen3-vl", {"config.json": qwen_config})  # weights not downloaded yet
    _cache_repo(cache, "someone/llama", {"config.json": json.dumps({"model_type": "llama"}).encode(),
                                         "model.safetensors": b"w"})
    _cache_repo(cache, "someone/pictures", {"data.csv": b"a,b"}, kind="datasets")
    env = {"HF_HUB_CACHE": str(cache)}

    listed = run("models", "--cached", "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    data = json.loads(listed.stdout)
    assert data["cache_dir"] == str(cache)
    models = {m["hub_id"]: m for m in data["models"]}
    assert set(models) == {"Qwen/Qwen3-VL-2B-Instruct", "someone/my-qwen3-vl", "someone/llama"}  # no datasets
    qwen = models["Qwen/Qwen3-VL-2B-Instruct"]
    assert (qwen["short_name"], qwen["model_type"], qwen["has_safetensors"]) == ("qwen3-vl-2b", "qwen3_vl", True)
    assert qwen["size_bytes"] == 4096 + len(qwen_config)
    assert models["someone/llama"]["short_name"] is None

    table = run("models", "--cached", env=env).stdout
    lines = {line.split()[1]: line for line in table.splitlines() if line.startswith("│")}
    assert "yes" in lines["qwen3-vl-2b"]
    assert "no *.safetensors" in lines["someone/my-qwen3-vl"]
    assert "llama, not Qwen3-VL" in lines["someone/llama"]

    empty = run("models", "--cached", env={"HF_HUB_CACHE": str(tmp_path / "never-downloaded")})
    assert empty.returncode == 0, empty.stderr
    assert "No models in the Hugging Face cache" in empty.stdout


@pytest.mark.slow
def test_ask_fetches_a_lan_image_only_with_allow_private_media_urls(http_server):
    url, routes = http_server
    routes["/red.png"] = (200, {"Content-Type": "image/png"}, png_bytes(size=(80, 60)))
    flags = ("--max-new-tokens", "4", "--temperature", "0")
    run = partial(run_vreason, env=OFFLINE)  # the console script's main(), in this process (tests/cli_in_process.py)

    refused = run("ask", f"{url}/red.png", "What color is it?", *flags)
    assert refused.returncode == 2
    assert "refused (private network)" in refused.stderr.strip().splitlines()[-1]

    other_host = run("ask", f"{url}/red.png", "What color is it?", *flags, "--allow-private-media-urls",
                     "--allowed-media-domains", "images.example.com")
    assert other_host.returncode == 2
    assert "127.0.0.1" in other_host.stderr.strip().splitlines()[-1]

    allowed = run("ask", f"{url}/red.png", "What color is it?", *flags, "--allow-private-media-urls")
    assert allowed.returncode == 0, allowed.stderr
    assert allowed.stdout.strip()
    # Piped stderr: no spinner, no cursor control.
    assert SPINNER_TEXT not in allowed.stderr
    assert "\x1b[" not in allowed.stderr


@pytest.mark.slow
def test_a_spinner_says_what_loads_when_stderr_is_a_terminal(picture):
    controller, terminal = pty.openpty()
    env = {**os.environ, **OFFLINE, "TERM": "xterm-256color", "COLUMNS": "100", "LINES": "30"}
    proc = subprocess.Popen([*VREASON, "ask", str(picture), "What color is it?", "--max-new-tokens", "4"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=terminal, env=env)
    os.close(terminal)
    seen = b""
    while True:
        try:
            chunk = os.read(controller, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        seen += chunk
    os.close(controller)
    stdout, _ = proc.communicate(timeout=240)
    assert proc.returncode == 0, seen.decode(errors="replace")
    assert stdout.strip()  # the answer still goes to stdout alone, with no spinner in it
    assert b"\x1b" not in stdout
    assert SPINNER_TEXT.encode() not in stdout
    text = seen.decode(errors="replace")
    assert SPINNER_TEXT in text
    assert "\x1b[?25l" in text  # the cursor is hidden while the spinner turns (and shown again after)
    assert "\x1b[?25h" in text
