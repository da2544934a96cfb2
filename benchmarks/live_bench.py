"""Live watching, measured: a synthetic stream with known event times, played in real time from a file,
watched by `Watcher` on a real engine (the built-in demo model unless --model).

    .venv/bin/python benchmarks/live_bench.py                 # 60 s stream (default)
    .venv/bin/python benchmarks/live_bench.py --seconds 600   # the 10-minute run

The stream (vreason.live.synthetic.random_schedule): a red circle at the top left, on for 6-14 s and off for
8-16 s, and distractor shapes (blue rectangle, green triangle, orange hexagon) coming and going at the bottom
right. The trigger "a red circle appears" is scored against the circle's onsets: an event is a hit when its
stream time is within `--tolerance` window periods (default 2) after an onset not yet matched; recall = hits /
onsets, precision = hits / events. Event latency: from the onset (the first frame showing the circle) to the
event, in wall time (the stream delay until a window answered yes plus that answer's own latency). RSS is
sampled every 10 s with the bytes the engine's reuse caches hold (drift: last sample against the first after
warm-up, with and without the caches, which fill up to their byte budgets); CPU share is process CPU time over
wall time. Prints a table and one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path

from vreason.live import FileSource, RollingWindow, Trigger, Watcher, WatchEvent, engine_asker
from vreason.live.synthetic import onsets, random_schedule, write_stream


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def cache_mb(engine) -> float:
    """Bytes the engine's reuse caches hold (prefix KV and vision features), MiB; 0 when it does not say."""
    stats = getattr(engine, "stats", None)
    if stats is None:
        return 0.0
    caches = stats().caches
    return sum(c.bytes_used for c in caches.values()) / 2**20


def score(events: list[WatchEvent], truth: list[float], tolerance_s: float) -> tuple[int, list[float]]:
    """Hits (each onset matched once) and the stream delay of each hit."""
    unmatched = list(truth)
    delays = []
    for event in events:
        for onset in unmatched:
            if onset <= event.stream_time + 1e-6 <= onset + tolerance_s + 1e-6:
                unmatched.remove(onset)
                delays.append(event.stream_time - onset + event.latency_s)
                break
    return len(delays), delays


def quantile(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] if values else float("nan")


async def watch(vr, clip: Path, args) -> tuple[Watcher, list[WatchEvent], list[tuple[float, float, float]]]:
    window = RollingWindow(args.window, args.fps, budget=getattr(vr.engine, "video_budget", None))
    trigger = Trigger(args.trigger, debounce=args.debounce)
    watcher = Watcher(
        FileSource(clip, realtime=True),
        engine_asker(vr.aio),
        window,
        triggers=[trigger],
        check_every=args.check_every,
    )
    samples: list[tuple[float, float, float]] = []
    started = time.monotonic()

    def sample() -> tuple[float, float, float]:
        return round(time.monotonic() - started, 1), round(rss_mb(), 1), round(cache_mb(vr.engine), 1)

    async def sample_rss() -> None:
        while True:
            samples.append(sample())
            await asyncio.sleep(10)

    sampler = asyncio.create_task(sample_rss())
    events = [item async for item in watcher.events() if isinstance(item, WatchEvent)]
    sampler.cancel()
    samples.append(sample())
    return watcher, events, samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="stream length (600 for the 10-minute run)")
    parser.add_argument("--source-fps", type=int, default=8)
    parser.add_argument("--window", type=float, default=2.0, help="window length, seconds")
    parser.add_argument("--fps", type=float, default=2.0, help="window frame rate")
    parser.add_argument("--check-every", type=float, default=1.0, help="window period, seconds")
    parser.add_argument("--debounce", type=int, default=1)
    parser.add_argument("--tolerance", type=float, default=2.0, help="window periods after an onset that count")
    parser.add_argument("--trigger", default="a red circle appears")
    parser.add_argument("--model", default=None)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    from vreason import VReason

    schedule = random_schedule(args.seconds, seed=args.seed)
    truth = onsets(schedule, "circle", "red")
    with tempfile.TemporaryDirectory() as tmp:
        clip = write_stream(Path(tmp) / "stream.mp4", schedule, args.seconds, fps=args.source_fps)
        vr = VReason(args.model) if args.model else VReason()
        cpu0, wall0 = time.process_time(), time.monotonic()
        watcher, events, rss = vr.run(watch(vr, clip, args))
        cpu_share = (time.process_time() - cpu0) / (time.monotonic() - wall0)
        vr.close()
    hits, delays = score(events, truth, args.tolerance * args.check_every)
    stats = watcher.stats.to_dict()
    warm = [mb for t, mb, _ in rss if t >= 10] or [mb for _, mb, _ in rss]
    beside = [mb - cache for t, mb, cache in rss if t >= 10] or [mb - cache for _, mb, cache in rss]
    result = {
        "seconds": args.seconds,
        "onsets": len(truth),
        "events": len(events),
        "hits": hits,
        "recall": round(hits / len(truth), 3) if truth else None,
        "precision": round(hits / len(events), 3) if events else None,
        "latency_p50_s": round(quantile(delays, 0.5), 2),
        "latency_p99_s": round(quantile(delays, 0.99), 2),
        "answer_latency_p50_s": stats["latency_p50_s"],
        "windows_asked": stats["windows_asked"],
        "frames_seen": stats["frames_seen"],
        "frames_dropped": stats["frames_dropped"],
        "prefill_tokens_mean": stats["prefill_tokens_mean"],
        "rss_mb": rss,
        "rss_drift": round(warm[-1] / warm[0] - 1, 3) if warm else None,
        "rss_drift_beside_caches": round(beside[-1] / beside[0] - 1, 3) if beside else None,
        "cache_mb_end": rss[-1][2],
        "cpu_share": round(cpu_share, 2),
        "truth": truth,
        "event_times": [e.stream_time for e in events],
    }
    print(f"{'metric':<24}value")
    for key in (
        "onsets",
        "events",
        "hits",
        "recall",
        "precision",
        "latency_p50_s",
        "latency_p99_s",
        "answer_latency_p50_s",
        "windows_asked",
        "frames_seen",
        "frames_dropped",
        "prefill_tokens_mean",
        "rss_drift",
        "rss_drift_beside_caches",
        "cache_mb_end",
        "cpu_share",
    ):
        print(f"{key:<24}{result[key]}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
