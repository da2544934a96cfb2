"""Decode paths A/B in one process: tokens/s of the engine with the fast decode step vs the transformers decoder
layers, and transformers `generate` on one request, in alternating rounds.

    .venv/bin/python benchmarks/decode_ab.py [--concurrency 1 8] [--new-tokens 32] [--rounds 7] [--threads N]

On a machine shared with other work, arms measured minutes apart see different load; here every round runs
every arm once, in a shuffled order, and the table gives each arm's median over rounds, so load falls on all
arms alike. Model and requests as `benchmarks/serve_bench.py` (tiny random Qwen3-VL, one distinct 256x256
image + a question per request, greedy, end-of-turn ignored, `--new-tokens` each). The engine runs in the
dtype its placement picks (float32 for this model on CPU; `--dtype` overrides); `generate` runs on the same
loaded model and, as in serve_bench, on a bf16 copy.
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
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--new-tokens", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--dtype", default="auto")
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's); 1 steadies a shared machine")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    build_model()
    from transformers import AutoModelForImageTextToText

    from vreason import VReason

    vr = VReason(str(MODEL_DIR), dtype=args.dtype)
    runner = vr.engine.core.runner
    fast = runner.fast_decode
    processor, model = vr.engine.loaded.processor, vr.engine.loaded.model
    bf16 = AutoModelForImageTextToText.from_pretrained(MODEL_DIR, dtype=torch.bfloat16).eval()
    sampling = dict(temperature=0, max_new_tokens=args.new_tokens, ignore_eos=True)
    seed = iter(range(10**6))

    def engine_arm(path: str, n: int):
        def run() -> float:
            runner.fast_decode = fast if path == "fast" else None  # between requests: no step is running
            items = [(noise(256, next(seed)), QUESTION) for _ in range(n)]
            start = time.perf_counter()
            answers = vr.ask_many(items, **sampling)
            return sum(a.usage.completion_tokens for a in answers) / (time.perf_counter() - start)

        return run

    def generate_arm(target):
        user = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": QUESTION}]}]
        text = processor.apply_chat_template(user, add_generation_prompt=True, tokenize=False)

        def run() -> float:
            inputs = processor(text=[text], images=[noise(256, next(seed))], return_tensors="pt")
            start = time.perf_counter()
            with torch.inference_mode():
                target.generate(
                    **inputs, max_new_tokens=args.new_tokens, min_new_tokens=args.new_tokens, do_sample=False
                )
            return args.new_tokens / (time.perf_counter() - start)

        return run

    arms = {}
    for n in args.concurrency:
        for path in ["transformers", "fast"] if fast is not None else ["transformers"]:
            arms[f"engine, {path} decode, {n} concurrent"] = engine_arm(path, n)
    arms[f"generate {model.dtype} (same model), 1"] = generate_arm(model)
    arms["generate torch.bfloat16, 1"] = generate_arm(bf16)
    for run in arms.values():  # warm-up
        run()
    results: dict[str, list[float]] = {name: [] for name in arms}
    order = list(arms)
    for _ in range(args.rounds):
        random.shuffle(order)
        for name in order:
            results[name].append(arms[name]())
    vr.close()

    from rich.console import Console
    from rich.table import Table

    placement = vr.engine.loaded.placement
    table = Table(
        title=f"tokens/s, median of {args.rounds} alternating rounds ({placement.dtype_name} engine; "
        f"{cpu_description()}, {torch.get_num_threads()} threads)"
    )
    for column in ("arm", "tokens/s", "min", "max"):
        table.add_column(column, justify="right")
    for name, values in results.items():
        table.add_row(name, f"{statistics.median(values):.1f}", f"{min(values):.1f}", f"{max(values):.1f}")
    Console(width=140).print(table)


if __name__ == "__main__":
    main()
