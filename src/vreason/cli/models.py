"""`vreason models`: the known Qwen3-VL checkpoints and what they need in memory."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from vreason.models.demo import DEMO_MODEL_NAME, demo_is_trained
from vreason.models.presets import KV_CONTEXT_TOKENS, PRESETS


def models(
    as_json: Annotated[bool, typer.Option("--json", help="Print the table as JSON.")] = False,
) -> None:
    """List Qwen3-VL presets with memory estimates (any other Qwen3-VL hub id or local directory works too)."""
    rows = []
    for p in PRESETS:
        rows.append({
            "name": p.name,
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
    table.add_column("--model (hub id)", no_wrap=True)
    for col in ("params", "memory", "4-bit"):
        table.add_column(col, justify="right", no_wrap=True)
    for r in rows:
        four = "-" if r["memory_4bit_gib"] is None else f"{r['memory_4bit_gib']:.1f} GiB"
        table.add_row(r["hub_id"], f"{r['params_b']:g}B", f"{r['memory_gib']:.1f} GiB", four)
    console = Console()
    console.print(table)
    state = "shipped" if demo_is_trained() else "missing from this install"
    console.print(f"Default without --model: {DEMO_MODEL_NAME} (tiny, shapes and colours only, {state}).")
