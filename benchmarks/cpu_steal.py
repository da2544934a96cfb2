"""Steal time: the share of this machine's CPU time that the hypervisor gave to other guests during a run
(Linux /proc/stat; None elsewhere). On a shared 2-core VM a benchmark's speed moved 2-3x within minutes, and
a small model's decode step (~150 short parallel regions) loses most when one vCPU is held back: the tables
print the steal share beside each arm so a slow run can be told from a slow engine.

    before = snapshot(); ...; print(share(before, snapshot()))
"""

from __future__ import annotations

from pathlib import Path

STAT = Path("/proc/stat")


def snapshot() -> tuple[int, int] | None:
    """(steal, total) jiffies over all CPUs so far, or None where /proc/stat is missing."""
    try:
        first = STAT.read_text().splitlines()[0].split()
    except (OSError, IndexError):
        return None
    # cpu user nice system idle iowait irq softirq steal [guest guest_nice]: guest time is inside user already
    ticks = [int(x) for x in first[1:9]]
    if first[0] != "cpu" or len(ticks) < 8:
        return None
    return ticks[7], sum(ticks)


def share(before: tuple[int, int] | None, after: tuple[int, int] | None) -> float | None:
    """Steal as a share of all CPU time between two snapshots."""
    if before is None or after is None or after[1] <= before[1]:
        return None
    return (after[0] - before[0]) / (after[1] - before[1])
