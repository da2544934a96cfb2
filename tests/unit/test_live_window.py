"""The rolling window: rate, time, count and pixel bounds, pair-aligned eviction, drops counted for a slow
consumer, and the snapshot as a PreparedVideo with real (window-relative) times."""

from __future__ import annotations

import numpy as np
import pytest

from vreason.live.window import RollingWindow
from vreason.media.video_budget import VideoBudget


def picture(value: int, size=(48, 64)) -> np.ndarray:
    return np.full((*size, 3), value % 256, np.uint8)


def test_rate_keeps_one_frame_per_slot():
    window = RollingWindow(seconds=10, fps=2)
    kept = [window.add(picture(i), i / 8) for i in range(16)]  # 2 s of an 8 fps source
    assert sum(kept) == 4
    assert window.sampled_out == 12
    assert window.seen == 16
    assert [f.stream_time for f in window.frames] == [0.0, 0.5, 1.0, 1.5]


def test_source_at_the_window_rate_is_never_sampled_out():
    window = RollingWindow(seconds=100, fps=3)
    assert all(window.add(picture(i), i / 3) for i in range(30))


def test_time_and_count_bounds_evict_in_pairs():
    window = RollingWindow(seconds=4, fps=2)
    for i in range(41):
        window.add(picture(i), i * 0.5)
        assert window.frames[-1].stream_time - window.frames[0].stream_time <= 4.0
        assert len(window) <= window.max_frames
        assert window.frames[0].seq % 2 == 0  # patches stay the same frame pairs from window to window
    capped = RollingWindow(seconds=100, fps=2, max_frames=6)
    for i in range(20):
        capped.add(picture(i), i * 0.5)
    assert len(capped) <= 6


def test_frames_resized_once_under_the_video_budget():
    budget = VideoBudget()
    window = RollingWindow(seconds=10, fps=2, budget=budget)
    window.add(picture(1, (480, 640)), 0.0)
    width, height = window.frame_size
    assert width % budget.factor == 0
    assert height % budget.factor == 0
    assert width * height * window.max_frames <= budget.max_pixels
    assert window.frames[0].image.shape == (height, width, 3)


def test_slow_consumer_drops_are_counted_and_snapshots_mark_seen():
    window = RollingWindow(seconds=2, fps=2)
    assert window.snapshot() is None
    for i in range(4):
        window.add(picture(i), i * 0.5)
    video, info, frames = window.snapshot()
    assert info.new_frames == 4
    assert window.dropped == 0
    for i in range(4, 20):  # nobody asks for 8 s: the frames that came and went unseen are dropped
        window.add(picture(i), i * 0.5)
    assert window.dropped == 20 - 4 - len(window)
    video, info, frames = window.snapshot()
    assert info.new_frames == len(window) == video.num_frames
    assert video.timestamps[0] == 0.0
    assert info.start == frames[0].stream_time
    assert video.timestamps[-1] == pytest.approx(info.end - info.start)
    assert list(np.diff(video.timestamps)) == pytest.approx([0.5] * (video.num_frames - 1))


def test_snapshots_of_different_windows_have_different_content_hashes():
    window = RollingWindow(seconds=2, fps=2)
    window.add(picture(0), 0.0)
    window.add(picture(1), 0.5)
    first = window.snapshot()[0]
    window.add(picture(2), 1.0)
    assert window.snapshot()[0].content_hash != first.content_hash


def test_bad_window_settings_are_refused():
    with pytest.raises(ValueError, match="must be > 0"):
        RollingWindow(seconds=0)
