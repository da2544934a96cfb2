"""`vreason watch SOURCE`: watch a live source, answer questions about its last seconds, raise events.

SOURCE is a video file (played as fast as it decodes, in real time with `--realtime`, or followed as it is
written with `--follow`), a folder where
image files arrive, or a live URL (rtsp://, http(s)://, udp://) or camera device (/dev/video0). Events and
answers print as they happen: on a terminal, a live panel (live/live_view.py: the window, frames seen and
dropped, the rate, each trigger's last answer, recent events) under a log of events and answers; one JSON object
per line when piped (`--json` forces it). `--events FILE` appends them to a JSONL file and saves the frames each
event saw as JPEG beside it; `--webhook URL` POSTs each event as JSON (live/webhook.py: retried with backoff
from a background thread, never holding the watch up; failures are logged and counted in the summary).
Ctrl-C (SIGINT) stops cleanly and prints a summary: frames seen, sampled out, dropped, windows asked, events,
latency.
"""

from __future__ import annotations

import contextlib
import json
import re
import signal
import sys
from pathlib import Path
from typing import Annotated

import typer

from vreason.cli import options as o
from vreason.cli.option_groups import with_option_groups
from vreason.errors import InvalidRequestError

UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}


def parse_seconds(text: str | None, name: str) -> float | None:
    """'30s', '2m', '500ms', '1.5' (seconds) -> seconds."""
    if text is None:
        return None
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*(ms|s|min|m|h)?\s*", text)
    if not match or float(match.group(1)) <= 0:
        raise InvalidRequestError(f"--{name} must be a positive duration like 30s, 2m or 500ms, got {text!r}")
    return float(match.group(1)) * UNITS[match.group(2) or "s"]


@with_option_groups
def watch(
    source: Annotated[str, typer.Argument(help="Video file, folder of arriving images, stream URL or /dev/videoN.")],
    loading: o.LoadingOptions,
    window: Annotated[str, typer.Option("--window", help="How much of the past the model sees.")] = "30s",
    fps: Annotated[float, typer.Option("--fps", help="Frames a second kept in the window.")] = 2.0,
    every: Annotated[str | None, typer.Option("--every", help="Ask the --ask questions this often.")] = None,
    ask: Annotated[
        list[str] | None,
        typer.Option("--ask", help="A question about the window (repeatable); once at the end without --every."),
    ] = None,
    when: Annotated[
        list[str] | None, typer.Option("--when", help="A trigger, e.g. 'a red circle appears' (repeatable).")
    ] = None,
    events: Annotated[Path | None, typer.Option("--events", help="Append events and answers to a JSONL file.")] = None,
    realtime: Annotated[bool, typer.Option("--realtime", help="Play a file at its own pace.")] = False,
    follow: Annotated[
        bool, typer.Option("--follow", help="The file is still being written (MPEG-TS, MKV): read it as it grows.")
    ] = False,
    check_every: Annotated[
        str | None,
        typer.Option("--check-every", help="Check triggers on each new window this often (default two frames)."),
    ] = None,
    debounce: Annotated[int, typer.Option(help="Consecutive yes windows before a trigger fires.")] = 1,
    cooldown: Annotated[str | None, typer.Option(help="Quiet time after an event of one trigger.")] = None,
    max_frames: Annotated[int | None, typer.Option("--max-frames", help="Frames the window holds at most.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line, even on a terminal.")] = False,
    show_checks: Annotated[bool, typer.Option("--show-checks", help="Also print every trigger check.")] = False,
    webhook: Annotated[
        str | None, typer.Option("--webhook", help="POST each event as JSON to this http(s) URL.")
    ] = None,
) -> None:
    """Watch a live video source: answer questions about the last seconds and raise events."""
    from vreason.live import RollingWindow, Trigger, Watcher, engine_asker, open_source
    from vreason.live.live_view import LiveView
    from vreason.live.webhook import Webhook

    seconds = parse_seconds(window, "window")
    period = parse_seconds(every, "every")
    step = parse_seconds(check_every, "check-every")
    quiet = parse_seconds(cooldown, "cooldown") or 0.0
    if fps <= 0:
        raise InvalidRequestError(f"--fps must be > 0, got {fps}")
    if not ask and not when:
        raise InvalidRequestError("nothing to watch for: give --when TRIGGER and/or --ask QUESTION")
    if debounce < 1:
        raise InvalidRequestError(f"--debounce must be >= 1, got {debounce}")
    triggers = [Trigger(text, debounce=debounce, cooldown_s=quiet) for text in when or []]
    hook = Webhook(webhook) if webhook else None  # a bad URL fails here, before the model loads
    live = open_source(source, realtime=realtime, follow=follow)  # a missing file fails here, before the model loads
    vr = o.open_model(o.engine_spec(loading))
    budget = getattr(vr.engine, "video_budget", None)
    watcher = Watcher(
        live,
        engine_asker(vr.aio),
        RollingWindow(seconds, fps, max_frames=max_frames, budget=budget, label=Path(source).name or source),
        triggers=triggers,
        every=period,
        questions=ask or [],
        check_every=step,
        frames_dir=events.with_name(events.stem + "-frames") if events else None,
    )
    lines = as_json or not sys.stdout.isatty()
    log = events.open("a", encoding="utf-8") if events else None
    view = None if lines else LiveView(watcher, source)
    if view is not None:
        view.webhook, view.show_checks = hook, show_checks
    previous = signal.signal(signal.SIGINT, lambda *_: watcher.stop())
    try:
        with view or contextlib.nullcontext():
            for item in vr.bridge.iterate(watcher.events):
                data = item.to_dict()
                if log is not None:
                    log.write(json.dumps(data) + "\n")
                    log.flush()
                if hook is not None and data["type"] == "event":
                    hook.send(data)
                if view is not None:
                    view.add(data)
                    continue
                if data["type"] == "answer" and data["kind"] == "check" and not show_checks:
                    continue
                print(json.dumps(data), flush=True)
    finally:
        signal.signal(signal.SIGINT, previous)
        if log is not None:
            log.close()
        if hook is not None:
            hook.close()  # what is still queued is delivered (a few seconds at most)
    summary = watcher.stats.to_dict()
    if hook is not None:
        summary["webhook"] = hook.stats()
    if lines:
        print(json.dumps(summary), flush=True)
    print(
        f"watched {summary['frames_seen']} frames ({summary['frames_sampled_out']} sampled out, "
        f"{summary['frames_dropped']} dropped), {summary['windows_asked']} windows asked, {summary['events']} "
        f"events, latency p50 {summary['latency_p50_s']}s p99 {summary['latency_p99_s']}s, "
        f"{summary['prefill_tokens_mean']} prefill tokens a question"
        + (f"; webhook: {hook.stats()['sent']} sent, {hook.stats()['failed']} failed" if hook else ""),
        file=sys.stderr,
    )
