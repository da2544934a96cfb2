"""keep_kv=False: a request's KV is not kept in the prefix cache when it ends (a live window's one-off prompt),
while a default request's is; both still read what the cache holds. Real tiny Qwen3-VL, real engine."""

from __future__ import annotations

import numpy as np
import pytest

from vreason.media.video_types import PreparedVideo, VideoSampling

pytestmark = pytest.mark.slow  # the tiny model (shared with the suite's other model tests)


def prefix_entries(vr) -> int:
    return vr.engine.stats().caches["prefix"].entries


def clip(seed: int) -> PreparedVideo:
    frames = np.random.default_rng(seed).integers(0, 255, (4, 64, 64, 3), dtype=np.uint8)
    return PreparedVideo(
        frames=frames,
        timestamps=(0.0, 0.5, 1.0, 1.5),
        label=f"window {seed}",
        content_hash=f"keep-kv-{seed}",
        sampling=VideoSampling(fps=2.0),
        duration_s=1.5,
        source_fps=2.0,
        original_size=(64, 64),
    )


def test_requests_that_do_not_keep_kv_leave_the_prefix_cache_as_it_was(vr):
    before = prefix_entries(vr)
    for seed in range(3):
        answer = vr.ask(None, "is there a red circle?", video=clip(seed), max_new_tokens=3, keep_kv=False)
        assert answer.usage.prompt_tokens > 0
    assert prefix_entries(vr) == before  # three windows, nothing kept

    vr.ask(None, "is there a red circle?", video=clip(10), max_new_tokens=3)  # the default keeps it
    assert prefix_entries(vr) == before + 1
    # a request that does not keep its KV still reuses what is cached: same window, another question
    again = vr.ask(None, "is there a red circle? answer", video=clip(10), max_new_tokens=3, keep_kv=False)
    assert again.usage.cached_tokens > 0
    assert prefix_entries(vr) == before + 1
