"""Which dtype is fastest for Qwen3-VL generation on this CPU? Prints a table, fp32 as the baseline.

    .venv/bin/python benchmarks/cpu_dtype.py [--model DIR] [--requests 8] [--new-tokens 32]

Without --model it builds the tiny random Qwen3-VL of the engine benchmarks (real Qwen vocab, text hidden
128, 4 layers, 4 heads / 2 KV heads, head_dim 32; vision depth 2, hidden 64) in a temp dir.
Each request is one image plus a question, greedy, end-of-turn ignored so every request makes
exactly --new-tokens tokens.
"""

from __future__ import annotations

import argparse
import tempfile
import time

import torch
from PIL import Image
from rich.console import Console
from rich.table import Table
from transformers import AutoModelForImageTextToText, AutoProcessor

from vreason.models.scratch import ScratchSizes, build_scratch_checkpoint

BENCH_SIZES = ScratchSizes(text_hidden=128, text_layers=4, text_heads=4, text_kv_heads=2, head_dim=32,
                           text_intermediate=384, vision_depth=2, vision_hidden=64, vision_heads=2,
                           vision_intermediate=128)


def run(model_dir: str, dtype: torch.dtype, requests: int, new_tokens: int) -> dict:
    start = time.perf_counter()
    processor = AutoProcessor.from_pretrained(model_dir)
    model = AutoModelForImageTextToText.from_pretrained(model_dir, dtype=dtype).eval()
    load_s = time.perf_counter() - start
    image = Image.new("RGB", (256, 256), (200, 30, 30))
    messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "What is shown?"}]}]
    text = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    inputs = processor(text=[text], images=[image], return_tensors="pt")
    kwargs = dict(max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=False)
    with torch.inference_mode():
        model.generate(**inputs, **kwargs)  # warm-up
        t0 = time.perf_counter()
        for _ in range(requests):
            model.generate(**inputs, **kwargs)
        elapsed = time.perf_counter() - t0
    return {"load_s": load_s, "tok_s": requests * new_tokens / elapsed, "elapsed": elapsed}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model")
    parser.add_argument("--requests", type=int, default=8)
    parser.add_argument("--new-tokens", type=int, default=32)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = args.model or str(build_scratch_checkpoint(tmp, BENCH_SIZES))
        results = {name: run(model_dir, dt, args.requests, args.new_tokens)
                   for name, dt in (("float32", torch.float32), ("bfloat16", torch.bfloat16))}
    table = Table(title=f"CPU generation, {args.requests} requests x {args.new_tokens} tokens, "
                        f"{torch.get_num_threads()} threads")
    for col in ("dtype", "load s", "tokens/s", "vs float32"):
        table.add_column(col, justify="right")
    base = results["float32"]["tok_s"]
    for name, r in results.items():
        table.add_row(name, f"{r['load_s']:.2f}", f"{r['tok_s']:.1f}", f"{r['tok_s'] / base:.2f}x")
    Console().print(table)


if __name__ == "__main__":
    main()
