"""Live sessions over HTTP, measured: N push-mode streams on one server, fed in real time, beside chat completions.

    .venv/bin/python benchmarks/live_server_bench.py                      # 8 sessions, 60 s each
    .venv/bin/python benchmarks/live_server_bench.py --sessions 8 --seconds 120

The server (the built-in demo model unless --model) runs in this process on 127.0.0.1; each session is opened
with POST /v1/vreason/streams (no source: push mode, window --window s at --fps, trigger "a red circle
appears") and fed by its own thread: the frames of a synthetic schedule (vreason.live.synthetic: the red circle
coming and going at known times, distractors; a different seed per session), JPEG-encoded beforehand, POSTed
to .../frames with their capture times at the stream's own pace. A reader per session follows its events
over SSE. Meanwhile one client asks /v1/chat/completions (an image question, a new picture each time) back
to back.

Reported per session: frames pushed, windows asked against the windows its rate calls for (one check per frame
pair: seconds x fps / 2), frames dropped, events, recall/precision against the schedule's onsets (an event within
--tolerance s after an onset); over all: the least and most served session (windows asked / expected), and the
chat completions answered beside them with their latency p50/p99. Prints a table and one JSON line.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import os
import statistics
import threading
import time

import httpx
import numpy as np
from PIL import Image

from vreason.live.synthetic import onsets, random_schedule, scene_at


def jpeg(frame: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(frame).save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


def quantile(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] if values else float("nan")


def score(events: list[float], truth: list[float], tolerance: float) -> int:
    unmatched = list(truth)
    hits = 0
    for at in events:
        for onset in unmatched:
            if onset <= at + 1e-6 <= onset + tolerance:
                unmatched.remove(onset)
                hits += 1
                break
    return hits


class Session:
    def __init__(self, url: str, index: int, args):
        self.url = url
        self.index = index
        self.args = args
        self.schedule = random_schedule(args.seconds, seed=100 + index)
        count = round(args.seconds * args.fps)
        self.frames = [(i / args.fps, jpeg(scene_at(i / args.fps, self.schedule))) for i in range(count)]
        self.headers = {"Authorization": f"Bearer bench-{index}"}
        response = httpx.post(
            url + "/v1/vreason/streams",
            headers=self.headers,
            timeout=30,
            json={"window_s": args.window, "fps": args.fps, "triggers": ["a red circle appears"]},
        )
        response.raise_for_status()
        self.id = response.json()["id"]
        self.base = f"{url}/v1/vreason/streams/{self.id}"
        self.events: list[float] = []
        self.refused = 0
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.pusher = threading.Thread(target=self._push, daemon=True)

    def _read(self) -> None:
        with httpx.stream("GET", self.base + "/events", headers=self.headers, timeout=None) as response:
            event = ""
            for line in response.iter_lines():
                if line.startswith("event: "):
                    event = line[7:]
                elif line.startswith("data: ") and event == "event":
                    self.events.append(json.loads(line[6:])["stream_time"])
                elif event == "end":
                    return

    def _push(self) -> None:
        started = time.monotonic()
        with httpx.Client(headers={**self.headers, "Content-Type": "image/jpeg"}, timeout=30) as client:
            for t, data in self.frames:
                time.sleep(max(0.0, started + t - time.monotonic()))
                if client.post(self.base + "/frames", params={"t": t}, content=data).status_code != 202:
                    self.refused += 1

    def result(self) -> dict:
        status = httpx.get(self.base, headers=self.headers, timeout=30).json()
        counters = status["counters"]
        expected = self.args.seconds * self.args.fps / 2
        truth = [t for t in onsets(self.schedule, "circle", "red") if t < self.args.seconds - 1]
        hits = score(self.events, truth, self.args.tolerance)
        return {
            "session": self.index,
            "frames_pushed": counters["frames_pushed"],
            "windows_asked": counters["windows_asked"],
            "served": round(counters["windows_asked"] / expected, 3),
            "dropped": counters["frames_dropped"],
            "refused": self.refused,
            "events": len(self.events),
            "onsets": len(truth),
            "recall": round(hits / len(truth), 2) if truth else None,
            "precision": round(hits / len(self.events), 2) if self.events else None,
            "latency_p50_s": status["latency_p50_s"],
        }


def chat_loop(url: str, stop: threading.Event, latencies: list[float], failures: list[str]) -> None:
    """Image questions back to back, each on a new picture (no reuse cache makes them cheap)."""
    with httpx.Client(timeout=120) as client:
        seed = 0
        while not stop.is_set():
            seed += 1
            picture = scene_at(5.0, random_schedule(30, seed=1000 + seed, off_s=(0.0, 1.0)))
            image = base64.b64encode(jpeg(picture)).decode()
            content = [
                {"type": "image_url", "image_url": {"url": f"data:image/jpeg;base64,{image}"}},
                {"type": "text", "text": "what shapes are there?"},
            ]
            body = {
                "model": "vreason-demo",
                "max_tokens": 16,
                "temperature": 0,
                "messages": [{"role": "user", "content": content}],
            }
            started = time.perf_counter()
            response = client.post(url + "/v1/chat/completions", json=body)
            if response.status_code == 200:
                latencies.append(time.perf_counter() - started)
            else:
                failures.append(f"{response.status_code} {response.text[:100]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--window", type=float, default=1.0)
    parser.add_argument("--fps", type=float, default=2.0)
    parser.add_argument("--tolerance", type=float, default=2.0, help="seconds after an onset an event may come")
    parser.add_argument("--model", default=None)
    args = parser.parse_args()

    from vreason import VReason
    from vreason.server import ServerSettings, create_app, server_media_policy
    from vreason.server.launch import BackgroundServer
    from vreason.server.stream_sessions import StreamLimits

    vr = (
        VReason(args.model, media_policy=server_media_policy())
        if args.model
        else VReason(media_policy=server_media_policy())
    )
    app = create_app(vr.engine, ServerSettings(served_model_names=("vreason-demo",)))
    app.state.streams.limits = StreamLimits(max_sessions=max(32, args.sessions))
    server = BackgroundServer(app)
    cpu_started, wall_started = time.process_time(), time.monotonic()
    try:
        sessions = [Session(server.url, i, args) for i in range(args.sessions)]
        stop = threading.Event()
        latencies: list[float] = []
        failures: list[str] = []
        chat = threading.Thread(target=chat_loop, args=(server.url, stop, latencies, failures), daemon=True)
        for session in sessions:
            session.reader.start()
        time.sleep(0.5)
        chat.start()
        for session in sessions:
            session.pusher.start()
        for session in sessions:
            session.pusher.join()
        time.sleep(2 * args.window + 1)  # the last windows' checks
        stop.set()
        chat.join(timeout=120)
        rows = [s.result() for s in sessions]
        for session in sessions:
            httpx.delete(session.base, headers=session.headers, timeout=30)
    finally:
        server.stop()
        vr.close()
    wall = time.monotonic() - wall_started
    served = [r["served"] for r in rows]
    summary = {
        "sessions": args.sessions,
        "seconds": args.seconds,
        "window_s": args.window,
        "fps": args.fps,
        "served_min": min(served),
        "served_max": max(served),
        "served_mean": round(statistics.mean(served), 3),
        "dropped_total": sum(r["dropped"] for r in rows),
        "refused_total": sum(r["refused"] for r in rows),
        "events_total": sum(r["events"] for r in rows),
        "onsets_total": sum(r["onsets"] for r in rows),
        "chat_answered": len(latencies),
        "chat_failed": len(failures),
        "chat_p50_s": round(quantile(latencies, 0.5), 3),
        "chat_p99_s": round(quantile(latencies, 0.99), 3),
        "cpu_share": round((time.process_time() - cpu_started) / wall / (os.cpu_count() or 1), 2),
    }
    columns = list(rows[0])
    print(" | ".join(columns))
    for row in rows:
        print(" | ".join(str(row[c]) for c in columns))
    print()
    for key, value in summary.items():
        print(f"{key:>16}: {value}")
    if failures:
        print("chat failures:", failures[:3])
    print(json.dumps({"rows": rows, "summary": summary}))


if __name__ == "__main__":
    main()
