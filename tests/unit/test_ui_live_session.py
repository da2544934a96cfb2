"""The web UI's live watch without a browser or a model: camera frames pushed into a `LiveSession` (a real
Watcher, PushSource and RollingWindow; a scripted asker that says yes when the newest frame is red), the event
log with the frames it saw as thumbnails, triggers changed while it runs, a question about now, stop."""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace

import numpy as np

from vreason.ui.live_session import LiveSession


class ScriptedVR:
    """What LiveSession needs of an AsyncVReason: `ask(None, question, video=...)` and `engine`."""

    engine = SimpleNamespace(video_budget=None)

    async def ask(self, images, question, video=None, **options):
        red = video.frames[-1][..., 0].mean() > 128 and video.frames[-1][..., 1].mean() < 64
        return ("yes" if red else "no") if question.startswith("is there") else "a red screen"


def frame(red: bool) -> np.ndarray:
    return np.full((48, 48, 3), (230, 20, 20) if red else (240, 240, 236), np.uint8)


def test_pushed_frames_raise_an_event_shown_with_its_frames():
    async def main():
        from vreason.live.sources import PushSource

        session = LiveSession.start(ScriptedVR(), PushSource(max_queue=64), 1.0, 2.0, ["a red screen appears"])
        for i in range(12):  # 0.6 s apart in stream time, red from the sixth frame on
            await session.push(frame(red=i >= 5), i * 0.6)
            await asyncio.sleep(0.06)
        deadline = time.monotonic() + 5
        while not session.events and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        html = session.events_html()
        checks = session.checks_text()
        session.set_triggers(["a red screen appears", "a blue screen appears"])
        kept = session.watcher.triggers[0]
        answer = await session.ask("what is on screen?")
        status = session.status_markdown()
        strip = session.strip()
        await session.stop()
        return session, html, checks, kept, answer, status, strip

    session, html, checks, kept, answer, status, strip = asyncio.run(main())
    assert len(session.events) == 1
    assert "a red screen appears" in html
    assert html.count("data:image/jpeg;base64,") == 2  # the event's frame pair
    assert checks.startswith("a red screen appears: yes")
    assert kept.fired == 1  # a kept trigger keeps its state
    assert [t.condition for t in session.watcher.triggers] == ["a red screen appears", "a blue screen appears"]
    assert answer["answer"] == "a red screen"
    assert "running" in status
    assert "events 1" in status
    assert 1 <= len(strip) <= 4
    assert session.state == "stopped"
