"""glibc malloc settings for vreason's own processes: few arenas, and freed memory handed back after a burst.

glibc gives each thread that allocates its own arena (up to 8 per core) and keeps what an arena freed for
later. An engine process has many threads (the engine, two prepare workers, the event loop's thread pool,
torch's), and a burst of image requests leaves each arena holding the high-water mark of its own share: on
the load test (200 concurrent image requests, 2 cores) the server's RSS after a round was 2.9-3.4 GB with
glibc's defaults and 1.5-1.7 GB with two arenas, for the same live data. `limit_arenas` caps the arenas for
threads started afterwards (call it before the model loads); `IdleTrimmer` returns the free pages of every
arena to the system (`malloc_trim`) once the engine has gone idle after work, so a server between bursts
does not sit on the last burst's peak.

Both do nothing off glibc (musl, macOS), and `limit_arenas` does nothing when MALLOC_ARENA_MAX is set:
the user's own setting wins.
"""

from __future__ import annotations

import ctypes
import logging
import os
import threading
from typing import Any

logger = logging.getLogger("vreason")

M_ARENA_MAX = -8  # glibc's mallopt parameter number
DEFAULT_ARENAS = 2
TRIM_CHECK_S = 2.0


def _glibc() -> Any | None:
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.gnu_get_libc_version  # noqa: B018 (an AttributeError off glibc)
    except (OSError, AttributeError):
        return None
    return libc


def limit_arenas(arenas: int = DEFAULT_ARENAS) -> bool:
    """Cap malloc arenas at `arenas` (threads beyond share them); False when not applied."""
    if "MALLOC_ARENA_MAX" in os.environ:
        return False
    libc = _glibc()
    return bool(libc is not None and libc.mallopt(M_ARENA_MAX, arenas) == 1)


def trim() -> bool:
    """Hand the free pages of every arena back to the system; True when any were released."""
    libc = _glibc()
    return bool(libc is not None and libc.malloc_trim(0))


class IdleTrimmer:
    """A daemon thread that trims once after each stretch of work, when the engine has nothing running or
    waiting (checked every `interval_s`). `stop()` ends it."""

    def __init__(self, engine: Any, interval_s: float = TRIM_CHECK_S):
        self.engine = engine
        self.interval_s = interval_s
        self.trims = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="vreason-trim", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        if _glibc() is None:
            return
        trimmed_at = None  # the engine's work count when last trimmed
        while not self._stop.wait(self.interval_s):
            try:
                stats = self.engine.stats()
            except Exception:  # an engine closing under us: nothing to trim for
                continue
            done = stats.finished_total + stats.aborted_total + stats.rejected_total
            if stats.waiting or stats.running or done == trimmed_at:
                continue
            trim()
            self.trims += 1
            trimmed_at = done

    def stop(self) -> None:
        self._stop.set()
