"""The watcher on a real engine (the tiny random Qwen3-VL, no fakes): a synthetic clip decoded by PyAV in a
background thread, windows asked as videos with real frame times, usage (prefill and video tokens) reported
per window; frames pushed by the caller."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from vreason.live import (
    FileSource,
    PushSource,
    RollingWindow,
    WatchAnswer,
    Watcher,
    engine_asker,
)
from vreason.live.synthetic import Appearance, scene_at, write_stream

pytestmark = pytest.mark.slow

SCHEDULE = [Appearance("circle", "red", 2.0, 4.0)]


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return write_stream(tmp_path_factory.mktemp("live") / "shapes.mp4", SCHEDULE, seconds=6, fps=8, size=128)


def test_watch_a_file_on_the_engine(vr, clip, tmp_path):
    async def main():
        window = RollingWindow(3, 2, budget=vr.engine.video_budget)
        watcher = Watcher(
            FileSource(clip),
            engine_asker(vr.aio, max_new_tokens=4),
            window,
            triggers=["a red circle appears"],
            every=2,
            questions=["what is happening?"],
            check_every=1.0,
            frames_dir=tmp_path,
        )
        items = [item async for item in watcher.events()]
        now = await watcher.ask("what is there now?")
        return watcher, items, now

    watcher, items, now = vr.run(main())
    checks = [i for i in items if isinstance(i, WatchAnswer) and i.kind == "check"]
    periodic = [i for i in items if isinstance(i, WatchAnswer) and i.kind == "every"]
    assert checks, "the trigger was checked"
    assert periodic, "the periodic question was asked"
    for answer in checks + periodic + [now]:
        assert answer.video_tokens > 0
        assert answer.prompt_tokens > answer.video_tokens
        assert 0 < answer.prefill_tokens <= answer.prompt_tokens
        assert answer.window.end - answer.window.start <= 3.0
    assert checks[-1].stream_time == pytest.approx(5.5)  # the last window reaches the end of the clip
    stats = watcher.stats
    assert stats.frames_seen == 48
    assert stats.frames_seen == stats.frames_sampled_out + 12  # 6 s at 2 fps kept
    assert stats.windows_asked >= 2  # as fast as decoded: windows the engine could not keep up with are skipped
    # Time order and the window's own times: every window is the newest 3 s (or less at the start)
    ends = [c.stream_time for c in checks]
    assert ends == sorted(ends)


def test_pushed_frames_on_the_engine(vr):
    async def main():
        source = PushSource(max_queue=4)
        watcher = Watcher(source, engine_asker(vr.aio, max_new_tokens=2), RollingWindow(2, 2), questions=["what now?"])
        items = []

        async def consume():
            items.extend([item async for item in watcher.events()])

        task = asyncio.create_task(consume())
        for i in range(8):
            await source.push(scene_at(i / 2, SCHEDULE, 64), i / 2)
            await asyncio.sleep(0.02)
        await source.close()
        await asyncio.wait_for(task, 60)
        return watcher, items

    watcher, items = vr.run(main())
    assert len(items) == 1  # no --every: asked once, about the last window
    assert items[0].kind == "ask"
    assert items[0].window.end == 3.5
    assert items[0].video_tokens > 0
    # the frames that left the 2 s window before the one question saw them count as dropped (the queue's too)
    assert watcher.stats.frames_dropped == 8 - items[0].window.frames


def test_a_sliding_window_encodes_only_its_new_frame_pair(vr):
    async def main():
        source = PushSource(max_queue=16)
        watcher = Watcher(source, engine_asker(vr.aio, max_new_tokens=1), RollingWindow(2, 2))
        consumer = asyncio.create_task(_drain(watcher))
        for i in range(4):  # 2 s at 2 fps: two frame pairs, every frame different
            await source.push(_noise(i), i / 2)
        await asyncio.sleep(0.2)
        first = await watcher.ask("what now?")
        for i in range(4, 6):  # one more pair: the oldest leaves, one new arrives
            await source.push(_noise(i), i / 2)
        await asyncio.sleep(0.2)
        second = await watcher.ask("what now?")
        await source.close()
        await asyncio.wait_for(consumer, 60)
        return first, second

    first, second = vr.run(main())
    assert second.window.start > first.window.start
    assert second.cached_patches >= 1  # the pair still in the window came from the vision cache
    assert second.cached_patches < second.window.frames // 2  # the new pair went through the tower


def _noise(seed: int):
    from PIL import Image

    return Image.fromarray(np.random.default_rng(seed).integers(0, 256, (64, 64, 3), dtype=np.uint8))


async def _drain(watcher):
    return [item async for item in watcher.events()]
