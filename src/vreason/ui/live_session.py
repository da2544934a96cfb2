"""One browser's live watch in the web UI: a `Watcher` over the camera frames the page streams (or a stream URL),
its items kept for the page to draw. No Gradio here; live_tab.py lays it out.

`LiveSession.start(vr, source, ...)` runs the watch as a task on the UI's event loop (the engine batches its
questions with every other tab's). Camera frames come through `push` (a `PushSource`: a bounded queue dropping
its oldest frame, stream time the wall clock since the first frame). The page polls `status_markdown`,
`strip` (the frames of the current window), `events_html` (newest first, each with the frames it saw as
thumbnails) and `checks_text`. Triggers can be changed while it runs (`set_triggers`: a trigger kept keeps
its state, a new one starts unarmed). `idle` tells the tab when the page has stopped feeding and polling it.
"""

from __future__ import annotations

import asyncio
import base64
import html
import io
import logging
import tempfile
import time
from collections import deque
from typing import Any

import numpy as np
from PIL import Image

from vreason.live.sources import FrameSource, PushSource
from vreason.live.triggers import Trigger
from vreason.live.watcher import Watcher, engine_asker
from vreason.live.window import RollingWindow

log = logging.getLogger("vreason.ui")
IDLE_S = 60.0
THUMB = 96
MAX_EVENTS = 20


class LiveSession:
    def __init__(self, watcher: Watcher, source: FrameSource, frames_dir: tempfile.TemporaryDirectory):
        self.watcher = watcher
        self.source = source
        self.push_source = source if isinstance(source, PushSource) else None
        self.events: deque[dict] = deque(maxlen=MAX_EVENTS)
        self.checks: dict[str, dict] = {}  # trigger -> its last check
        self.answers: deque[dict] = deque(maxlen=5)
        self.state = "running"
        self.error: str | None = None
        self.last_seen = time.monotonic()
        self._frames_dir = frames_dir
        self._task: asyncio.Task | None = None

    @classmethod
    def start(cls, vr: Any, source: FrameSource, window_s: float, fps: float, triggers: list[str]) -> LiveSession:
        frames_dir = tempfile.TemporaryDirectory(prefix="vreason-live-")
        window = RollingWindow(window_s, fps, budget=getattr(vr.engine, "video_budget", None), label="camera")
        watcher = Watcher(
            source, engine_asker(vr, max_new_tokens=16), window, triggers=triggers, frames_dir=frames_dir.name
        )
        session = cls(watcher, source, frames_dir)
        session._task = asyncio.get_running_loop().create_task(session._run(), name="vreason-ui-live")
        return session

    async def _run(self) -> None:
        try:
            async for item in self.watcher.events():
                data = item.to_dict()
                if data["type"] == "event":
                    data["thumbs"] = [_thumb(path) for path in data["frames"]]
                    self.events.append(data)
                elif data["kind"] == "check":
                    self.checks[data["trigger"]] = data
                else:
                    self.answers.append(data)
            self.state = "ended" if self.state == "running" else self.state
        except Exception as err:  # a source that fails (SourceError) or a fault: shown on the page
            self.state, self.error = "failed", str(err).splitlines()[0][:300]
            log.warning("live: the watch failed: %s", err)
        finally:
            self.watcher.stop()

    @property
    def running(self) -> bool:
        return self.state == "running"

    async def push(self, frame: np.ndarray, stream_time: float | None = None) -> None:
        """A camera frame; `stream_time` None: the wall clock since the first frame."""
        self.last_seen = time.monotonic()
        if self.push_source is not None and self.running:
            await self.push_source.push(frame, stream_time)

    def set_triggers(self, conditions: list[str]) -> None:
        kept = {t.condition: t for t in self.watcher.triggers}
        self.watcher.triggers = [kept.get(c) or Trigger(c) for c in conditions]

    async def ask(self, question: str) -> dict | None:
        answer = await self.watcher.ask(question)
        if answer is None:
            return None
        data = answer.to_dict()
        self.answers.append(data)
        return data

    async def stop(self) -> None:
        if self.running:
            self.state = "stopped"
        self.watcher.stop()
        if self._task is not None:
            await asyncio.wait([self._task], timeout=10)
        self._frames_dir.cleanup()

    # -- what the page shows -------------------------------------------------------------------------------
    def touch(self) -> None:
        self.last_seen = time.monotonic()

    def idle(self, now: float) -> bool:
        return now - self.last_seen > IDLE_S

    def status_markdown(self) -> str:
        window = self.watcher.window
        stats = self.watcher.stats
        frames = list(window.frames)
        span = f"{frames[0].stream_time:.1f}–{frames[-1].stream_time:.1f} s" if frames else "no frame yet"
        dropped = window.dropped + getattr(self.source, "dropped", 0)
        state = self.state if self.error is None else f"{self.state}: {self.error}"
        return (
            f"**{state}** · window {window.seconds:g} s @ {window.fps:g} fps ({span}) · frames {window.seen} "
            f"· dropped {dropped} · windows asked {stats.windows_asked} · events {stats.events}"
        )

    def strip(self) -> list[np.ndarray]:
        return [frame.image for frame in list(self.watcher.window.frames)]

    def checks_text(self) -> str:
        return "\n".join(f"{c['trigger']}: {c['answer']} (at {c['stream_time']:.1f} s)" for c in self.checks.values())

    def events_html(self) -> str:
        if not self.events:
            return '<div class="vr-live-empty">No events yet.</div>'
        rows = []
        for event in reversed(list(self.events)):
            thumbs = "".join(
                f'<img src="{src}" alt="frame" width="{THUMB}" style="display:inline-block;margin:2px">'
                for src in event["thumbs"]
            )
            rows.append(
                f'<div class="vr-live-event"><b>{event["stream_time"]:.1f} s</b> · '
                f"{html.escape(event['trigger'])} · <i>{html.escape(event['answer'])}</i> "
                f"· {event['latency_s']:.2f} s<br>{thumbs}</div>"
            )
        return "".join(rows)


def _thumb(path: str) -> str:
    """A small JPEG data URI of a saved event frame (the page shows it; the file goes with the session)."""
    with Image.open(path) as image:
        image.thumbnail((THUMB, THUMB))
        buffer = io.BytesIO()
        image.convert("RGB").save(buffer, "JPEG", quality=80)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode()
