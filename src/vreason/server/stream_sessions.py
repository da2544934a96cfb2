"""Live stream sessions on the server: one `Watcher` per session, its items fanned out to readers, bounded.

A `StreamSession` runs its watcher in a task on the server's event loop (sources decode on their own threads;
questions go to the shared engine, which batches them with everything else). Every item it yields (a trigger's
check, a periodic or asked answer, an event) and its end are *published*: numbered, kept in a short history
(`StreamLimits.history`) and put on each reader's queue. A reader that falls behind loses its oldest items
(counted in `missed`), never holds memory without bound; a reader that comes back with the last id it saw gets
what the history still has after it.

`StreamRegistry` owns the sessions: each is owned by the caller that opened it (`owner`, see stream_routes.py)
and invisible to anyone else (404, as if it did not exist); an owner holds at most `max_per_owner` sessions and
the server `max_sessions`. A session that nobody reads (no events stream open) and nobody calls for
`idle_timeout_s` is closed by the reaper, as is one whose source ended once that time has passed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections import deque
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

from vreason.live.sources import FrameSource, PushSource
from vreason.live.types import SourceError
from vreason.live.watcher import Watcher

log = logging.getLogger("vreason.server")
MiB = 1 << 20


@dataclass(frozen=True)
class StreamLimits:
    max_sessions: int = 32  # on the whole server
    max_per_owner: int = 4
    idle_timeout_s: float = 120.0  # no reader and no call for this long: closed
    max_frame_bytes: int = 4 * MiB  # one pushed frame, encoded
    max_frame_pixels: int = 4096 * 4096
    max_push_fps: float = 30.0  # pushed frames a second, per session, over a one-second span; more: 429
    push_queue: int = 8  # pushed frames not yet taken into the window; a full queue drops its oldest
    max_window_s: float = 600.0
    max_fps: float = 8.0
    max_triggers: int = 8
    max_questions: int = 4
    history: int = 256  # items kept for readers that reconnect
    reader_queue: int = 256  # items a slow reader may have pending before it loses the oldest


class StreamSession:
    def __init__(
        self,
        owner: str,
        watcher: Watcher,
        source_label: str,
        push: PushSource | None,
        limits: StreamLimits,
        settings: dict[str, Any],
    ):
        self.id = f"stream-{uuid.uuid4().hex}"
        self.owner = owner
        self.watcher = watcher
        self.source_label = source_label
        self.push = push
        self.limits = limits
        self.settings = settings  # the request's window, rate and questions, echoed in the status
        self.created = time.time()
        self.state = "running"  # -> ended (the source ended), failed (it never opened or broke), closed
        self.error: str | None = None
        self.last_seen = time.monotonic()
        self.frames_pushed = 0
        self.frames_refused = 0  # pushed over the rate limit (answered 429)
        self.missed = 0  # items dropped from slow readers' queues
        self.last_answer: dict | None = None
        self.last_event: dict | None = None
        self._seq = 0
        self._history: deque[tuple[int, dict]] = deque(maxlen=limits.history)
        self._readers: set[asyncio.Queue] = set()
        self._push_times: deque[float] = deque()
        self._task: asyncio.Task | None = None

    # -- lifecycle -----------------------------------------------------------------------------------------
    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name=self.id)

    async def _run(self) -> None:
        try:
            async for item in self.watcher.events():
                data = item.to_dict()
                if data["type"] == "event":
                    self.last_event = data
                elif data["kind"] != "check":
                    self.last_answer = data
                self._publish(data)
            if self.state == "running":
                self.state = "ended"
        except SourceError as err:
            self.state, self.error = "failed", str(err)
        except asyncio.CancelledError:
            self.state = "closed"
            raise
        except Exception as err:  # a fault in the watch: the session ends, the server goes on
            log.error("stream %s failed", self.id, exc_info=err)
            self.state, self.error = "failed", "the watch failed; the server log has the details"
        finally:
            self._publish({"type": "end", "state": self.state, "error": self.error, **self.counters()})
            for reader in list(self._readers):
                _offer(reader, None)

    async def close(self) -> None:
        """Stop the watch (idempotent); readers get the end item and their streams finish."""
        if self.state == "running":
            self.state = "closed"
        self.watcher.stop()
        if self._task is not None and not self._task.done():
            done, _ = await asyncio.wait([self._task], timeout=10)
            if not done:
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await self._task

    @property
    def running(self) -> bool:
        return self.state == "running"

    def touch(self) -> None:
        self.last_seen = time.monotonic()

    def idle_for(self, now: float) -> float:
        return 0.0 if self._readers else now - self.last_seen

    # -- readers ---------------------------------------------------------------------------------------------
    def _publish(self, data: dict) -> None:
        self._seq += 1
        self._history.append((self._seq, data))
        for reader in list(self._readers):
            if not _offer(reader, (self._seq, data)):
                self.missed += 1

    def subscribe(self, after: int | None = None) -> asyncio.Queue:
        """A queue of (id, item), then None at the end. `after`: replay the history after that id."""
        queue: asyncio.Queue = asyncio.Queue(self.limits.reader_queue)
        if after is not None:
            for seq, data in self._history:
                if seq > after:
                    _offer(queue, (seq, data))
        if not self.running:
            _offer(queue, None)
        self._readers.add(queue)
        self.touch()
        return queue

    def unsubscribe(self, queue: asyncio.Queue) -> None:
        self._readers.discard(queue)
        self.touch()

    # -- frames and questions ----------------------------------------------------------------------------
    def rate_ok(self, now: float) -> bool:
        """Whether one more pushed frame fits the per-second limit (and counts it when it does)."""
        while self._push_times and now - self._push_times[0] >= 1.0:
            self._push_times.popleft()
        if len(self._push_times) >= self.limits.max_push_fps:
            self.frames_refused += 1
            return False
        self._push_times.append(now)
        return True

    async def push_frame(self, image: Image.Image | np.ndarray, stream_time: float | None) -> None:
        assert self.push is not None
        await self.push.push(image, stream_time)
        self.frames_pushed += 1

    def counters(self) -> dict:
        self.watcher._count_frames()
        stats = self.watcher.stats
        window = self.watcher.window
        return {
            "frames_seen": stats.frames_seen,
            "frames_sampled_out": stats.frames_sampled_out,
            "frames_dropped": stats.frames_dropped,  # left the window unseen, or dropped from the push queue
            "frames_pushed": self.frames_pushed,
            "frames_refused": self.frames_refused,
            "frames_in_window": len(window),
            "windows_asked": stats.windows_asked,
            "questions": stats.questions,
            "events": stats.events,
            "errors": stats.errors,
            "readers": len(self._readers),
            "items_missed_by_readers": self.missed,
        }

    def status(self) -> dict:
        window = self.watcher.window
        frames = list(window.frames)
        summary = self.watcher.stats.to_dict()
        return {
            "id": self.id,
            "object": "vreason.stream",
            "created": int(self.created),
            "source": self.source_label,
            "mode": "push" if self.push is not None else "source",
            "state": self.state,
            "error": self.error,
            "window": {
                "seconds": window.seconds,
                "fps": window.fps,
                "max_frames": window.max_frames,
                "frames": len(frames),
                "start": frames[0].stream_time if frames else None,
                "end": frames[-1].stream_time if frames else None,
                "frame_size": list(window.frame_size) if window.frame_size else None,
            },
            "counters": self.counters(),
            "latency_p50_s": summary["latency_p50_s"],
            "latency_p99_s": summary["latency_p99_s"],
            "prefill_tokens_mean": summary["prefill_tokens_mean"],
            "triggers": [
                {"condition": t.condition, "question": t.question, "active": t.active, "fired": t.fired}
                for t in self.watcher.triggers
            ],
            "questions": list(self.watcher.questions),
            "every_s": self.watcher.every,
            "last_answer": self.last_answer,
            "last_event": self.last_event,
            "last_item_id": self._seq,
            "idle_timeout_s": self.limits.idle_timeout_s,
            **self.settings,
        }


def _offer(queue: asyncio.Queue, item: Any) -> bool:
    """Put without waiting; a full queue loses its oldest item first. False when something was lost."""
    lost = False
    if queue.full():
        with contextlib.suppress(asyncio.QueueEmpty):
            queue.get_nowait()
            lost = True
    queue.put_nowait(item)
    return not lost


class StreamRegistry:
    def __init__(self, limits: StreamLimits | None = None):
        self.limits = limits or StreamLimits()
        self.sessions: dict[str, StreamSession] = {}
        self.closed_idle = 0
        self._reaper: asyncio.Task | None = None

    def owned_by(self, owner: str) -> list[StreamSession]:
        return [s for s in self.sessions.values() if s.owner == owner]

    def room_for(self, owner: str) -> str | None:
        """Why `owner` may not open another session now (None: it may)."""
        if len(self.owned_by(owner)) >= self.limits.max_per_owner:
            return f"this key already has {self.limits.max_per_owner} open streams; close one (DELETE) first"
        if len(self.sessions) >= self.limits.max_sessions:
            return f"the server has its {self.limits.max_sessions} open streams; try again later"
        return None

    def add(self, session: StreamSession) -> None:
        self.sessions[session.id] = session
        session.start()
        if self._reaper is None or self._reaper.done():
            self._reaper = asyncio.get_running_loop().create_task(self._reap(), name="vreason-stream-reaper")

    def get(self, stream_id: str, owner: str) -> StreamSession | None:
        session = self.sessions.get(stream_id)
        return session if session is not None and session.owner == owner else None

    async def remove(self, session: StreamSession) -> None:
        self.sessions.pop(session.id, None)
        await session.close()

    async def close_all(self) -> None:
        if self._reaper is not None:
            self._reaper.cancel()
        await asyncio.gather(*(self.remove(s) for s in list(self.sessions.values())), return_exceptions=True)

    async def _reap(self) -> None:
        period = max(0.05, min(5.0, self.limits.idle_timeout_s / 4))
        while self.sessions:
            await asyncio.sleep(period)
            now = time.monotonic()
            for session in list(self.sessions.values()):
                if session.idle_for(now) > self.limits.idle_timeout_s:
                    log.info("stream %s: idle for %.0fs, closed", session.id, self.limits.idle_timeout_s)
                    self.closed_idle += 1
                    await self.remove(session)


def new_session(
    owner: str, source: FrameSource, watcher: Watcher, limits: StreamLimits, settings: dict[str, Any]
) -> StreamSession:
    push = source if isinstance(source, PushSource) else None
    return StreamSession(owner, watcher, source.label, push, limits, settings)
