"""Edge benchmark: vreason on CPU in fp32 / bf16 / int8 / int4, the OpenVINO backend, llama.cpp's llama-server.

    .venv/bin/python benchmarks/edge_bench.py [--models tiny mid] [--arms ...] [--new-tokens 32]
                                              [--quality] [--results benchmarks/RESULTS.md]     (make bench-edge)

Models: the tiny random Qwen3-VL of the engine benchmark (.cache/bench-tiny-qwen3-vl, built by serve_bench's
recipe) and a mid-size random one built from a config (text hidden 1024, 16 layers, 16/8 heads, head_dim 64,
intermediate 3072; vision depth 8, hidden 512; real Qwen vocabulary, tied embeddings) in
.cache/edge-mid-qwen3-vl. Every arm runs in its own process (its load time and peak RSS are its own) and prints
one JSON line; this script prints the table (CPU header first) and appends it to the results file.

Per arm: load time (process start to model ready, imports excluded), weight bytes held (torchao tensors
counted by their packed parts), TTFT of a 1-token answer on a new 512x512 image (median of 3), decode tokens/s of
one request (its own decode timing), aggregate tokens/s of 8 concurrent requests (tokens / wall; 256x256
images, `--new-tokens` each, greedy, end of turn ignored), and peak RSS.

Arms: vreason:fp32|bf16|int8|int4 (the local engine, `--quantize` for int8/int4); openvino:fp16|int8|int4 (the
OpenVINO backend of src/vreason/engine/backends/openvino*.py, when importable; its IR exported once into
.cache/edge-ov); llamacpp:Q8_0|Q4_K_M (`llama-server` from scripts/setup_llama_cpp.sh with the model converted by
its convert_hf_to_gguf.py + mmproj, served on 127.0.0.1 with 8 slots, driven through the openai client). An arm
whose tool is missing prints a row saying why.

`--quality`: the demo model's easy-VQA test exact match (first `--easy-vqa-limit` questions) and the
shapes-world count/position families in float32, int8 and int4, and greedy agreement with float32 on 200
prompts (identical answer text).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
from serve_bench import noise, peak_rss_mb  # noqa: E402

CACHE = ROOT / ".cache"
MODELS = {"tiny": CACHE / "bench-tiny-qwen3-vl", "mid": CACHE / "edge-mid-qwen3-vl"}
LLAMA = CACHE / "llama.cpp"
GGUF = CACHE / "edge-gguf"
QUESTION = "What is shown in this image?"
TTFT_SIZE = 512
THROUGHPUT_SIZE = 256
CONCURRENT = 8
SHOWN_FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16", "amx_int8")
ALL_ARMS = ("vreason:fp32", "vreason:bf16", "vreason:int8", "vreason:int4", "openvino:fp16", "openvino:int8",
            "openvino:int4", "llamacpp:Q8_0", "llamacpp:Q4_K_M")


def weight_bytes(model) -> int:
    """Bytes of every distinct parameter and buffer; a torchao tensor by its inner (packed) tensors."""
    from vreason.models.quantize import is_quantized_weight

    seen, total = set(), 0
    for _, t in [*model.named_parameters(), *model.named_buffers()]:
        if id(t) in seen:
            continue
        seen.add(id(t))
        if is_quantized_weight(t):
            names, _ = t.__tensor_flatten__()
            total += sum(getattr(t, n).nbytes for n in names)
        else:
            total += t.nbytes
    return total


# -- arms (each in its own process) ------------------------------------------------------------------------------
def measure(vr, new_tokens: int) -> dict:
    """The shared harness over a `VReason` (local engine or OpenVINO backend)."""
    sampling = dict(temperature=0, max_new_tokens=new_tokens, ignore_eos=True)
    vr.ask_many([(noise(THROUGHPUT_SIZE, 0), QUESTION)], **sampling)  # warm-up
    ttft = []
    for r in range(3):
        start = time.perf_counter()
        vr.ask(noise(TTFT_SIZE, 90_000 + r), QUESTION, temperature=0, max_new_tokens=1)
        ttft.append(time.perf_counter() - start)
    one = vr.ask(noise(THROUGHPUT_SIZE, 1), QUESTION, **sampling)
    items = [(noise(THROUGHPUT_SIZE, 100 + i), QUESTION) for i in range(CONCURRENT)]
    start = time.perf_counter()
    answers = vr.ask_many(items, **sampling)
    wall = time.perf_counter() - start
    return {
        "ttft_s": statistics.median(ttft),
        "tok_s_1": (one.usage.completion_tokens - 1) / max(one.timings.decode_s, 1e-9),
        "tok_s_8": sum(a.usage.completion_tokens for a in answers) / wall,
    }


def arm_vreason(model_dir: Path, variant: str, new_tokens: int) -> dict:
    from vreason import VReason

    options = {"fp32": {"dtype": "float32"}, "bf16": {"dtype": "bfloat16"}, "int8": {"quantize": "int8"},
               "int4": {"quantize": "int4"}}[variant]
    import torch  # noqa: F401  (imports are not load time)
    import transformers  # noqa: F401

    start = time.perf_counter()
    vr = VReason(str(model_dir), device="cpu", **options)
    load_s = time.perf_counter() - start
    model = vr.engine.loaded.model
    out = {"load_s": load_s, "weights_mb": weight_bytes(model) / 2**20, "dtype": vr.engine.loaded.placement.dtype_name}
    out.update(measure(vr, new_tokens))
    vr.close()
    return {**out, "peak_rss_mb": peak_rss_mb()}


def arm_openvino(model_dir: Path, weights: str, new_tokens: int) -> dict:
    try:
        from vreason.engine.backends.openvino import OpenVINOConfig, OpenVINOEngine
        from vreason.engine.backends.openvino_export import export_openvino
    except ImportError as err:
        return {"skipped": f"OpenVINO backend not importable ({err})"}
    from vreason import VReason

    out_dir = CACHE / "edge-ov" / f"{model_dir.name}-{weights}"
    export_s = None
    if not (out_dir / "vreason-openvino.json").exists() and not any(out_dir.glob("*.xml")):
        report = export_openvino(str(model_dir), out_dir, weights=weights)
        export_s = report.seconds
    start = time.perf_counter()
    engine = OpenVINOEngine(out_dir, OpenVINOConfig(concurrency=CONCURRENT))
    load_s = time.perf_counter() - start
    vr = VReason(engine=engine)
    size = sum(f.stat().st_size for f in out_dir.glob("*.bin"))
    out = {"load_s": load_s, "weights_mb": size / 2**20, "export_s": export_s, "dtype": weights}
    out.update(measure(vr, new_tokens))
    vr.close()
    return {**out, "peak_rss_mb": peak_rss_mb()}


def llama_files(model_dir: Path, quant: str) -> tuple[Path, Path] | str:
    """(model gguf, mmproj gguf), converted once; or why not."""
    server = LLAMA / "build" / "bin" / "llama-server"
    if not server.exists():
        return "llama-server not built (scripts/setup_llama_cpp.sh)"
    GGUF.mkdir(parents=True, exist_ok=True)
    python = LLAMA / "venv" / "bin" / "python"  # the converter's environment (gguf-py, sentencepiece)
    env = {**os.environ, "PYTHONPATH": str(LLAMA / "src" / "gguf-py")}
    convert = [str(python if python.exists() else sys.executable), str(LLAMA / "src" / "convert_hf_to_gguf.py"),
               str(model_dir)]
    f16, mmproj = GGUF / f"{model_dir.name}-f16.gguf", GGUF / f"{model_dir.name}-mmproj-f16.gguf"
    for target, extra in ((f16, []), (mmproj, ["--mmproj"])):
        if not target.exists():
            done = subprocess.run([*convert, "--outtype", "f16", "--outfile", str(target), *extra],
                                  capture_output=True, text=True, env=env)
            if done.returncode != 0:
                return f"convert_hf_to_gguf.py failed: {done.stderr.strip().splitlines()[-1][:200]}"
    quantized = GGUF / f"{model_dir.name}-{quant}.gguf"
    if not quantized.exists():
        done = subprocess.run([str(LLAMA / "build" / "bin" / "llama-quantize"), str(f16), str(quantized), quant],
                              capture_output=True, text=True)
        if done.returncode != 0:
            return f"llama-quantize failed: {done.stderr.strip().splitlines()[-1][:200]}"
    return quantized, mmproj


def arm_llamacpp(model_dir: Path, quant: str, new_tokens: int) -> dict:
    import base64
    import io
    import socket
    from concurrent.futures import ThreadPoolExecutor

    from openai import OpenAI

    files = llama_files(model_dir, quant)
    if isinstance(files, str):
        return {"skipped": files}
    model, mmproj = files
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    from vreason.models.placement import physical_cores

    start = time.perf_counter()
    server = subprocess.Popen(
        [str(LLAMA / "build" / "bin" / "llama-server"), "-m", str(model), "--mmproj", str(mmproj), "--host",
         "127.0.0.1", "--port", str(port), "-np", str(CONCURRENT), "-c", str(4096 * CONCURRENT), "-t",
         str(physical_cores()), "--no-warmup"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    client = OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="none", max_retries=0, timeout=600)
    try:
        while True:
            if server.poll() is not None:
                return {"skipped": f"llama-server exited: {server.stderr.read().strip().splitlines()[-1][:200]}"}
            try:
                client.models.list()
                break
            except Exception:
                time.sleep(0.2)
        load_s = time.perf_counter() - start

        def ask(image, tokens: int) -> tuple[float, int, float | None]:
            buf = io.BytesIO()
            image.save(buf, format="PNG")
            url = "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()
            began = time.perf_counter()
            reply = client.chat.completions.create(
                model="m", temperature=0, max_tokens=tokens,
                messages=[{"role": "user", "content": [{"type": "image_url", "image_url": {"url": url}},
                                                       {"type": "text", "text": QUESTION}]}],
                extra_body={"ignore_eos": True},
            )
            timings = (reply.model_extra or {}).get("timings") or {}
            return time.perf_counter() - began, reply.usage.completion_tokens, timings.get("predicted_per_second")

        ask(noise(THROUGHPUT_SIZE, 0), new_tokens)  # warm-up
        ttft = statistics.median(ask(noise(TTFT_SIZE, 90_000 + r), 1)[0] for r in range(3))
        _, _, tok_s_1 = ask(noise(THROUGHPUT_SIZE, 1), new_tokens)
        began = time.perf_counter()
        with ThreadPoolExecutor(CONCURRENT) as pool:
            done = list(pool.map(lambda i: ask(noise(THROUGHPUT_SIZE, 100 + i), new_tokens), range(CONCURRENT)))
        tok_s_8 = sum(d[1] for d in done) / (time.perf_counter() - began)
        rss = _rss_mb(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=30)
    size = (model.stat().st_size + mmproj.stat().st_size) / 2**20
    return {"load_s": load_s, "weights_mb": size, "dtype": quant, "ttft_s": ttft, "tok_s_1": tok_s_1,
            "tok_s_8": tok_s_8, "peak_rss_mb": rss}


def _rss_mb(pid: int) -> float:
    """The server's peak RSS (VmHWM) while it still runs."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def run_arm(arm: str, model_dir: Path, new_tokens: int) -> dict:
    kind, variant = arm.split(":")
    fn = {"vreason": arm_vreason, "openvino": arm_openvino, "llamacpp": arm_llamacpp}[kind]
    return fn(model_dir, variant, new_tokens)


# -- models ------------------------------------------------------------------------------------------------------
def build_models(names: list[str]) -> None:
    from vreason.models.scratch import ScratchSizes, build_scratch_checkpoint

    sizes = {
        "tiny": ScratchSizes(text_hidden=128, text_layers=4, text_heads=4, text_kv_heads=2, head_dim=32,
                             text_intermediate=384, vision_depth=2, vision_hidden=64, vision_heads=2,
                             vision_intermediate=128),  # serve_bench's model
        "mid": ScratchSizes(text_hidden=1024, text_layers=16, text_heads=16, text_kv_heads=8, head_dim=64,
                            text_intermediate=3072, vision_depth=8, vision_hidden=512, vision_heads=8,
                            vision_intermediate=2048, deepstack_indexes=(1, 3, 5)),
    }
    for name in names:
        if not (MODELS[name] / "config.json").exists():
            build_scratch_checkpoint(MODELS[name], sizes=sizes[name])


# -- quality -----------------------------------------------------------------------------------------------------
def quality(easy_vqa_limit: int, per_kind: int, arms: tuple[str | None, ...] = (None, "int8", "int4")) -> list[dict]:
    import tempfile

    from vreason import VReason
    from vreason.eval import evaluate as evaluate_dataset
    from vreason.eval import load_dataset
    from vreason.train.demo_data import write_shapes_eval
    from vreason.train.demo_eval import EVAL_SEED
    from vreason.train.qa_eval import evaluate

    rows, reference = [], None
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        write_shapes_eval(data, per_kind, seed=EVAL_SEED)
        shapes = [json.loads(line) for line in (data / "eval.jsonl").read_text().splitlines()]
        dataset = load_dataset("easy-vqa:test", limit=easy_vqa_limit)
        prompts = [(item.images[0], item.question) for item in dataset[:200]]
        for quantize in (None, *(a for a in arms if a)):
            vr = VReason(device="cpu", quantize=quantize)
            report = evaluate(vr, shapes, data)
            easy = evaluate_dataset(vr, dataset, data / f"easy-{quantize}", data="easy-vqa:test")
            answers = [a.text for a in vr.ask_many(prompts, temperature=0, max_new_tokens=16)]
            reference = reference or answers
            rows.append({
                "arm": quantize or "float32",
                "easy_vqa": easy.metrics["exact_match"], "easy_vqa_n": easy.metrics["count"],
                "count": report["count"]["exact_match"], "position": report["position"]["exact_match"],
                "agreement": sum(a == b for a, b in zip(answers, reference, strict=True)) / len(answers),
            })
            vr.close()
    return rows


# -- orchestration -----------------------------------------------------------------------------------------------
def launch(arm: str, model: str, new_tokens: int) -> dict:
    command = [sys.executable, str(Path(__file__).resolve()), "--worker", arm, "--model-dir", str(MODELS[model]),
               "--new-tokens", str(new_tokens)]
    env = {**os.environ, "TRANSFORMERS_VERBOSITY": "error", "TOKENIZERS_PARALLELISM": "false"}
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=3600)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return {"skipped": f"failed: {tail[:200]}"}
    return json.loads(lines[-1])


def fmt(value, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def table(results: list[tuple[str, str, dict]], header: str) -> str:
    lines = [header, "",
             "| model | arm | weights | load s | weights MiB | TTFT 512² s | tok/s @1 | tok/s @8 | peak RSS MiB |",
             "|---|---|---|---:|---:|---:|---:|---:|---:|"]
    for model, arm, r in results:
        if "skipped" in r:
            lines.append(f"| {model} | {arm} | - | | | | | | {r['skipped']} |")
            continue
        lines.append(
            f"| {model} | {arm} | {r.get('dtype', '')} | {fmt(r['load_s'], '.2f')} | {fmt(r['weights_mb'], '.1f')} | "
            f"{fmt(r['ttft_s'], '.3f')} | {fmt(r['tok_s_1'], '.1f')} | {fmt(r['tok_s_8'], '.1f')} | "
            f"{fmt(r['peak_rss_mb'], '.0f')} |"
        )
    return "\n".join(lines)


def quality_table(rows: list[dict]) -> str:
    lines = ["| demo model | easy-VQA exact match | shapes count | shapes position | greedy agreement with fp32 "
             "(200) |", "|---|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['arm']} | {r['easy_vqa']:.4f} (n={r['easy_vqa_n']}) | {r['count']:.3f} | "
                     f"{r['position']:.3f} | {r['agreement']:.3f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["tiny", "mid"], choices=list(MODELS))
    parser.add_argument("--arms", nargs="+", default=list(ALL_ARMS))
    parser.add_argument("--new-tokens", type=int, default=32)
    parser.add_argument("--quality", action="store_true")
    parser.add_argument("--easy-vqa-limit", type=int, default=1000)
    parser.add_argument("--per-kind", type=int, default=100)
    parser.add_argument("--results", type=Path, default=None)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--model-dir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(run_arm(args.worker, args.model_dir, args.new_tokens)), flush=True)
        return

    from vreason.models.placement import cpu_summary, physical_cores

    build_models(args.models)
    header = (f"CPU: {cpu_summary(SHOWN_FLAGS)}, {physical_cores()} physical cores; {os.cpu_count()} CPUs; "
              f"load average {os.getloadavg()[0]:.1f} at start")
    print(header, flush=True)
    results = []
    for model in args.models:
        for arm in args.arms:
            r = launch(arm, model, args.new_tokens)
            print(model, arm, json.dumps(r), flush=True)
            results.append((model, arm, r))
    report = table(results, header)
    print(report)
    if args.quality:
        rows = quality(args.easy_vqa_limit, args.per_kind)
        report += "\n\n" + quality_table(rows)
        print(quality_table(rows))
    if args.results:
        command = " ".join(["benchmarks/edge_bench.py", *sys.argv[1:]])
        with args.results.open("a") as f:
            f.write(f"\n## Edge benchmark ({time.strftime('%Y-%m-%d')}): `{command}`\n\n{report}\n")


if __name__ == "__main__":
    main()
