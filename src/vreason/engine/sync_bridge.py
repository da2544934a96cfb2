"""Run an async `Engine` from synchronous code: one event loop on a daemon thread, shared by all callers.

The Python API and the CLI are synchronous; the engine is async so that the server can multiplex thousands
of streams on one loop. `iterate` turns one request's async stream into a plain iterator (closing it early
aborts the request); `run` awaits any coroutine, e.g. many requests gathered so the engine batches them.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import TypeVar

T = TypeVar("T")


class SyncBridge:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="vreason-loop", daemon=True)
        self._thread.start()

    def run(self, coro: Awaitable[T], timeout: float | None = None) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)  # type: ignore[arg-type]

    def iterate(self, make_stream: Callable[[], AsyncIterator[T]]) -> Iterator[T]:
        stream: AsyncIterator[T] | None = None

        async def start() -> None:
            nonlocal stream
            stream = make_stream()

        self.run(start())
        assert stream is not None
        try:
            while True:
                try:
                    yield self.run(stream.__anext__())
                except StopAsyncIteration:
                    return
        finally:
            aclose = getattr(stream, "aclose", None)
            if aclose is not None:
                self.run(aclose())

    def close(self) -> None:
        if self.loop.is_running():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout=5)
