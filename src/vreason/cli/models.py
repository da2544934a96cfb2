"""`vreason models [--cached] [--system] [--json]`: the known Qwen3-VL checkpoints, what is on disk, this machine.

Without --cached: every preset (short name, hub id, memory estimate) and the edge presets (`--preset NAME`: a
small model with int4/int8 weights, a lower pixel cap, bounded caches and queue, estimated memory). With
--cached: the model repos in the local Hugging Face cache (read from disk, no network), each with its short
name when it is a preset and whether vreason can load it. With --system: the CPU (model, the flags that
decide the engine's kernels) and the engine's CPU defaults on it (threads, dtype, output-projection copy), why.
"""

from __future__ import annotations

import json
import os
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from vreason.models.demo import DEMO_MODEL_NAME, demo_is_trained
from vreason.models.presets import EDGE_ALIASES, EDGE_PRESETS, KV_CONTEXT_TOKENS, PRESETS

GiB = 1024**3
PIPED_WIDTH = 120


def models(
    cached: Annotated[bool, typer.Option("--cached", help="List the models already in the local Hugging Face "
                                         "cache (no network).")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the table as JSON.")] = False,
    system: Annotated[
        bool,
        typer.Option("--system", help="Print this machine's CPU (model, relevant flags) and the engine's CPU "
                     "defaults (threads, dtype, head copy) with why."),
    ] = False,
) -> None:
    """List Qwen3-VL presets by short name with memory estimates (any other Qwen3-VL hub id or local directory
    works too) and the edge presets, or with --cached what is already downloaded, or with --system this CPU."""
    if system:
        _system(as_json)
        return
    if cached:
        _cached(as_json)
        return
    rows = []
    for p in PRESETS:
        rows.append({
            "name": p.name,
            "alias": p.alias,
            "hub_id": p.hub_id,
            "kind": "thinking" if p.thinking else "instruct",
            "params_b": p.arch.params_b,
            "precision": "fp8" if p.fp8 else "bf16",
            "memory_gib": round(p.memory_gib(), 1),
            "memory_4bit_gib": None if p.fp8 else round(p.memory_gib("4bit"), 1),
        })
    # Edge presets: rows of kind "edge" in the same list (--json), their own table below the checkpoints.
    edge = [
        {"name": e.name, "alias": None, "hub_id": e.base.hub_id, "kind": "edge", "params_b": e.base.arch.params_b,
         "precision": e.quantize, "memory_gib": round(e.memory_gib(), 1), "memory_is_estimate": True,
         "model": e.model, "max_pixels": e.max_pixels, "threads": "physical cores",
         "max_batch_size": e.max_batch_size, "max_kv_tokens": e.max_kv_tokens, "max_waiting": e.max_waiting}
        for e in EDGE_PRESETS
    ]
    if as_json:
        print(json.dumps(rows + edge, indent=1))
        return
    table = Table(title=f"Qwen3-VL checkpoints: memory = weights + KV cache for {KV_CONTEXT_TOKENS} tokens + 10%")
    table.add_column("--model", no_wrap=True)
    table.add_column("hub id (works too)", overflow="fold")
    for col in ("params", "memory", "4-bit"):
        table.add_column(col, justify="right", no_wrap=True)
    for r in rows:
        four = "-" if r["memory_4bit_gib"] is None else f"{r['memory_4bit_gib']:.1f} GiB"
        table.add_row(r["alias"] or r["name"], r["hub_id"], f"{r['params_b']:g}B", f"{r['memory_gib']:.1f} GiB", four)
    console = _console()
    console.print(table)
    _print_edge(console, edge)
    state = "shipped" if demo_is_trained() else "missing from this install"
    console.print(
        "qwen3-vl-SIZE is short for qwen3-vl-SIZE-instruct. "
        f"Default without --model: {DEMO_MODEL_NAME} (tiny, shapes and colours only, {state}). "
        "`vreason models --cached` lists what is already downloaded.", markup=False, highlight=False,
    )


def _console() -> Console:
    """A terminal's own width; piped, wide enough that hub ids are not cut (rich would assume 80 columns)."""
    console = Console()
    return console if console.is_terminal else Console(width=max(console.width, PIPED_WIDTH))


def _cached(as_json: bool) -> None:
    from vreason.models.hub_cache import cache_dir, cached_models
    from vreason.models.loader import SUPPORTED_MODEL_TYPES

    found = cached_models()
    if as_json:
        print(json.dumps({"cache_dir": cache_dir(), "models": [m.to_dict() for m in found]}, indent=1))
        return
    console = _console()
    if not found:
        console.print(f"No models in the Hugging Face cache ({cache_dir()}). A hub id or short name given to "
                      "--model is downloaded there on first use; `vreason models` lists the short names.",
                      markup=False, highlight=False)
        return
    table = Table(title=f"Models in the Hugging Face cache ({cache_dir()})")
    for col in ("--model", "size", "files", "vreason can load it"):
        table.add_column(col, no_wrap=col != "vreason can load it", justify="right" if col in ("size", "files")
                         else "left")
    for m in found:
        if m.model_type in SUPPORTED_MODEL_TYPES and m.has_safetensors:
            usable = "yes"
        elif m.model_type in SUPPORTED_MODEL_TYPES:
            usable = "no: no *.safetensors (incomplete download?)"
        else:
            usable = f"no: {m.model_type or 'no config.json'}, not Qwen3-VL"
        name = f"{m.short_name} ({m.hub_id})" if m.short_name else m.hub_id
        table.add_row(name, f"{m.size_bytes / GiB:.2f} GiB", str(m.files), usable)
    console.print(table)


def _print_edge(console: Console, edge: list[dict]) -> None:
    alias = ", ".join(f"{a} = {n}" for a, n in EDGE_ALIASES.items())
    table = Table(title=f"Edge presets (--preset NAME; {alias}): CPU, quantized weights, bounded serving")
    for col in ("--preset", "model", "weights", "pixel cap", "batch / queue", "KV tokens", "memory (est.)"):
        table.add_column(col, no_wrap=True, justify="right" if col in ("pixel cap", "KV tokens") else "left")
    for e in edge:
        side = int(e["max_pixels"] ** 0.5)
        table.add_row(e["name"], e["model"], e["precision"], f"{side}x{side}", f"{e['max_batch_size']} / "
                      f"{e['max_waiting']}", str(e["max_kv_tokens"]), f"{e['memory_gib']:.1f} GiB")
    console.print(table)
    console.print("Edge memory is an estimate (weights + KV at the preset's bound + caches + 10%); threads = "
                  "physical cores. Measured RSS of the tiny and mid-size models: benchmarks/RESULTS.md.",
                  markup=False, highlight=False)


def _torch_build_hint(torch) -> str:
    """Advice where torch is a GPU build on a machine without that GPU: its libraries cost memory and start-up."""
    if (torch.version.cuda or torch.version.hip) and not torch.cuda.is_available():
        return ("this torch is a GPU build and sees no GPU: on a machine without one, torch's CPU build "
                "(pip install torch --index-url https://download.pytorch.org/whl/cpu) kept ~250-350 MB less "
                "resident and imported ~0.5 s faster on a 2-core Xeon (benchmarks/RESULTS.md)")
    return ""


def _system(as_json: bool) -> None:
    import torch

    from vreason.models.placement import SYSTEM_FLAGS, cpu_defaults, cpu_flags, cpu_model, physical_cores

    flags = cpu_flags()
    defaults = cpu_defaults()
    info = {
        "cpu": cpu_model(),
        "physical_cores": physical_cores(),
        "logical_cpus": os.cpu_count(),
        "flags": {flag: flag in flags for flag in SYSTEM_FLAGS},
        "torch": torch.__version__,
        "cuda": torch.cuda.is_available(),
        "torch_build": "cuda" if torch.version.cuda else "rocm" if torch.version.hip else "cpu",
        "torch_build_hint": _torch_build_hint(torch),
        "defaults": {
            "threads": defaults.threads, "threads_why": defaults.threads_why,
            "dtype": defaults.dtype, "dtype_why": defaults.dtype_why,
            "head_copy": defaults.head_copy, "head_copy_why": defaults.head_copy_why,
        },
    }
    if as_json:
        print(json.dumps(info, indent=1))
        return
    has = [f for f, on in info["flags"].items() if on]
    lacks = [f for f, on in info["flags"].items() if not on]
    lines = [
        f"CPU: {info['cpu']} ({info['physical_cores']} physical cores, {info['logical_cpus']} logical CPUs)",
        f"flags: {', '.join(has) or 'none of ' + ', '.join(SYSTEM_FLAGS)}" + (f"; lacks {', '.join(lacks)}"
                                                                           if lacks else ""),
        f"torch {info['torch']}, CUDA {'available' if info['cuda'] else 'not available'}",
        *([f"  {info['torch_build_hint']}"] if info["torch_build_hint"] else []),
        "engine CPU defaults:",
        f"  threads: {defaults.threads} - {defaults.threads_why}",
        f"  dtype: {defaults.dtype} - {defaults.dtype_why}",
        f"  output-projection copy: {'yes' if defaults.head_copy else 'no'} - {defaults.head_copy_why}",
        "  --quantize int8|int4: torchao weight-only (int4 runs in bfloat16); see `vreason quantize --help`",
    ]
    print("\n".join(lines))
