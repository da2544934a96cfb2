"""`vreason quantize MODEL --to DIR --bits 4|8`: quantize a checkpoint's weights once and save them.

The checkpoint (hub id, short name, local directory, or `vreason-demo` for the built-in model) is loaded on
CPU, its language model's linears quantized with torchao (int8: float32 or bfloat16 activations as the CPU
placement chooses; int4: bfloat16, see models/quantize.py) and written to DIR as safetensors with the
processor and a `vreason-quantization.json` manifest. `--model DIR` on any command then loads the quantized
weights as stored, without quantizing again (and without the float weights ever in memory).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from vreason.errors import InvalidRequestError

BITS = {4: "int4", 8: "int8"}


def quantize(
    checkpoint: Annotated[
        str,
        typer.Argument(
            metavar="MODEL", help="Hub id, short name or local directory; vreason-demo for the built-in demo model."
        ),
    ],
    to: Annotated[Path, typer.Option("--to", help="Directory to write the quantized checkpoint to.")],
    bits: Annotated[int, typer.Option("--bits", help="4 (int4, groups of 128) or 8 (int8, per row).")] = 4,
) -> None:
    """Quantize a Qwen3-VL checkpoint to int4 or int8 weights for CPU and save it (safetensors)."""
    from vreason.models.demo import DEMO_MODEL_NAME
    from vreason.models.loader import LoadSpec, load_model
    from vreason.models.quantize import MANIFEST, quantize_model, read_plan, require_torchao, save_quantized

    if bits not in BITS:
        raise InvalidRequestError(f"--bits ({bits}) must be 4 or 8")
    if to.exists() and (not to.is_dir() or any(to.iterdir())):
        raise InvalidRequestError(f"--to {to} exists and is not an empty directory")
    source = None if checkpoint == DEMO_MODEL_NAME else checkpoint
    if source is not None and Path(source).is_dir() and read_plan(source) is not None:
        raise InvalidRequestError(f"{checkpoint} is already quantized ({MANIFEST}); quantize the original checkpoint")
    require_torchao()
    method = BITS[bits]
    started = time.perf_counter()
    loaded = load_model(LoadSpec(model=source, device="cpu", dtype="bfloat16" if method == "int4" else "auto"))
    plan = quantize_model(loaded.model, method)
    out = save_quantized(loaded.model, loaded.processor, plan, to)
    size = sum(f.stat().st_size for f in out.glob("*.safetensors"))
    typer.echo(
        f"{loaded.name}: {plan.linears} linears quantized to {method} ({plan.library}, runs in {plan.dtype}); "
        f"{size / 2**20:.1f} MiB of weights in {out} ({time.perf_counter() - started:.1f}s). "
        f"Use it with --model {out}"
    )
