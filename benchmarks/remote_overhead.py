"""What going through vreason's remote backend costs, against calling the same upstream directly.

    .venv/bin/python benchmarks/remote_overhead.py                       # starts `vreason serve` on the tiny model
    .venv/bin/python benchmarks/remote_overhead.py --upstream http://127.0.0.1:8000/v1   # any running upstream

Both paths send byte-identical requests (one image as a PNG data URI plus a question, greedy, --new-tokens
tokens at most) over HTTP with streaming and read the whole answer: "direct" is a bare httpx client with the
request body prepared once; "remote" is `RemoteEngine.generate`, which per request also loads and resizes
the image, encodes it, balances, parses every chunk into deltas and assembles the Answer. Rounds alternate
between the two so load from elsewhere on the machine hits both alike; medians over rounds are reported.
"client CPU ms/request" is this process's CPU time per request (all threads): the backend's own cost, which
becomes added latency when the machine has a core to spare and lost throughput when it does not (client and
upstream share the cores here). Targets: throughput loss <= 5%, added p50 latency <= 10 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from PIL import Image

from vreason.engine.backends import RemoteEngine
from vreason.engine.backends.openai_wire import encode_messages, request_body
from vreason.engine.sampling import GREEDY
from vreason.engine.types import Answer, Message
from vreason.media import MediaPolicy, PixelBudget
from vreason.media_step import make_request

QUESTION = "What color is the shape?"


def picture() -> bytes:
    image = Image.new("RGB", (320, 240), (240, 240, 240))
    image.paste((200, 30, 30), (100, 60, 220, 180))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


async def direct_request(client: httpx.AsyncClient, url: str, body: dict) -> tuple[float, int]:
    started = time.perf_counter()
    tokens = 0
    async with client.stream("POST", f"{url}/chat/completions", json=body) as response:
        response.raise_for_status()
        async for line in response.aiter_lines():
            if line.startswith("data:") and '"usage"' in line and '"completion_tokens"' in line:
                import json

                usage = json.loads(line[5:]).get("usage") or {}
                tokens = usage.get("completion_tokens", tokens)
    return time.perf_counter() - started, tokens


async def remote_request(engine: RemoteEngine, image: bytes, new_tokens: int) -> tuple[float, int]:
    started = time.perf_counter()
    request = make_request([Message.user(QUESTION, [image])], GREEDY.updated(max_new_tokens=new_tokens))
    answer = None
    async for event in engine.generate(request):
        if isinstance(event, Answer):
            answer = event
    assert answer is not None
    return time.perf_counter() - started, answer.usage.completion_tokens


async def run_round(make_one, requests: int, concurrency: int) -> dict:
    semaphore = asyncio.Semaphore(concurrency)
    latencies: list[float] = []
    tokens = 0

    async def one() -> None:
        nonlocal tokens
        async with semaphore:
            latency, n = await make_one()
            latencies.append(latency)
            tokens += n

    started, cpu_started = time.perf_counter(), time.process_time()
    await asyncio.gather(*(one() for _ in range(requests)))
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    return {"tok_s": tokens / elapsed, "req_s": requests / elapsed, "p50_ms": 1000 * statistics.median(latencies),
            "cpu_ms": 1000 * cpu / requests}


async def measure(url: str, requests: int, concurrencies: list[int], new_tokens: int, rounds: int) -> list[dict]:
    image = picture()
    engine = RemoteEngine([url], max_connections=max(concurrencies) + 8)
    wire = encode_messages([Message.user(QUESTION, [image])], MediaPolicy(), PixelBudget(), 16)
    body = request_body(engine.model_name, wire, GREEDY.updated(max_new_tokens=new_tokens))
    limits = httpx.Limits(max_connections=max(concurrencies) + 8)
    rows = []
    async with httpx.AsyncClient(timeout=300, limits=limits) as client:
        await run_round(lambda: direct_request(client, url, body), 4, 2)  # warm-up: caches, connections
        await run_round(lambda: remote_request(engine, image, new_tokens), 4, 2)
        for concurrency in concurrencies:
            direct, remote = [], []
            for _ in range(rounds):
                direct.append(await run_round(lambda: direct_request(client, url, body), requests, concurrency))
                remote.append(await run_round(lambda: remote_request(engine, image, new_tokens), requests,
                                              concurrency))
            rows.append({"concurrency": concurrency, "direct": _median(direct), "remote": _median(remote)})
    await engine.close()
    return rows


def _median(results: list[dict]) -> dict:
    return {key: statistics.median(r[key] for r in results) for key in results[0]}


def start_serve(model_dir: str | None, port: int) -> tuple[subprocess.Popen, str, tempfile.TemporaryDirectory]:
    """`vreason serve` on the tiny random Qwen3-VL of the engine benchmarks (built in a temp dir)."""
    tmp = tempfile.TemporaryDirectory()
    if model_dir is None:
        sys.path.insert(0, str(Path(__file__).parent))
        from cpu_dtype import BENCH_SIZES

        from vreason.models.scratch import build_scratch_checkpoint

        model_dir = str(build_scratch_checkpoint(tmp.name, BENCH_SIZES))
    command = [sys.executable, "-m", "vreason.cli.app", "serve", "--model", model_dir, "--port", str(port)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"vreason serve exited with {process.returncode}: {' '.join(command)}")
        try:
            if httpx.get(f"{url}/v1/models", timeout=1).status_code == 200:
                return process, f"{url}/v1", tmp
        except httpx.HTTPError:
            time.sleep(0.5)
    process.kill()
    raise SystemExit("vreason serve was not ready after 180 s")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--upstream", help="a running OpenAI-compatible server; default: start `vreason serve`")
    parser.add_argument("--model", help="checkpoint for the started server (default: the tiny random Qwen3-VL)")
    parser.add_argument("--requests", type=int, default=16, help="requests per round and concurrency")
    parser.add_argument("--concurrency", default="1,8,32", help="comma-separated concurrency levels")
    parser.add_argument("--new-tokens", type=int, default=32)
    # Many short rounds: load from elsewhere changes on a scale of seconds and must hit both paths alike.
    parser.add_argument("--rounds", type=int, default=8)
    args = parser.parse_args()
    concurrencies = [int(c) for c in args.concurrency.split(",")]
    process = tmp = None
    url = args.upstream
    if url is None:
        process, url, tmp = start_serve(args.model, free_port())
    try:
        rows = asyncio.run(measure(url, args.requests, concurrencies, args.new_tokens, args.rounds))
    finally:
        if process is not None:
            process.terminate()
            process.wait(timeout=30)
        if tmp is not None:
            tmp.cleanup()
    print(f"# {time.strftime('%Y-%m-%d')}, {platform.machine()}, {os.cpu_count()} cores, upstream {url}")
    print(f"# command: {' '.join([Path(sys.executable).name, *sys.argv])}")
    print("| concurrency | direct tok/s | remote tok/s | throughput change | direct p50 ms | remote p50 ms "
          "| added p50 ms | client CPU ms/request direct / remote |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for row in rows:
        d, r = row["direct"], row["remote"]
        change = 100 * (r["tok_s"] / d["tok_s"] - 1)
        print(f"| {row['concurrency']} | {d['tok_s']:.1f} | {r['tok_s']:.1f} | {change:+.1f}% | {d['p50_ms']:.1f} | "
              f"{r['p50_ms']:.1f} | {r['p50_ms'] - d['p50_ms']:+.1f} | {d['cpu_ms']:.2f} / {r['cpu_ms']:.2f} |")


if __name__ == "__main__":
    main()
