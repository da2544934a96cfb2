"""The terminal panel of `vreason watch`, rendered to text: the window and its counters, each trigger's last
answer and state, answers to questions, recent events newest first, webhook counters. A real Watcher and
RollingWindow hold the state; items are the dicts the watch produces."""

from __future__ import annotations

import io

import numpy as np
from rich.console import Console

from vreason.live import PushSource, RollingWindow, Watcher
from vreason.live.live_view import LiveView
from vreason.live.types import WatchAnswer, WatchEvent, WindowInfo


async def never(video, question):  # the panel is drawn from recorded items; nothing is asked here
    raise AssertionError("not asked")


def render(view: LiveView) -> str:
    console = Console(file=io.StringIO(), width=140, color_system=None)
    console.print(view)
    return console.file.getvalue()


class Hook:
    def stats(self) -> dict:
        return {"sent": 2, "failed": 1, "retried": 3, "dropped": 0, "pending": 0}


def test_the_panel_shows_window_counters_triggers_answers_and_events():
    window = RollingWindow(2, 2)
    watcher = Watcher(PushSource(), never, window, triggers=["a red circle appears"], questions=["what now?"])
    for i in range(6):
        window.add(np.zeros((32, 32, 3), np.uint8), i / 4)  # 4 fps offered, 2 fps kept
    view = LiveView(watcher, "cam.mp4")
    view.webhook = Hook()
    info = WindowInfo(0.5, 1.0, 2, 2, 0.0)
    check = WatchAnswer("check", "is there a red circle?", "yes", 1.0, 0.0, info, trigger="a red circle appears")
    watcher.triggers[0].update(True, 1.0)
    view.add(check.to_dict())
    view.add(WatchAnswer("every", "what now?", "a red circle", 1.0, 0.0, info).to_dict())
    for at in (1.0, 7.5):
        view.add(
            WatchEvent(
                "a red circle appears",
                "is there a red circle?",
                "yes",
                at,
                0.0,
                info,
                0.42,
                frames=[f"/tmp/out-frames/event-{at}.jpg"],
            ).to_dict()
        )
    text = render(view)
    assert "vreason watch · cam.mp4" in text
    assert "window 2 s @ 2 fps" in text
    assert "frames seen 6" in text
    assert "sampled out 3" in text
    assert "dropped 0" in text
    row = next(line for line in text.splitlines() if "a red circle appears" in line and "holds" in line)
    assert "yes" in row  # its last answer
    assert row.rstrip(" │").endswith("1")  # fired once
    assert "what now?" in text
    assert "a red circle" in text
    assert "0.5-1.0 s" in text  # the window the answer saw
    assert text.index("7.5 s") < text.index("event-1.0.jpg")  # newest event first
    assert "webhook sent 2" in text
    assert "failed 1" in text
