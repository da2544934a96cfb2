"""`vreason models [--cached] [--json]`: the known Qwen3-VL checkpoints by short name, and what is on disk.

Without --cached: every preset (short name, hub id, memory estimate). With --cached: the model repos in the
local Hugging Face cache (read from disk, no network), each with its short name when it is a preset and
whether vreason can load it.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from vreason.models.demo import DEMO_MODEL_NAME, demo_is_trained
from vreason.models.presets import KV_CONTEXT_TOKENS, PRESETS

GiB = 1024**3
PIPED_WIDTH = 120


def models(
    cached: Annotated[bool, typer.Option("--cached", help="List the models already in the local Hugging Face "
                                         "cache (no network).")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the table as JSON.")] = False,
) -> None:
    """List Qwen3-VL presets by short name with memory estimates (any other Qwen3-VL hub id or local directory
    works too), or with --cached what is already downloaded."""
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
    if as_json:
        print(json.dumps(rows, indent=1))
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
