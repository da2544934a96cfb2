"""The Live tab: watch the browser's camera (or a stream URL) and raise events when a condition turns true.

The camera is Gradio's webcam image in streaming mode: the page opens it with getUserMedia and sends a frame
every STREAM_EVERY_S seconds to `on_frame`, which pushes it into this browser's `LiveSession` (live_session.py:
a `Watcher` over a `PushSource`, started on the first frame with the window, rate and triggers on the page).
A stream URL is opened under the engine's media policy (live/source_policy.py: public hosts only unless the
policy allows private ones). A timer redraws the status, the current window as a strip of frames, the last
answer of each trigger and the event log with the frames each event saw. Triggers edited while watching apply
to the next window; "Ask about now" asks about the current window. One session per browser tab; it stops with
the Stop button, when the page closes, or when the page has gone quiet for live_session.IDLE_S.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import gradio as gr
import numpy as np

from vreason.live.source_policy import checked_source
from vreason.live.sources import PushSource
from vreason.live.types import SourceError
from vreason.ui.live_session import LiveSession

if TYPE_CHECKING:
    from vreason.async_api import AsyncVReason

STREAM_EVERY_S = 0.25  # frames a second from the page: 4, the window keeps its own rate of them
REFRESH_S = 0.5
MAX_SESSIONS = 16
DEFAULT_TRIGGERS = "a red circle appears"


def parse_triggers(text: str) -> list[str]:
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


class LiveTab:
    def __init__(self, vr: AsyncVReason):
        self.vr = vr
        self.sessions: dict[str, LiveSession] = {}  # Gradio session hash -> its watch

    def build(self, app: gr.Blocks, tab: gr.Tab | None = None) -> None:
        with gr.Row():
            with gr.Column(scale=1):
                camera = gr.Image(
                    sources=["webcam"],
                    streaming=True,
                    type="numpy",
                    label="Camera",
                    elem_id="live-camera",
                    webcam_options=gr.WebcamOptions(mirror=False),
                )
                url = gr.Textbox(
                    label="…or a stream URL", placeholder="rtsp://camera.example.com/stream", elem_id="live-url"
                )
                with gr.Row():
                    watch_url = gr.Button("Watch URL", elem_id="live-watch-url")
                    stop = gr.Button("Stop", elem_id="live-stop", variant="stop")
                triggers = gr.Textbox(
                    DEFAULT_TRIGGERS, lines=3, label="Triggers (one a line; edit any time)", elem_id="live-triggers"
                )
                with gr.Row():
                    window_s = gr.Number(2, label="Window (s)", minimum=0.5, maximum=120, elem_id="live-window")
                    fps = gr.Number(2, label="Frames a second", minimum=0.5, maximum=8, elem_id="live-fps")
            with gr.Column(scale=2):
                status = gr.Markdown("Start the camera (or give a stream URL) to watch.", elem_id="live-status")
                strip = gr.Gallery(
                    label="Current window",
                    columns=8,
                    height=140,
                    elem_id="live-strip",
                    allow_preview=False,
                    object_fit="contain",
                    show_label=True,
                )
                checks = gr.Textbox(
                    label="Last check of each trigger", lines=2, interactive=False, elem_id="live-checks"
                )
                with gr.Row():
                    question = gr.Textbox(
                        label="Ask about now", placeholder="what is happening?", scale=4, elem_id="live-question"
                    )
                    ask = gr.Button("Ask", scale=1, elem_id="live-ask")
                answer = gr.Markdown(elem_id="live-answer")
                events = gr.HTML(
                    '<div class="vr-live-empty">No events yet.</div>', label="Events", elem_id="live-events"
                )
        camera.stream(
            self.on_frame,
            [camera, triggers, window_s, fps],
            [],
            stream_every=STREAM_EVERY_S,
            time_limit=3600,
            concurrency_limit=MAX_SESSIONS,
            concurrency_id="live-frames",
            show_progress="hidden",
        )
        watch_url.click(self.watch_url, [url, triggers, window_s, fps], [status])
        stop.click(self.stop, [], [status])
        triggers.change(self.set_triggers, [triggers], [], show_progress="hidden")
        ask.click(self.ask, [question], [answer], concurrency_id="model")
        question.submit(self.ask, [question], [answer], concurrency_id="model")
        # The page polls only once the tab has been opened: other tabs' pages send no requests for it.
        timer = gr.Timer(REFRESH_S, active=tab is None)
        if tab is not None:
            tab.select(lambda: gr.Timer(active=True), None, timer, show_progress="hidden", queue=False)
        timer.tick(self.refresh, [], [status, strip, checks, events], show_progress="hidden", concurrency_limit=None)
        app.unload(self.unload)

    # -- handlers --------------------------------------------------------------------------------------------
    async def on_frame(
        self, frame: np.ndarray | None, triggers: str, window_s: float, fps: float, request: gr.Request
    ) -> None:
        if frame is None:
            return
        key = request.session_hash or "-"
        session = self.sessions.get(key)
        if session is None or not session.running or session.push_source is None:
            if session is not None:
                await session.stop()
            await self._reap()
            if len(self.sessions) >= MAX_SESSIONS:
                raise gr.Error(f"{MAX_SESSIONS} live watches are running on this server; try again later")
            session = LiveSession.start(
                self.vr, PushSource(label="camera"), _window(window_s), _fps(fps), parse_triggers(triggers)
            )
            self.sessions[key] = session
        await session.push(frame)

    async def watch_url(self, url: str, triggers: str, window_s: float, fps: float, request: gr.Request) -> str:
        key = request.session_hash or "-"
        if not (url or "").strip():
            return "Give a stream URL (rtsp://, http(s)://) first."
        try:
            source = checked_source(url, self.vr.engine.policy)
        except SourceError as err:
            return f"**Not opened:** {err}"
        if (old := self.sessions.pop(key, None)) is not None:
            await old.stop()
        self.sessions[key] = LiveSession.start(self.vr, source, _window(window_s), _fps(fps), parse_triggers(triggers))
        return f"Watching {url}…"

    async def stop(self, request: gr.Request) -> str:
        session = self.sessions.pop(request.session_hash or "-", None)
        if session is None:
            return "Not watching."
        await session.stop()
        return session.status_markdown()

    def set_triggers(self, text: str, request: gr.Request) -> None:
        session = self.sessions.get(request.session_hash or "-")
        if session is not None:
            session.set_triggers(parse_triggers(text))

    async def ask(self, question: str, request: gr.Request) -> str:
        session = self.sessions.get(request.session_hash or "-")
        if not (question or "").strip():
            return "Type a question about what the camera sees now."
        if session is None:
            return "Start the camera first."
        answer = await session.ask(question.strip())
        if answer is None:
            return "No frame yet; wait for the camera."
        window = answer["window"]
        span = f"{window['start']:.1f}–{window['end']:.1f} s"
        return f"**{answer['answer']}** · window {span} ({window['frames']} frames)"

    def refresh(self, request: gr.Request) -> tuple:
        session = self.sessions.get(request.session_hash or "-")
        if session is None:
            return gr.skip(), gr.skip(), gr.skip(), gr.skip()
        session.touch()
        return session.status_markdown(), session.strip(), session.checks_text(), session.events_html()

    async def unload(self, request: gr.Request) -> None:
        session = self.sessions.pop(request.session_hash or "-", None)
        if session is not None:
            await session.stop()

    async def _reap(self) -> None:
        now = time.monotonic()
        for key, session in list(self.sessions.items()):
            if session.idle(now) or not session.running:
                self.sessions.pop(key, None)
                await session.stop()


def _window(value: float | None) -> float:
    return min(120.0, max(0.5, float(value or 2)))


def _fps(value: float | None) -> float:
    return min(8.0, max(0.5, float(value or 2)))
