"""Which live windows keep their KV in the engine's prefix cache: only those the next window's prompt will start
with — the window still growing (nothing leaves before the next check), or a still scene (the frames that will
lead the next window have the same pixels). An asker that takes `keep_kv` is told; a plain one is asked plainly.
Real Watcher and RollingWindow; scripted askers."""

from __future__ import annotations

import asyncio

import numpy as np

from vreason.live import PushSource, RollingWindow, Watcher


def picture(value: int) -> np.ndarray:
    return np.full((32, 32, 3), value, np.uint8)


def watcher_over(values: list[int], asker=None) -> Watcher:
    async def plain(video, question):
        return "no"

    window = RollingWindow(2, 2)  # 2 s at 2 fps: 5 frames span it, 6 held at most; checked every frame pair
    for i, value in enumerate(values):
        window.add(picture(value), i * 0.5)
    return Watcher(PushSource(), asker or plain, window, triggers=["a red circle appears"])


def test_a_growing_window_keeps_its_kv():
    watcher = watcher_over([1, 2, 3])
    assert watcher.reusable(list(watcher.window.frames))


def test_a_full_window_of_a_changing_scene_does_not():
    watcher = watcher_over(list(range(12)))
    assert not watcher.reusable(list(watcher.window.frames))


def test_a_full_window_of_a_still_scene_does():
    watcher = watcher_over([7] * 12)
    assert watcher.reusable(list(watcher.window.frames))


def test_an_asker_that_takes_keep_kv_is_told():
    told: list[bool] = []

    async def asker(video, question, keep_kv=True):
        told.append(keep_kv)
        return "no"

    async def main():
        changing = watcher_over(list(range(12)), asker)
        await changing.ask("what now?")
        still = watcher_over([7] * 12, asker)
        await still.ask("what now?")

    asyncio.run(main())
    assert told == [False, True]
