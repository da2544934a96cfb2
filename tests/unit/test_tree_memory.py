"""The benchmarks' process-tree memory measure: a forked child shares its parent's pages and must not count
them twice (what the engine benchmark's old own-plus-children peak RSS did), while a child's own memory
counts."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from tree_memory import TreeMemory, tree  # noqa: E402

pytestmark = pytest.mark.skipif(not Path("/proc/self/smaps_rollup").exists(), reason="needs Linux /proc")

MB = 1 << 20
# A parent that touches 200 MB, then forks a child that sleeps (sharing them) or writes its own 200 MB.
PROGRAM = textwrap.dedent("""
    import os, sys, time
    block = bytearray(200 << 20)
    for i in range(0, len(block), 4096):
        block[i] = 1
    pid = os.fork()
    if pid == 0:
        if sys.argv[1] == "own":
            mine = bytearray(200 << 20)
            for i in range(0, len(mine), 4096):
                mine[i] = 1
        print("ready", flush=True)
        time.sleep(30)
        os._exit(0)
    time.sleep(30)
""")


@pytest.mark.parametrize(("mode", "low", "high"), [("shared", 190, 290), ("own", 390, 490)])
def test_tree_pss_counts_shared_pages_once(mode, low, high):
    proc = subprocess.Popen([sys.executable, "-c", PROGRAM, mode], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        memory = TreeMemory(proc.pid, interval_s=3600)  # sampled by hand below
        memory.sample()
        memory.stop()
        assert len(tree(proc.pid)) == 2
        assert memory.peak_processes == 2
        # both processes map the 200 MB: summed RSS counts it twice, PSS once (plus the child's own block)
        assert memory.peak_rss_mb > 390
        assert low < memory.peak_pss_mb < high
    finally:
        for pid in tree(proc.pid)[1:]:
            subprocess.run(["kill", str(pid)], check=False)
        proc.kill()
        proc.wait()
