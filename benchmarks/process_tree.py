"""A server's process tree (vLLM-CPU runs its engine core as a child): its CPU time, and pausing it.

An idle vLLM-CPU server polls (~0.4 of a core measured on 2 cores), so a benchmark that keeps two servers up
pauses the one not being measured (SIGSTOP, then SIGCONT) and reports the paused tree's CPU as a check.
"""

from __future__ import annotations

import contextlib
import signal

import psutil


def processes(pid: int) -> list[psutil.Process]:
    root = psutil.Process(pid)
    return [root, *root.children(recursive=True)]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of the process and its children so far."""
    total = 0.0
    for p in processes(pid):
        with contextlib.suppress(psutil.NoSuchProcess):
            times = p.cpu_times()
            total += times.user + times.system
    return total


def pause(pid: int, paused: bool) -> None:
    for p in processes(pid):
        with contextlib.suppress(psutil.NoSuchProcess):  # a child that has exited needs no signal
            p.send_signal(signal.SIGSTOP if paused else signal.SIGCONT)
