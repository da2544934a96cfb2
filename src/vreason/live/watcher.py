"""The watcher: a source, its rolling window, and the questions asked about it, as an async iterator.

    watcher = Watcher(FileSource("line.mp4", realtime=True), engine_asker(vr.aio), RollingWindow(30, 2),
                      triggers=[Trigger("a red circle appears")], every=5, questions=["what is happening?"])
    async for item in watcher.events():      # WatchEvent / WatchAnswer as they happen
        print(item.to_dict())
    await watcher.ask("what changed in the last 10 s?")   # any time, about the current window
    watcher.stop()                                         # from any thread; the iterator then ends

On each new window (at least `check_every` seconds of new frames; default one frame pair) every trigger's
yes/no question is asked about it (all at once: the engine batches them), and an event fires on a trigger's
transition to true (triggers.py). Periodic questions are asked every `every` seconds of stream time; with no
`every`, they are asked once, about the last window, when the source ends or the watch stops. When questions
take longer than frames arrive, windows are skipped (the newest is always the one asked) and frames that
leave unseen are counted as dropped: the watch falls behind by at most one window, never by a queue.

The asker is any `async (video, question) -> Answer | str`: `engine_asker` asks a real engine (greedy,
short answers); a scripted callable drives the state machine in unit tests. An asker that takes a `keep_kv`
keyword is told whether the window's KV is worth keeping in the engine's prefix cache (`reusable`): only when
the next window's prompt will start with this one's — nothing leaves the window before the next check, or the
frames that will lead the next window have the same pixels as those leading this one (a still scene: the same
tokens). Otherwise the window's KV would only push reusable KV (chat follow-ups) out of the cache.

The source ending ends the iterator; its failure (`SourceError`) is raised from it. A question that fails with a
`VReasonError` (the engine overloaded, a timeout) is logged and counted (`stats.errors`), and the watch goes on
with the next window.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import re
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from vreason.errors import VReasonError
from vreason.live.sources import FrameSource
from vreason.live.triggers import Trigger
from vreason.live.types import LiveFrame, WatchAnswer, WatchEvent, WatchStats, WindowInfo
from vreason.live.window import RollingWindow
from vreason.media.video_types import PreparedVideo

Asker = Callable[[PreparedVideo, str], Awaitable[Any]]
Item = WatchAnswer | WatchEvent
log = logging.getLogger("vreason.live")


def engine_asker(vr: Any, max_new_tokens: int = 24, **sampling: Any) -> Asker:
    """Ask an `AsyncVReason` about a window: greedy decoding, short answers (a yes/no needs a few tokens).
    `keep_kv` (the watcher's call, see above) goes to the engine request; the vision cache reuses each frame
    pair's features either way."""

    async def ask(video: PreparedVideo, question: str, keep_kv: bool = True) -> Any:
        options = {"temperature": 0.0, "max_new_tokens": max_new_tokens, "keep_kv": keep_kv, **sampling}
        return await vr.ask(None, question, video=video, **options)

    return ask


class Watcher:
    def __init__(
        self,
        source: FrameSource,
        asker: Asker,
        window: RollingWindow | None = None,
        triggers: Sequence[Trigger | str] = (),
        every: float | None = None,
        questions: Sequence[str] = (),
        check_every: float | None = None,
        frames_dir: str | Path | None = None,
    ):
        self.source = source
        self.asker = asker
        self.window = window if window is not None else RollingWindow()  # (an empty window is falsy)
        self.triggers = [t if isinstance(t, Trigger) else Trigger(t) for t in triggers]
        if every is not None and every <= 0:
            raise ValueError(f"every ({every}) must be > 0 seconds")
        self.every = every
        self.questions = list(questions)
        period = check_every if check_every is not None else 2 / self.window.fps
        self.step_frames = max(1, round(period * self.window.fps))
        self.frames_dir = Path(frames_dir) if frames_dir is not None else None
        try:
            self._tells_keep = "keep_kv" in inspect.signature(asker).parameters
        except (TypeError, ValueError):  # a callable without a signature: asked plainly
            self._tells_keep = False
        self.stats = WatchStats()
        self._stop = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None

    def stop(self) -> None:
        """End the watch (thread-safe, idempotent): the source stops, the iterator ends after its current step."""
        self._stop.set()
        if self._loop is not None and self._wake is not None:
            self._loop.call_soon_threadsafe(self._wake.set)

    async def ask(self, question: str, kind: str = "ask") -> WatchAnswer | None:
        """One question about the current window (None before the first frame)."""
        snap = self.window.snapshot()
        if snap is None:
            return None
        video, info, frames = snap
        return await self._answer(video, info, question, kind, self.reusable(frames))

    async def events(self) -> AsyncIterator[Item]:
        self._loop = asyncio.get_running_loop()
        self._wake = wake = asyncio.Event()
        self.window.on_frame = lambda: self._loop.call_soon_threadsafe(wake.set)  # type: ignore[union-attr]
        task = self.source.start(self.window, self._stop)
        checked = -1
        last_every: float | None = None
        try:
            while not self._stop.is_set():
                ended = task.done()
                if ended and not task.cancelled() and task.exception() is not None:
                    raise task.exception()  # type: ignore[misc]
                new = self.window.newest_seq - checked
                if new >= self.step_frames or (ended and new > 0):
                    newest = self.window.newest_time
                    every_due = self.every is not None and (last_every is None or newest - last_every >= self.every)
                    if not self.triggers and not every_due:
                        checked = self.window.newest_seq  # nothing to ask about this window
                        continue
                    snap = self.window.snapshot()
                    assert snap is not None
                    video, info, frames = snap
                    checked = frames[-1].seq
                    if every_due:
                        last_every = info.end
                    self.stats.windows_asked += 1
                    async for item in self._step(video, info, frames, every_due):
                        yield item
                    continue
                if ended:
                    break
                wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), 0.25)
            if self.questions and self.every is None:  # asked once, about the last window
                for question in self.questions:
                    answer = await self.ask(question, "ask")
                    if answer is not None:
                        yield answer
        finally:
            self._stop.set()
            self.window.on_frame = None
            self._count_frames()
            if not task.done():
                await asyncio.wait([task], timeout=5)

    async def _step(
        self, video: PreparedVideo, info: WindowInfo, frames: list[LiveFrame], every_due: bool
    ) -> AsyncIterator[Item]:
        asked = [(t.question, "check", t) for t in self.triggers]
        keep = self.reusable(frames)
        if every_due:
            asked += [(q, "every", None) for q in self.questions]
        answers = await asyncio.gather(
            *(self._answer(video, info, q, kind, keep) for q, kind, _ in asked), return_exceptions=True
        )
        for (question, _, trigger), answer in zip(asked, answers, strict=True):
            if isinstance(answer, VReasonError):  # one failed question (overloaded, timed out) skips this window
                self.stats.errors += 1
                log.warning("live: %r on the window ending at %.1fs failed: %s", question, info.end, answer)
                continue
            if isinstance(answer, BaseException):
                raise answer
            if trigger is not None:
                answer.trigger = trigger.condition
            yield answer  # a trigger's check too: the record of what each window was answered
            if trigger is None:
                continue
            if trigger.update(trigger.holds(answer.answer), info.end):
                self.stats.events += 1
                yield WatchEvent(
                    trigger=trigger.condition,
                    question=trigger.question,
                    answer=answer.answer,
                    stream_time=info.end,
                    wall_time=answer.wall_time,
                    window=info,
                    latency_s=answer.latency_s,
                    frames=self._save_frames(frames[-2:], self.stats.events, trigger.condition),
                )
        self._count_frames()

    def reusable(self, frames: list[LiveFrame]) -> bool:
        """Whether the next window's prompt will start with this window's (its KV is then worth keeping)."""
        window = self.window
        ahead = self.step_frames / window.fps
        if (
            len(frames) + self.step_frames <= window.max_frames
            and frames[-1].stream_time + ahead - frames[0].stream_time <= window.seconds
        ):
            return True  # nothing leaves before the next check: the next window extends this one
        gone = self.step_frames + self.step_frames % 2  # frames leave a pair at a time
        if len(frames) < gone + 2:
            return False
        return all(np.array_equal(frames[i].image, frames[gone + i].image) for i in range(2))

    async def _answer(
        self, video: PreparedVideo, info: WindowInfo, question: str, kind: str, keep: bool = True
    ) -> WatchAnswer:
        reply = await (self.asker(video, question, keep_kv=keep) if self._tells_keep else self.asker(video, question))
        now = time.time()
        text = reply if isinstance(reply, str) else reply.text
        usage = getattr(reply, "usage", None)
        prompt = usage.prompt_tokens if usage else 0
        prefill = prompt - usage.cached_tokens if usage else 0
        latency = max(0.0, now - info.wall_time_newest)
        self.stats.questions += 1
        self.stats.latencies_s.append(latency)
        if usage:
            self.stats.prefill_tokens.append(prefill)
        return WatchAnswer(
            kind=kind,
            question=question,
            answer=text.strip(),
            stream_time=info.end,
            wall_time=now,
            window=info,
            prefill_tokens=prefill,
            prompt_tokens=prompt,
            video_tokens=usage.video_tokens if usage else 0,
            cached_patches=usage.cached_images if usage else 0,
            latency_s=round(latency, 4),
        )

    def _save_frames(self, frames: list[LiveFrame], number: int, condition: str) -> list[str]:
        if self.frames_dir is None:
            return []
        self.frames_dir.mkdir(parents=True, exist_ok=True)
        slug = re.sub(r"[^a-z0-9]+", "-", condition.lower()).strip("-")[:40] or "event"
        paths = []
        for frame in frames:
            path = self.frames_dir / f"event-{number:04d}-{slug}-{frame.stream_time:08.2f}s.jpg"
            Image.fromarray(frame.image).save(path, quality=90)
            paths.append(str(path))
        return paths

    def _count_frames(self) -> None:
        self.stats.frames_seen = self.window.seen
        self.stats.frames_sampled_out = self.window.sampled_out
        self.stats.frames_dropped = self.window.dropped + getattr(self.source, "dropped", 0)
