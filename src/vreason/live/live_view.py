"""The terminal view of a watch: one rich panel redrawn in place while the watch runs.

    with LiveView(watcher, source="line.mp4") as view:
        for item in items:
            view.add(item.to_dict())

It shows the source, the window (seconds, rate, frames held, its span in stream time), the frames seen, the
rate they arrive at, frames sampled out and dropped, windows asked, the answer latency, each trigger (its last
answer, whether it holds now, how often it fired), the last answer to each question, and the most recent events
(stream time, trigger, answer, frames saved). Only for a terminal: piped output stays one JSON object a line
(cli/watch.py chooses). Redrawn a few times a second from rich's own thread; `add` only records.
"""

from __future__ import annotations

import time
from collections import deque
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from vreason.live.types import _quantile
from vreason.live.watcher import Watcher

MAX_EVENTS = 8


def plain(data: dict) -> str:
    """One line for an event or an answer (the terminal's log, above the panel)."""
    at = f"[{data['stream_time']:7.1f}s]"
    if data["type"] == "event":
        saved = f" ({', '.join(data['frames'])})" if data["frames"] else ""
        return f"{at} EVENT {data['trigger']!r}: {data['answer']}{saved}"
    return f"{at} {data['question']} -> {data['answer']}"


class LiveView:
    def __init__(self, watcher: Watcher, source: str, console: Console | None = None, max_events: int = MAX_EVENTS):
        self.watcher = watcher
        self.source = source
        self.console = console or Console(stderr=False)
        self.started = time.monotonic()
        self.events: deque[dict] = deque(maxlen=max_events)
        self.answers: dict[str, dict] = {}  # question -> its last answer
        self.checks: dict[str, dict] = {}  # trigger condition -> its last check
        self.webhook: Any = None  # a Webhook whose counters are shown, when there is one
        self.show_checks = False  # also log every trigger check above the panel
        self._live: Live | None = None

    def __enter__(self) -> LiveView:
        self._live = Live(self, console=self.console, refresh_per_second=4, transient=False)
        self._live.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._live is not None:
            self._live.__exit__(*exc)
            self._live = None

    def add(self, data: dict) -> None:
        if data["type"] == "event":
            self.events.append(data)
        elif data["type"] == "answer" and data["kind"] == "check" and data.get("trigger"):
            self.checks[data["trigger"]] = data
        elif data["type"] == "answer":
            self.answers[data["question"]] = data
        if self._live is not None:
            if data["type"] == "event" or data["kind"] != "check" or self.show_checks:  # a log above the panel
                self._live.console.print(plain(data), highlight=False, markup=False)
            self._live.refresh()

    def __rich__(self) -> Panel:
        return Panel(
            Group(self._status(), self._triggers(), self._answers(), self._events()),
            title=f"vreason watch · {self.source}",
            title_align="left",
            border_style="cyan",
        )

    def _status(self) -> Table:
        window = self.watcher.window
        stats = self.watcher.stats
        elapsed = max(1e-6, time.monotonic() - self.started)
        frames = list(window.frames)
        span = f"{frames[0].stream_time:.1f}-{frames[-1].stream_time:.1f} s" if frames else "empty"
        dropped = window.dropped + getattr(self.watcher.source, "dropped", 0)
        lat = sorted(stats.latencies_s)
        grid = Table.grid(padding=(0, 2))
        grid.add_row(
            Text(f"window {window.seconds:g} s @ {window.fps:g} fps", style="bold"),
            f"{len(frames)}/{window.max_frames} frames, {span}",
            f"elapsed {elapsed:.0f} s",
        )
        grid.add_row(
            f"frames seen {window.seen} ({window.seen / elapsed:.1f}/s)",
            f"sampled out {window.sampled_out}",
            Text(f"dropped {dropped}", style="red" if dropped else ""),
        )
        grid.add_row(
            f"windows asked {stats.windows_asked}",
            f"events {stats.events}" + (f", errors {stats.errors}" if stats.errors else ""),
            f"latency p50 {_quantile(lat, 0.5):.2f} s p99 {_quantile(lat, 0.99):.2f} s" if lat else "latency -",
        )
        if self.webhook is not None:
            hook = self.webhook.stats()
            grid.add_row(
                f"webhook sent {hook['sent']}",
                Text(f"failed {hook['failed']}", style="red" if hook["failed"] else ""),
                f"retried {hook['retried']}, dropped {hook['dropped']}",
            )
        return grid

    def _triggers(self) -> Table:
        table = Table(title="triggers", title_justify="left", expand=True, show_edge=False)
        for name in ("when", "last answer", "at", "now", "fired"):
            table.add_column(name, overflow="fold")
        for trigger in self.watcher.triggers:
            last = self.checks.get(trigger.condition)
            table.add_row(
                trigger.condition,
                last["answer"] if last else "-",
                f"{last['stream_time']:.1f} s" if last else "-",
                Text("holds", style="bold green") if trigger.active else "no",
                str(trigger.fired),
            )
        return table

    def _answers(self) -> Table:
        table = Table(title="answers", title_justify="left", expand=True, show_edge=False)
        table.add_column("question", overflow="fold")
        table.add_column("answer", overflow="fold")
        table.add_column("window", no_wrap=True)
        for question, data in list(self.answers.items()):
            window = data["window"]
            table.add_row(question, data["answer"], f"{window['start']:.1f}-{window['end']:.1f} s")
        return table

    def _events(self) -> Table:
        table = Table(title="events", title_justify="left", expand=True, show_edge=False)
        for name in ("at", "trigger", "answer", "latency", "frames"):
            table.add_column(name, overflow="fold")
        for event in reversed(list(self.events)):
            table.add_row(
                Text(f"{event['stream_time']:.1f} s", style="bold yellow"),
                event["trigger"],
                event["answer"],
                f"{event['latency_s']:.2f} s",
                ", ".join(p.rsplit("/", 1)[-1] for p in event["frames"]) or "-",
            )
        return table
