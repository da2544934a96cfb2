"""The output head's prepacked product A/B in one process: the engine's tokens/s with each bucket of rows as
the head decided it (engine/output_head.py: packed where oneDNN gives the plain product's bits at every row
count of the bucket and is faster) against the plain product everywhere, in alternating rounds.

    .venv/bin/python benchmarks/head_ab.py [--concurrency 4 8 16 32] [--rounds 5] [--new-tokens 32]

Model and requests as `benchmarks/serve_bench.py` (tiny random Qwen3-VL, text hidden 128 and Qwen's 151,936-row
vocabulary: a 78 MB float32 head; one distinct 256x256 image + a question per request, greedy, end-of-turn
ignored). A warm-up at 32, 8 and 4 concurrent lets every bucket decide; the table prints the decisions (and why
a bucket stayed plain), then each arm's median tokens/s. Only the head's per-bucket state changes between arms.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from serve_bench import MODEL_DIR, QUESTION, build_model, cpu_description, noise  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, nargs="+", default=[4, 8, 16, 32])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--new-tokens", type=int, default=32)
    args = parser.parse_args()
    build_model()
    from vreason import VReason

    vr = VReason(str(MODEL_DIR))
    head = vr.engine.core.runner.head
    seed = iter(range(10**6))

    def run(n: int) -> float:
        items = [(noise(256, next(seed)), QUESTION) for _ in range(n)]
        start = time.perf_counter()
        answers = vr.ask_many(items, temperature=0, max_new_tokens=args.new_tokens, ignore_eos=True)
        return sum(a.usage.completion_tokens for a in answers) / (time.perf_counter() - start)

    for n in (32, 8, 4):  # a first step in each bucket: every bucket decides
        run(n)
    # a bucket no warm-up step reached runs plain in both arms (left "untried", each round would decide it again)
    decided = {bucket: "plain" if state == "untried" else state for bucket, state in head.packed_states.items()}
    results: dict[tuple[int, str], list[float]] = {}
    arms = [(n, arm) for n in args.concurrency for arm in ("decided", "plain")]
    for _ in range(args.rounds):
        random.shuffle(arms)
        for n, arm in arms:  # between requests: no step is running
            head.packed_states = dict(decided) if arm == "decided" else dict.fromkeys(decided, "plain")
            results.setdefault((n, arm), []).append(run(n))
    head.packed_states = decided
    vr.close()

    print(f"{cpu_description()}, {torch.get_num_threads()} threads; {vr.engine.loaded.placement.dtype_name} engine")
    for bucket, state in decided.items():
        timing = head.packed_timings.get(bucket)
        timed = f", plain {timing[0]:.1f} ms / packed {timing[1]:.1f} ms" if timing else ""
        why = f" ({head.plain_why[bucket]})" if bucket in head.plain_why else ""
        print(f"rows {bucket[0]}-{bucket[1]}: {state}{why}{timed}")
    print(f"\n| concurrent | decided (tok/s) | plain only (tok/s) | decided / plain |  (median of {args.rounds})")
    print("|---:|---:|---:|---:|")
    for n in args.concurrency:
        decided_tps, plain_tps = (statistics.median(results[(n, arm)]) for arm in ("decided", "plain"))
        print(f"| {n} | {decided_tps:.1f} | {plain_tps:.1f} | {decided_tps / plain_tps:.2f}x |")


if __name__ == "__main__":
    main()
