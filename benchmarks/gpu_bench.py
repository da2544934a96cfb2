"""The engine on a GPU: vreason with and without CUDA graphs vs transformers `generate`, on the same device.

    python benchmarks/gpu_bench.py --processor DIR [--size 8b|tiny ...] [--out results.json]

Model: Qwen3-VL-8B-Instruct's architecture built from its config with random weights in bf16 on the GPU (text:
hidden 4096, 36 layers, 32 heads / 8 KV heads, head_dim 128, intermediate 12,288, vocabulary 151,936 untied;
vision: depth 27, hidden 1152, deepstack at 8/16/24), so no hub download is needed; `tiny` is the engine
benchmark's tiny model (text hidden 128, 4 layers). The real Qwen tokenizer, processor and chat template come
from `--processor` (any scratch checkpoint directory: `vreason.models.scratch.build_scratch_checkpoint`; its
weights are not read).

Per size, every arm on one model object in one process:
- greedy agreement: the first `--check-tokens` tokens of 3 prompts from each arm against `generate`'s;
- TTFT: wall time of a 1-token request on a new 1024x1024 image (1,024 visual tokens), median of 3;
- throughput: `c` requests at once (a distinct 256x256 image + a question each, `--new-tokens` tokens, end of
  turn ignored), tokens/s; `generate` gets the same prompts as one padded batch (its best case: every prompt
  has the same length, so nothing is padded).
Prints a markdown table per size and writes everything to `--out`. Arms that fail print their error and the
run goes on (each arm's traceback is in the JSON).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
import traceback
from pathlib import Path

QUESTION = "What is shown in this image?"
TTFT_SIZE = 1024
TTFT_REPEATS = 3
SLUG = {"vreason+graphs": "graphs", "vreason eager": "eager", "generate": "generate"}


def noise(size: int, seed: int):
    import numpy as np
    from PIL import Image

    return Image.fromarray(np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8))


def build(processor_dir: str, size: str, device: str):
    """(model, processor) in bf16 on the GPU: the built-in demo model's trained weights (`demo`), or random
    weights at the size's shapes."""
    import torch
    from transformers import AutoConfig, Qwen3VLForConditionalGeneration

    from vreason.models.loader import LoadSpec, load_model, load_processor
    from vreason.models.patch_embed import use_matmul_patch_embed

    if size == "demo":  # through the loader as `vreason` loads it, in transformers' code (generate needs it)
        loaded = load_model(LoadSpec(model=None, device=device, dtype="bfloat16", native=False))
        return loaded.model, loaded.processor

    config = AutoConfig.from_pretrained(processor_dir)
    if size == "8b":  # Qwen/Qwen3-VL-8B-Instruct's config.json
        text, vision = config.text_config, config.vision_config
        text.update(dict(hidden_size=4096, intermediate_size=12288, num_hidden_layers=36, num_attention_heads=32,
                         num_key_value_heads=8, head_dim=128, vocab_size=151936, tie_word_embeddings=False))
        text.rope_parameters = {**text.rope_parameters, "mrope_section": [24, 20, 20]}
        vision.update(dict(depth=27, hidden_size=1152, intermediate_size=4304, num_heads=16, out_hidden_size=4096,
                           num_position_embeddings=2304, deepstack_visual_indexes=[8, 16, 24]))
        config.tie_word_embeddings = False
    config._attn_implementation = "sdpa"
    torch.manual_seed(0)
    with torch.device(device):
        model = Qwen3VLForConditionalGeneration._from_config(config, dtype=torch.bfloat16)
    if size == "8b":  # init's std 0.02 at hidden 4096 gives near-uniform logits; wider ones give real argmaxes
        with torch.no_grad():
            model.lm_head.weight.mul_(4)
    use_matmul_patch_embed(model)
    return model.eval(), load_processor(processor_dir)


def vreason_arm(model, processor, processor_dir: str, graphs: bool, device: str):
    from vreason import VReason
    from vreason.engine.factory import EngineSpec, build_local_engine_from
    from vreason.models.loader import LoadedModel
    from vreason.models.placement import Placement

    os.environ["VREASON_CUDA_GRAPHS"] = "1" if graphs else "0"  # read when the engine's runner is built
    loaded = LoadedModel(model=model, processor=processor, name="bench", source=processor_dir,
                         placement=Placement(device, "bfloat16", "gpu benchmark"), thinking=False, is_demo=False,
                         load_s=0.0)
    spec = EngineSpec(model=processor_dir, device=device, dtype="bfloat16", model_code="transformers")
    return VReason(engine=build_local_engine_from(spec, loaded))


def generate_tokens(
    model, processor, images, new_tokens: int, device: str, fixed: bool = True, question: str = QUESTION
) -> tuple[list[list[int]], float]:
    import torch

    user = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": question}]}]
    text = processor.apply_chat_template(user, add_generation_prompt=True, tokenize=False)
    processor.tokenizer.padding_side = "left"
    start = time.perf_counter()
    inputs = processor(text=[text] * len(images), images=images, return_tensors="pt", padding=True).to(device)
    with torch.inference_mode():
        least = {"min_new_tokens": new_tokens} if fixed else {}  # fixed: end of turn ignored
        out = model.generate(**inputs, max_new_tokens=new_tokens, do_sample=False, **least)
    sync(device)
    wall = time.perf_counter() - start
    return out[:, inputs["input_ids"].shape[1]:].tolist(), wall


def vreason_tokens(
    vr, images, new_tokens: int, fixed: bool = True, question: str = QUESTION
) -> tuple[list[list[int]], float]:
    start = time.perf_counter()
    # plain greedy, as `generate` decodes (no presence penalty, the instruct default)
    answers = vr.ask_many([(image, question) for image in images], temperature=0, top_p=1.0, top_k=0,
                          presence_penalty=0.0, max_new_tokens=new_tokens, ignore_eos=fixed)
    wall = time.perf_counter() - start
    return [a.token_ids for a in answers], wall


def check_images():
    """The demo size's agreement pictures: shapes it was trained to name, drawn here with PIL."""
    from PIL import Image, ImageDraw

    pictures = []
    for shape, color, box in (("circle", "red", (60, 50, 170, 160)), ("square", "blue", (40, 70, 150, 180)),
                              ("triangle", "green", (50, 40, 200, 190))):
        image = Image.new("RGB", (256, 256), "white")  # square: no resize on either side
        draw = ImageDraw.Draw(image)
        if shape == "circle":
            draw.ellipse(box, fill=color)
        elif shape == "square":
            draw.rectangle(box, fill=color)
        else:
            draw.polygon([(box[0], box[3]), (box[2], box[3]), ((box[0] + box[2]) // 2, box[1])], fill=color)
        pictures.append(image)
    return pictures


def profile_arm(name: str, model, processor, args, path: Path) -> None:
    """torch.profiler over one TTFT request (a new 1024x1024 image, 1 token) and one 1-row request of 16 tokens
    (256x256): the ops by host time, the wall time beside them; written to `path`."""
    from torch._C._profiler import _ExperimentalConfig
    from torch.profiler import ProfilerActivity, profile

    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if args.device == "cuda" else [])

    if name == "generate":
        def tokens(images, n):
            return generate_tokens(model, processor, images, n, args.device)
    else:
        vr = vreason_arm(model, processor, args.processor, graphs=name == "vreason+graphs", device=args.device)

        def tokens(images, n):
            return vreason_tokens(vr, images, n)
    tokens([noise(256, 7)], 8)
    tokens([noise(TTFT_SIZE, 8)], 1)
    lines = []
    for label, size, n in (("ttft", TTFT_SIZE, 1), ("decode16", 256, 16)):
        every_thread = _ExperimentalConfig(profile_all_threads=True)  # the engine runs on its own thread
        with profile(activities=activities, experimental_config=every_thread) as prof:
            _, wall = tokens([noise(size, 95_000 + n)], n)
        lines += [f"## {name} {label}: wall {wall * 1000:.1f} ms", prof.key_averages().table(
            sort_by="cpu_time_total", row_limit=25, max_name_column_width=60)]
    if name != "generate":
        vr.close()
    path.write_text("\n".join(lines))
    print(f"  profile {name}: {path.name}", flush=True)


def sync(device: str) -> None:
    import torch

    if device == "cuda":
        torch.cuda.synchronize()


def agreement(ours: list[list[int]], theirs: list[list[int]]) -> float:
    """Share of positions where the two agree up to the first difference (greedy paths part for good there)."""
    total = same = 0
    for a, b in zip(ours, theirs, strict=True):
        total += len(b)
        for x, y in zip(a, b, strict=False):
            if x != y:
                break
            same += 1
    return same / total if total else 0.0


def run_arm(name: str, model, processor, args) -> dict:
    import torch

    result: dict = {"arm": name}
    check = check_images() if args.size_now == "demo" else [noise(256, 500 + i) for i in range(3)]
    if name == "generate":
        # the peer as it comes: an engine built earlier in this process turned cuDNN's attention off
        torch.backends.cuda.enable_cudnn_sdp(True)

        def tokens(images, n, fixed=True, question=QUESTION):
            return generate_tokens(model, processor, images, n, args.device, fixed, question)
    else:
        vr = vreason_arm(model, processor, args.processor, graphs=name == "vreason+graphs", device=args.device)

        def tokens(images, n, fixed=True, question=QUESTION):
            return vreason_tokens(vr, images, n, fixed, question)
    tokens([noise(256, 1)], 8)  # warm-up: kernels chosen, graphs of batch 1 recorded
    result["check"] = [tokens([image], args.check_tokens, fixed=False)[0][0] for image in check]
    ttft = []
    for r in range(TTFT_REPEATS):
        image = noise(TTFT_SIZE, 90_000 + r)
        sync(args.device)
        _, wall = tokens([image], 1)
        ttft.append(wall)
    result["ttft_s"] = ttft
    varied = []  # a new prompt length each time: new attention shapes in every layer
    for r in range(TTFT_REPEATS):
        sync(args.device)
        _, wall = tokens([noise(TTFT_SIZE, 92_000 + r)], 1, question=QUESTION + " Look closely." * (r + 1))
        varied.append(wall)
    result["ttft_varied_s"] = varied
    _, result["latency_s"] = tokens([noise(TTFT_SIZE, 91_000)], args.new_tokens)  # one whole answer
    result["throughput"] = {}
    for c in args.concurrency:
        images = [noise(256, 1000 * c + i) for i in range(c)]
        tokens(images, 4)  # this batch size's warm-up (graphs recorded, generate's kernels chosen)
        outs, wall = tokens(images, args.new_tokens)
        result["throughput"][str(c)] = {"tokens": sum(len(o) for o in outs), "wall_s": wall}
        print(f"  {name} c={c}: {sum(len(o) for o in outs) / wall:.0f} tok/s", flush=True)
    if name != "generate":
        step = vr.engine.core.runner.fast_decode if hasattr(vr.engine, "core") else None
        result["graphs_recorded"] = getattr(step, "captures", None)
        vr.close()
    result["peak_gpu_gb"] = torch.cuda.max_memory_allocated() / 2**30 if args.device == "cuda" else 0.0
    return result


def table(size: str, results: dict, args) -> str:
    gen = results.get("generate", {})
    arms = [a for a in ("vreason+graphs", "vreason eager", "generate") if "throughput" in results.get(a, {})]

    def tps(arm, c):
        r = results[arm]["throughput"].get(str(c))
        return r["tokens"] / r["wall_s"] if r else None

    lines = [f"### {size}: tokens/s ({args.new_tokens} new tokens per request, 256x256 image each)", "",
             "| concurrent | " + " | ".join(arms) + " | vreason+graphs / generate |",
             "|---:|" + "---:|" * (len(arms) + 1)]
    for c in args.concurrency:
        cells = [f"{tps(a, c):,.0f}" if tps(a, c) else "—" for a in arms]
        ratio = "—"
        if "vreason+graphs" in arms and "generate" in arms:
            ratio = f"{tps('vreason+graphs', c) / tps('generate', c):.2f}x"
        lines.append(f"| {c} | " + " | ".join(cells) + f" | {ratio} |")
    lines += ["", f"| arm | TTFT 1024² (median of 3, ms) | TTFT, new prompt lengths (ms) | 1024² image + "
              f"{args.new_tokens} tokens (ms) | greedy agreement with generate | peak GPU GB | graphs |",
              "|---|---:|---:|---:|---:|---:|---:|"]
    for a in arms:
        r = results[a]
        agree = agreement(r["check"], gen["check"]) if "check" in gen else float("nan")
        ttft = statistics.median(r["ttft_s"]) * 1000
        varied = statistics.median(r["ttft_varied_s"]) * 1000
        lines.append(f"| {a} | {ttft:.0f} | {varied:.0f} | {r['latency_s'] * 1000:.0f} | {agree:.2f} | "
                     f"{r['peak_gpu_gb']:.1f} | "
                     f"{r.get('graphs_recorded', '—')} |")
    for a, r in results.items():
        if "error" in r:
            lines.append(f"\n{a}: FAILED {r['error']}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processor", required=True, help="a scratch checkpoint directory (tokenizer, processor)")
    parser.add_argument("--size", nargs="+", default=["tiny", "8b"], choices=["demo", "tiny", "8b"])
    parser.add_argument("--profile", nargs="*", default=[], choices=["demo", "tiny", "8b"],
                        help="sizes to profile: torch.profiler tables of TTFT and decode steps per arm")
    parser.add_argument("--arms", nargs="+", default=["vreason+graphs", "vreason eager", "generate"])
    parser.add_argument("--concurrency", nargs="+", type=int, default=[1, 8, 32])
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--check-tokens", type=int, default=24)
    parser.add_argument("--out", default="gpu_bench.json")
    parser.add_argument("--device", default="cuda", help="cpu: a smoke run of the script itself (tiny)")
    args = parser.parse_args()
    import torch
    import transformers

    gpu = torch.cuda.get_device_name() if args.device == "cuda" else "none (cpu)"
    from vreason.models.placement import cpu_model

    info = {"gpu": gpu, "cpu": f"{cpu_model()}, {os.cpu_count()} cores", "torch": torch.__version__,
            "transformers": transformers.__version__, "python": platform.python_version()}
    print(json.dumps(info), flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    everything: dict = {"machine": info, "args": vars(args), "sizes": {}}
    for size in args.size:
        start = time.perf_counter()
        model, processor = build(args.processor, size, args.device)
        print(f"{size}: built in {time.perf_counter() - start:.1f} s, "
              f"{sum(p.numel() for p in model.parameters()) / 1e6:,.1f} M parameters", flush=True)
        results: dict = {}
        args.size_now = size
        for arm in args.arms:
            try:
                if args.device == "cuda":
                    torch.cuda.reset_peak_memory_stats()
                results[arm] = run_arm(arm, model, processor, args)
            except Exception as err:  # one arm's failure is a result too: the others still run
                results[arm] = {"error": f"{type(err).__name__}: {err}", "traceback": traceback.format_exc()}
                print(results[arm]["traceback"], file=sys.stderr, flush=True)
            Path(args.out).write_text(json.dumps({**everything, "partial": {size: results}}, indent=1))
        everything["sizes"][size] = results
        print(table(size, results, args), flush=True)
        if size == "demo":
            from vreason.models.loader import load_processor  # noqa: F401 (the demo's own tokenizer decodes)

            tokenizer = processor.tokenizer
            for arm, r in results.items():
                if "check" in r:
                    print(f"  {arm}: " + " | ".join(repr(tokenizer.decode(t, skip_special_tokens=True))
                                                    for t in r["check"]), flush=True)
        if size in args.profile:
            for arm in args.arms:
                try:
                    profile_arm(arm, model, processor, args, Path(args.out).parent / f"profile_{size}_{SLUG[arm]}.txt")
                except Exception:  # a profile is extra: its failure leaves the results above
                    traceback.print_exc()
        del model
        if args.device == "cuda":
            torch.cuda.empty_cache()
    Path(args.out).write_text(json.dumps(everything, indent=1))


if __name__ == "__main__":
    main()
