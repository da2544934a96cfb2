"""glibc malloc settings for vreason's own processes: few arenas, big blocks from mmap, and freed memory handed
back after a burst.

glibc gives each thread that allocates its own arena (up to 8 per core) and keeps what an arena freed for
later; and once a large block is freed it raises its mmap threshold (up to 32 MiB), so later tensors of that
size come from the arenas too and stay there. An engine process has many threads (the engine, two prepare
workers, the event loop's thread pool, torch's), and a burst of image requests leaves each arena holding the
high-water mark of its share of the step activations: on the load test (200 concurrent image requests, 2
cores) the server's RSS after a round was 2.9-3.4 GB with glibc's defaults, 2.3-2.4 GB with two arenas alone,
and 1.5-1.9 GB with two arenas and a fixed mmap threshold (256 KiB or 4 MiB), for the same workload.
`tune_malloc` sets both for what is allocated afterwards (call it before the model loads): blocks of
`MMAP_THRESHOLD` and more (step activations, KV buffers, image patches) are mapped and unmapped on their own,
smaller ones share two arenas.
`IdleTrimmer` returns the free pages of every arena to the system (`malloc_trim`) once the engine has gone
idle after work, so a server between bursts does not sit on the last burst's peak.

All of it does nothing off glibc (musl, macOS), and a setting the user made (MALLOC_ARENA_MAX,
MALLOC_MMAP_THRESHOLD_) wins over ours.
"""

from __future__ import annotations

import ctypes
import logging
import os
import threading
from typing import Any

logger = logging.getLogger("vreason")

M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter numbers
M_ARENA_MAX = -8
DEFAULT_ARENAS = 2
# Page faults of a fresh mapping cost well under the arithmetic that fills a block this large.
MMAP_THRESHOLD = 4 << 20
TRIM_CHECK_S = 2.0


def _glibc() -> Any | None:
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.gnu_get_libc_version  # noqa: B018 (an AttributeError off glibc)
    except (OSError, AttributeError):
        return None
    return libc


def tune_malloc(arenas: int = DEFAULT_ARENAS, mmap_threshold: int = MMAP_THRESHOLD) -> list[str]:
    """Cap malloc arenas at `arenas` (threads beyond share them) and fix the mmap threshold; the settings
    applied (none off glibc or where the user set them)."""
    libc = _glibc()
    if libc is None:
        return []
    applied = []
    if "MALLOC_ARENA_MAX" not in os.environ and libc.mallopt(M_ARENA_MAX, arenas) == 1:
        applied.append(f"arenas={arenas}")
    if "MALLOC_MMAP_THRESHOLD_" not in os.environ and libc.mallopt(M_MMAP_THRESHOLD, mmap_threshold) == 1:
        applied.append(f"mmap_threshold={mmap_threshold}")
    return applied


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
