"""Where a decode step of the batching engine spends its time, at batch 1 and 8 (`make profile-engine`).

    .venv/bin/python benchmarks/profile_engine.py [--batch 1 8] [--steps 64] [--dtype auto] [--trace DIR]

Model: the tiny random Qwen3-VL of `benchmarks/serve_bench.py` (built once into .cache/bench-tiny-qwen3-vl).
The engine's own runner is driven by hand: `--batch` requests (one 256x256 image + a question each, greedy)
are prefilled as rows, then decode steps run back to back on both decode paths (the fast step of
engine/decode_step.py and the transformers decoder layers), alternating so that load from other processes
falls on both alike: the per-step wall time in ms (median), and the CPU time of a step run on one thread
(median; the work itself, which load from other processes does not stretch), with the output head's product
alone on the same clock. Then each path runs `--steps` steps under `torch.profiler` (on one thread unless
`--profile-threads`) and the table splits a step into parts by the aten ops that make them (output head,
decoder matmuls, attention, KV cache writes, norms, rotary, sampling, residual/activation, step inputs and
views) plus what is left of the wall time: Python and framework code between the ops. The profiler adds
its own cost per op, so the parts add up to more than the plain median. `--trace DIR` writes Chrome traces.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from serve_bench import MODEL_DIR, QUESTION, build_model, noise  # noqa: E402

# Parts of a step, by the aten ops that make them (the first rule that matches an op names its part). Only
# top-level ops count (an op called by another op belongs to its caller), so the parts add up to the op time.
MATMUL = ("aten::linear", "aten::matmul", "aten::mm", "aten::addmm", "aten::bmm")
PARTS = (
    ("output head matmul", lambda name, vocab_sized: name in MATMUL and vocab_sized),
    ("decoder matmuls (q/k/v/o, mlp)", lambda name, _: name in MATMUL),
    ("attention core (sdpa)", lambda name, _: "scaled_dot_product" in name or name == "aten::softmax"),
    ("kv cache writes", lambda name, _: name in ("aten::index_put_", "aten::index_copy_", "aten::_index_put_impl_")),
    ("norms (rms)", lambda name, _: name in ("aten::rms_norm", "aten::pow", "aten::mean", "aten::rsqrt")),
    (
        "rotary (cos/sin, rotate)",
        lambda name, _: name in ("aten::cos", "aten::sin", "aten::roll", "aten::neg", "aten::cat"),
    ),
    (
        "sampling (argmax, top-k)",
        lambda name, vocab_sized: (
            name in ("aten::argmax", "aten::max", "aten::topk", "aten::sort", "aten::multinomial")
        ),
    ),
    (
        "residual, activation, scale",
        lambda name, _: name in ("aten::add", "aten::mul", "aten::silu", "aten::div", "aten::sub", "aten::where"),
    ),
    ("embedding", lambda name, _: name == "aten::embedding"),
    ("step inputs, mask, views, copies", lambda name, _: True),
)


def build_rows(batch: int, dtype: str):
    """A loaded engine whose runner holds `batch` prefilled rows; returns (engine, runner, requests)."""
    from vreason.engine.factory import EngineSpec, build_engine
    from vreason.engine.interface import GenerationRequest
    from vreason.engine.request import RequestState, Status
    from vreason.engine.sampling import GREEDY
    from vreason.engine.types import Message
    from vreason.media_step import MediaResolver

    engine = build_engine(EngineSpec(model=str(MODEL_DIR), dtype=dtype))
    engine.core.shutdown()  # the runner is driven by hand here, not by the engine thread
    resolver = MediaResolver(engine.policy, engine.max_images_per_request)
    runner = engine.core.runner
    params = GREEDY.updated(max_new_tokens=4096, ignore_eos=True)
    requests = []
    for i in range(batch):
        messages = resolver.resolve([Message.user(QUESTION, [noise(256, 7 + i)])])
        _, inputs = engine.prepare(GenerationRequest(messages, params))
        state = RequestState(f"r{i}", inputs.token_ids, params, inputs)
        state.status = Status.RUNNING
        requests.append(state)
    first = runner.execute_prefill(requests)
    for r in requests:
        r.output_ids.append(first.sampled[r.request_id])
    return engine, runner, requests


def step(runner, requests) -> None:
    out = runner.execute_decode(requests)
    for r in requests:
        r.output_ids.append(out.sampled[r.request_id])


def time_steps(runner, requests, steps: int, clock=time.perf_counter) -> list[float]:
    for _ in range(4):  # warm-up: first calls allocate
        step(runner, requests)
    times = []
    for _ in range(steps):
        start = clock()
        step(runner, requests)
        times.append((clock() - start) * 1000)
    return times


def cpu_steps(runner, requests, steps: int) -> list[float]:
    """CPU ms per step on one thread (the thread's own CPU time): the work a step does, which other processes
    on a shared machine stretch in wall time but do not change."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return time_steps(runner, requests, steps, clock=time.thread_time)
    finally:
        torch.set_num_threads(threads)


def head_cpu(runner, batch: int, steps: int = 32) -> float:
    """CPU ms of the output head's product alone on one thread (median): the part no op count can remove."""
    head = runner.head.copy if runner.head.copy is not None else runner.model.lm_head.weight.t()
    x = torch.randn(batch, head.shape[0], dtype=head.dtype)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        x @ head
        times = []
        for _ in range(steps):
            start = time.thread_time()
            x @ head
            times.append((time.thread_time() - start) * 1000)
    finally:
        torch.set_num_threads(threads)
    return statistics.median(times)


def profile_steps(runner, requests, steps: int, vocab: int, trace: Path | None, threads: int):
    """ms per step of each part, under torch.profiler (which adds its own cost per op: see the plain median),
    on `threads` torch threads (on a shared machine, two threads' barriers wait for descheduled peers and
    swamp the parts; one thread shows the work)."""
    from torch.profiler import ProfilerActivity, profile

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
            start = time.perf_counter()
            for _ in range(steps):
                step(runner, requests)
            wall = (time.perf_counter() - start) * 1000 / steps
    finally:
        torch.set_num_threads(before)
    if trace is not None:
        trace.mkdir(parents=True, exist_ok=True)
        prof.export_chrome_trace(str(trace / f"decode-b{len(requests)}-{runner_path(runner)}.json"))
    parts: dict[str, float] = defaultdict(float)
    for event in prof.events():
        parent = event.cpu_parent
        if not event.name.startswith("aten::") or (parent is not None and parent.name.startswith("aten::")):
            continue
        vocab_sized = any(vocab in shape for shape in event.input_shapes if isinstance(shape, list))
        part = next(name for name, rule in PARTS if rule(event.name, vocab_sized))
        parts[part] += event.time_range.elapsed_us() / 1000 / steps
    parts["python + framework (between ops)"] = wall - sum(parts.values())
    return wall, parts


def runner_path(runner) -> str:
    return "fast" if runner.fast_decode is not None else "transformers"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--steps", type=int, default=64)
    parser.add_argument("--dtype", default="auto")
    parser.add_argument("--trace", type=Path)
    parser.add_argument("--profile-threads", type=int, default=1, help="torch threads for the profiled steps")
    args = parser.parse_args()
    build_model()
    from rich.console import Console
    from rich.table import Table

    from vreason.engine.decode_step import enabled

    paths = ["transformers", "fast"] if enabled() else ["transformers"]
    results, columns, heads = {}, [], {}
    for batch in args.batch:
        engine, runner, requests = build_rows(batch, args.dtype)
        fast = runner.fast_decode
        vocab = engine.loaded.model.config.get_text_config().vocab_size
        walls: dict[str, list[float]] = {path: [] for path in paths}
        cpus: dict[str, list[float]] = {path: [] for path in paths}
        for _ in range(4):  # the paths alternate, so load from other processes falls on both alike
            for path in paths:
                runner.fast_decode = fast if path == "fast" else None
                walls[path].extend(time_steps(runner, requests, args.steps // 4))
                cpus[path].extend(cpu_steps(runner, requests, args.steps // 4))
        for path in paths:
            runner.fast_decode = fast if path == "fast" else None
            wall, parts = profile_steps(runner, requests, args.steps, vocab, args.trace, args.profile_threads)
            results[(batch, path)] = (statistics.median(walls[path]), wall, parts, statistics.median(cpus[path]))
            columns.append((batch, path))
        heads[batch] = head_cpu(runner, batch)
        placement = engine.loaded.placement
        engine.shutdown()

    console = Console(width=160)
    console.print(
        f"decode step, tiny random Qwen3-VL, {placement.dtype_name} ({placement.reason}), "
        f"{torch.get_num_threads()} threads, {args.steps} steps per path"
    )
    table = Table(title=f"ms per decode step, by part (under torch.profiler, {args.profile_threads} thread(s))")
    table.add_column("part")
    for batch, path in columns:
        table.add_column(f"b{batch} {path}", justify="right")
    for part in [name for name, _ in PARTS] + ["python + framework (between ops)"]:
        table.add_row(part, *[f"{results[c][2].get(part, 0.0):.3f}" for c in columns])
    table.add_row("step under the profiler", *[f"{results[c][1]:.2f}" for c in columns])
    table.add_row("step, no profiler (median wall)", *[f"{results[c][0]:.2f}" for c in columns])
    table.add_row("step, CPU time on 1 thread (median)", *[f"{results[c][3]:.2f}" for c in columns])
    table.add_row("  output head alone, same clock", *[f"{heads[c[0]]:.2f}" for c in columns])
    table.add_row("  the step without the head", *[f"{results[c][3] - heads[c[0]]:.2f}" for c in columns])
    console.print(table)


if __name__ == "__main__":
    main()
