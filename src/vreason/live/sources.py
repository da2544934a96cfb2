"""Live sources: where frames come from. Each runs in a background thread (decoding never blocks the event
loop or the engine) and offers frames to a `RollingWindow`, which keeps what it wants and bounds the rest.

- `FileSource`: a video file played in real time (`realtime=True`, paced by its presentation times) or as
  fast as it decodes; stream time is the frame's presentation time.
- `GrowingFileSource`: a file still being written (MPEG-TS, Matroska), read as it grows (`--follow`).
- `FolderSource`: a folder where image files arrive (a camera dropping JPEGs); stream time is the file's
  modification time, counted from the first file's.
- `PushSource`: frames pushed by the caller (`await push(image, t)`), through a bounded queue that drops its
  oldest frame when full (counted), never growing.
- `StreamSource`: anything FFmpeg opens live: rtsp://, http(s):// (MJPEG, HLS), udp://, a camera device
  (/dev/video*); stream time is the wall clock since the first frame. When the stream drops it reconnects
  with exponential backoff; when it never opens, `SourceError` names the URL, the attempts and FFmpeg's reason.

`open_source(spec)` picks one from a string. `start(window, stop)` returns the asyncio task that runs the
source; the task's exception (a `SourceError`) is how a failure reaches the watcher.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from pathlib import Path

import numpy as np
from PIL import Image

from vreason.live.types import SourceError
from vreason.live.window import RollingWindow

log = logging.getLogger("vreason.live")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
SEEK_MARGIN_S = 10.0
STREAM_SCHEMES = ("rtsp://", "rtsps://", "rtmp://", "http://", "https://", "udp://", "tcp://", "srt://")


class FrameSource:
    label = "source"

    def run(self, window: RollingWindow, stop: threading.Event) -> None:
        raise NotImplementedError

    def start(self, window: RollingWindow, stop: threading.Event) -> asyncio.Task:
        return asyncio.get_running_loop().create_task(asyncio.to_thread(self.run, window, stop), name=self.label)


class FileSource(FrameSource):
    def __init__(self, path: str | Path, realtime: bool = False):
        self.path = Path(path)
        self.realtime = realtime
        self.label = str(path)
        if not self.path.is_file():
            raise SourceError(f"source {path}: no such file")

    def run(self, window: RollingWindow, stop: threading.Event) -> None:
        import av

        try:
            container = av.open(str(self.path))
        except av.FFmpegError as err:
            raise SourceError(f"source {self.label}: cannot open ({err})") from err
        with container:
            if not container.streams.video:
                raise SourceError(f"source {self.label}: has no video track")
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            started = time.monotonic()
            first: float | None = None
            for frame in container.decode(stream):
                if stop.is_set():
                    return
                if frame.time is None:
                    continue
                first = frame.time if first is None else first
                t = frame.time - first
                if self.realtime and stop.wait(max(0.0, started + t - time.monotonic())):
                    return
                if window.wants(t):
                    window.add(frame.to_ndarray(format="rgb24"), t, time.time())
                else:
                    window.add(_SKIPPED, t)


class GrowingFileSource(FrameSource):
    """A file still being written (a recorder's MPEG-TS or Matroska; a plain MP4 is unreadable until its end):
    each time it grows, decoding resumes after the last frame read (seeking to `SEEK_MARGIN_S` before it).
    Stream time is the frame's presentation time. Ends after `idle_stop_s` without growth (None: follows forever)."""

    def __init__(self, path: str | Path, poll_s: float = 0.5, idle_stop_s: float | None = None):
        self.path = Path(path)
        self.poll_s = poll_s
        self.idle_stop_s = idle_stop_s
        self.label = str(path)

    def run(self, window: RollingWindow, stop: threading.Event) -> None:
        import av

        last: float | None = None
        first: float | None = None
        size = -1
        changed = time.monotonic()
        while not stop.is_set():
            current = self.path.stat().st_size if self.path.exists() else -1
            if current != size:
                size, changed = current, time.monotonic()
                try:
                    with av.open(str(self.path)) as container:
                        stream = container.streams.video[0]
                        if last is not None and last > SEEK_MARGIN_S and stream.time_base:
                            # MPEG-TS seeks by bytes, roughly: land well before the last frame read
                            target = int((last - SEEK_MARGIN_S) / stream.time_base)
                            container.seek(target, stream=stream, backward=True)
                        for frame in container.decode(stream):
                            if stop.is_set():
                                return
                            if frame.time is None or (last is not None and frame.time <= last):
                                continue
                            last = frame.time
                            first = frame.time if first is None else first
                            window.add(frame.to_ndarray(format="rgb24"), frame.time - first, time.time())
                except (av.FFmpegError, IndexError, EOFError):
                    pass  # not yet readable, or a truncated last packet: read again when it grows
            elif self.idle_stop_s is not None and time.monotonic() - changed > self.idle_stop_s:
                return
            stop.wait(self.poll_s)


class FolderSource(FrameSource):
    def __init__(self, folder: str | Path, poll_s: float = 0.2, idle_stop_s: float | None = None):
        self.folder = Path(folder)
        self.poll_s = poll_s
        self.idle_stop_s = idle_stop_s  # stop after this long with no new file (None: watch forever)
        self.label = str(folder)
        if not self.folder.is_dir():
            raise SourceError(f"source {folder}: no such folder")

    def run(self, window: RollingWindow, stop: threading.Event) -> None:
        done: set[str] = set()
        first: float | None = None
        last_new = time.monotonic()
        while not stop.is_set():
            fresh = []
            for path in self.folder.iterdir():
                if path.suffix.lower() in IMAGE_SUFFIXES and path.name not in done:
                    try:
                        fresh.append((path.stat().st_mtime, path.name, path))
                    except FileNotFoundError:
                        continue
            for mtime, name, path in sorted(fresh):
                try:
                    with Image.open(path) as image:
                        picture = image.convert("RGB")
                except (OSError, SyntaxError):
                    continue  # still being written: read on the next poll
                done.add(name)
                first = mtime if first is None else first
                window.add(picture, mtime - first, mtime)
                last_new = time.monotonic()
            if self.idle_stop_s is not None and time.monotonic() - last_new > self.idle_stop_s:
                return
            stop.wait(self.poll_s)


class PushSource(FrameSource):
    """Frames a caller pushes: `await source.push(image, stream_time)` (stream_time None: wall clock since the
    first push). The queue holds at most `max_queue` frames; a full queue drops its oldest (`dropped`)."""

    def __init__(self, max_queue: int = 8, label: str = "push"):
        self.queue: asyncio.Queue = asyncio.Queue(max_queue)
        self.dropped = 0
        self.label = label
        self._first_wall: float | None = None
        self._closed = False

    async def push(self, image: np.ndarray | Image.Image, stream_time: float | None = None) -> None:
        now = time.time()
        self._first_wall = now if self._first_wall is None else self._first_wall
        item = (image, now - self._first_wall if stream_time is None else stream_time, now)
        if self.queue.full():
            self.queue.get_nowait()
            self.dropped += 1
        self.queue.put_nowait(item)

    async def close(self) -> None:
        """No more frames: the watcher ends after the last one."""
        self._closed = True
        if self.queue.full():
            self.queue.get_nowait()
            self.dropped += 1
        self.queue.put_nowait(None)

    def start(self, window: RollingWindow, stop: threading.Event) -> asyncio.Task:
        async def consume() -> None:
            while not stop.is_set():
                try:
                    item = await asyncio.wait_for(self.queue.get(), 0.2)
                except TimeoutError:
                    continue
                if item is None:
                    return
                image, t, wall = item
                await asyncio.to_thread(window.add, image, t, wall)  # resizing is off the loop

        return asyncio.get_running_loop().create_task(consume(), name=self.label)


class StreamSource(FrameSource):
    def __init__(
        self,
        url: str,
        attempts: int = 5,
        backoff_s: float = 0.5,
        max_backoff_s: float = 10.0,
        timeout_s: float = 10.0,
    ):
        self.url = url
        self.label = url
        self.attempts = attempts  # consecutive failed opens before giving up
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.timeout_s = timeout_s
        self.failures = 0
        self.reconnects = 0

    def _open(self):
        import av

        if self.url.startswith("/dev/video"):
            return av.open(self.url, format="v4l2", timeout=self.timeout_s)
        return av.open(self.url, timeout=(self.timeout_s, self.timeout_s))

    def run(self, window: RollingWindow, stop: threading.Event) -> None:
        import av

        started: float | None = None
        delay = self.backoff_s
        failed = 0
        while not stop.is_set():
            try:
                container = self._open()
            except (av.FFmpegError, OSError) as err:
                failed += 1
                self.failures += 1
                if failed >= self.attempts:
                    raise SourceError(
                        f"source {self.url}: could not open after {failed} attempts ({_reason(err)})"
                    ) from err
                log.info("source %s: open failed (%s); retrying in %.1fs", self.url, _reason(err), delay)
                stop.wait(delay)
                delay = min(delay * 2, self.max_backoff_s)
                continue
            failed, delay = 0, self.backoff_s
            try:
                with container:
                    if not container.streams.video:
                        raise SourceError(f"source {self.url}: has no video track")
                    for frame in container.decode(container.streams.video[0]):
                        if stop.is_set():
                            return
                        now = time.time()
                        started = now if started is None else started
                        t = now - started
                        if window.wants(t):
                            window.add(frame.to_ndarray(format="rgb24"), t, now)
                        else:
                            window.add(_SKIPPED, t)
            except av.FFmpegError as err:
                log.info("source %s: dropped (%s); reconnecting", self.url, _reason(err))
            if stop.is_set():
                return
            self.reconnects += 1
            stop.wait(delay)


_SKIPPED = np.zeros((1, 1, 3), np.uint8)  # stands for a frame the window will sample out (never converted)


def _reason(err: Exception) -> str:
    return str(getattr(err, "strerror", None) or err).splitlines()[0][:200]


def open_source(spec: str, realtime: bool = False, follow: bool = False, **options) -> FrameSource:
    """A source from a string: a URL or /dev/video* (live stream), a folder (arriving images), a file (followed
    as it grows with `follow`)."""
    if spec.startswith(STREAM_SCHEMES) or spec.startswith("/dev/video"):
        return StreamSource(spec, **options)
    path = Path(spec).expanduser()
    if path.is_dir():
        return FolderSource(path, **options)
    if follow:
        return GrowingFileSource(path, **options)
    return FileSource(path, realtime=realtime)
