"""The token estimate counts videos: each temporal patch's visual tokens (from the video budget) and its
`<t seconds>` marker and frame tokens; a clip not decoded yet is decoded through the media step once, and
counts the same as its decoded form. Real H.264 clips encoded with PyAV; no model."""

from __future__ import annotations

import numpy as np

from tests.video_samples import make_clip
from vreason.engine.types import Message, TextPart, VideoPart
from vreason.media import MediaPolicy, PixelBudget, PreparedVideo
from vreason.media.video_budget import VideoBudget
from vreason.media_step import MediaResolver
from vreason.reasoning.token_count import VIDEO_PATCH_TEXT_TOKENS, EstimateCounter


def _video(frames: int, width: int = 64, height: int = 64) -> PreparedVideo:
    pixels = np.zeros((frames, height, width, 3), np.uint8)
    return PreparedVideo(pixels, tuple(i / 2 for i in range(frames)), "<test clip>", f"hash-{frames}")


def _asked(video: object | None, question: str = "What happens?") -> list[Message]:
    parts = ([VideoPart(video)] if video is not None else []) + [TextPart(question)]
    return [Message("user", parts)]


def test_estimate_counts_every_temporal_patch_of_a_clip():
    budget = VideoBudget()
    counter = EstimateCounter(PixelBudget(), budget)
    text_only = counter.count(_asked(None))
    four, eight = counter.count(_asked(_video(4))), counter.count(_asked(_video(8)))
    per_patch = (64 // budget.factor) ** 2 + VIDEO_PATCH_TEXT_TOKENS  # 2x2 merged patches, marker, frame tokens
    assert four - text_only == 2 * per_patch
    assert eight - text_only == 4 * per_patch
    odd = counter.count(_asked(_video(5)))  # padded to an even count as the engine pads it
    assert odd == counter.count(_asked(_video(6)))


def test_a_long_conversation_about_a_clip_counts_the_clip_in_every_turn_it_is_in():
    counter = EstimateCounter(PixelBudget(), VideoBudget())
    clip = _video(8)
    one = counter.count(_asked(clip))
    history = [*_asked(clip), Message.assistant("A bar moves."), Message.user("And then?")]
    assert counter.count(history) > one  # the clip stays in the history, and the follow-up adds text
    assert counter.count(history) < 2 * one  # counted once, where it is


def test_a_clip_not_decoded_yet_is_decoded_once_and_counts_as_decoded(tmp_path):
    path = make_clip(tmp_path / "bar.mp4", width=96, height=64, frames=20, fps=10)
    budget = VideoBudget()
    counter = EstimateCounter(PixelBudget(), budget, MediaPolicy())
    part = VideoPart(str(path), {"max_frames": 4})
    decoded = MediaResolver(MediaPolicy(), max_images=None, video_budget=budget).load_video(part)
    assert decoded.num_frames == 4
    by_path = counter.count([Message("user", [part, TextPart("What happens?")])])
    by_frames = counter.count([Message("user", [VideoPart(decoded, part.sampling), TextPart("What happens?")])])
    assert by_path == by_frames
    counter.count([Message("user", [part, TextPart("Again?")])])
    assert len(counter.videos.media.video_cache) == 1  # the second count decoded nothing
