"""Video on the surfaces in this repository's core: `vreason ask CLIP "..."` with the Video options on the tiny
random Qwen3-VL (a clip named .jpg is still a video: content decides), its one-line refusals before a model
loads, and the Python API (`ask(video=...)`, a conversation whose follow-up reuses the clip's KV)."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from tests.video_samples import make_audio_only, make_clip
from vreason.errors import InvalidRequestError, MediaError

pytestmark = pytest.mark.slow


@pytest.fixture
def restored_logging() -> Iterator[None]:
    """The CLI points vreason's log handler at its stderr; in-process runs must not leave it on a closed stream."""
    logger = logging.getLogger("vreason")
    handlers, propagate, level = logger.handlers[:], logger.propagate, logger.level
    yield
    logger.handlers[:] = handlers
    logger.propagate = propagate
    logger.setLevel(level)


def run_cli(*args: str):
    from typer.testing import CliRunner

    from vreason.cli.app import app

    return CliRunner().invoke(app, list(args))


def test_cli_ask_about_a_clip_named_like_a_picture(tmp_path, tiny_model_dir, restored_logging):
    clip = tmp_path / "holiday.jpg"
    clip.write_bytes(make_clip(tmp_path / "c.mp4", 96, 64, frames=40, fps=10).read_bytes())
    result = run_cli(
        "ask",
        str(clip),
        "What moves?",
        "--model",
        str(tiny_model_dir),
        "--fps",
        "2",
        "--max-frames",
        "4",
        "--start",
        "1",
        "--end",
        "3.5",
        "--stats",
        "--max-new-tokens",
        "4",
        "--temperature",
        "0",
        "--json",
    )
    assert result.exit_code == 0, result.output
    assert "from video" in result.stderr
    import json

    usage = json.loads(result.stdout)["usage"]
    assert usage["video_tokens"] == usage["image_tokens"] > 0


def test_cli_refuses_bad_video_inputs_before_loading(tmp_path, restored_logging):
    audio = make_audio_only(tmp_path / "sound.mp4")
    clip = make_clip(tmp_path / "c.mp4")
    image = tmp_path / "still.png"
    from PIL import Image

    Image.new("RGB", (16, 16)).save(image)
    no_video_track = run_cli("ask", str(audio), "q", "--model", str(tmp_path / "never-loaded"))
    assert isinstance(no_video_track.exception, MediaError)
    wrong_options = run_cli("ask", str(image), "q", "--fps", "1", "--model", str(tmp_path / "never-loaded"))
    assert "none of the inputs is a video" in str(wrong_options.exception)
    bad_range = run_cli("ask", str(clip), "q", "--start", "5", "--end", "2", "--model", str(tmp_path / "x"))
    assert isinstance(bad_range.exception, InvalidRequestError)
    assert "end (2.0) must be after start (5.0)" in str(bad_range.exception)


def test_python_api_video_keyword_and_a_conversation_follow_up(vr, tmp_path):
    clip = make_clip(tmp_path / "c.mp4", 96, 64, frames=30, fps=10)
    answer = vr.ask(None, "What moves?", video={"video": str(clip), "num_frames": 4}, max_new_tokens=3)
    assert answer.usage.video_tokens > 0
    conv = vr.conversation()
    first = conv.ask("What moves in the clip?", video=str(clip), max_new_tokens=3, temperature=0)
    follow = conv.ask("And where does it end?", max_new_tokens=3, temperature=0)
    assert follow.usage.video_tokens == first.usage.video_tokens  # the clip stays in the history
    assert follow.usage.cached_tokens >= first.usage.video_tokens  # ... and its KV is reused
    with pytest.raises(InvalidRequestError, match="unknown video key"):
        vr.ask(None, "q", video={"video": str(clip), "frame_rate": 2})


def test_cli_ask_about_a_clip_on_the_built_in_demo_model(tmp_path, restored_logging):
    clip = make_clip(tmp_path / "shapes.webm", 128, 96, frames=20, fps=10, codec="libvpx-vp9")
    result = run_cli("ask", str(clip), "What colour is the shape?", "--max-new-tokens", "8", "--stats", "--json")
    assert result.exit_code == 0, result.output
    import json

    answer = json.loads(result.stdout)
    assert answer["usage"]["video_tokens"] > 0
    assert answer["answer"].strip()
