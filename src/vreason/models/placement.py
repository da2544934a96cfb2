"""Where a model runs and in which precision: device auto (cuda -> mps -> cpu) and dtype auto.

dtype auto is bfloat16 on CUDA (float16 on GPUs without bf16), float16 on Apple MPS. On CPU it depends on the
model's size: small models (float32 weights up to CPU_FLOAT32_MAX_BYTES) run in float32, because on CPUs without
native bf16 matmul (AVX2) the batching engine's matrix products (many rows at once: prefill, batched decode)
were measured 2-4x faster in float32; larger ones run in bfloat16, which halves their memory (and one request at
a time, bound by memory traffic, also decodes faster in bf16: 1.7x, `benchmarks/cpu_dtype.py`).
`--dtype` overrides.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from vreason.errors import InvalidRequestError, ModelLoadError

if TYPE_CHECKING:
    import torch

DEVICES = ("auto", "cpu", "cuda", "mps")
DTYPES = ("auto", "bfloat16", "float16", "float32")
QUANTIZATIONS = ("4bit", "8bit")
CPU_FLOAT32_MAX_BYTES = 2 << 30


@dataclass(frozen=True)
class Placement:
    device: str  # "cpu", "cuda", "cuda:1", "mps"
    dtype_name: str  # "bfloat16", "float16" or "float32"
    reason: str  # one line saying why, shown by the CLI

    @property
    def dtype(self) -> torch.dtype:
        import torch

        return getattr(torch, self.dtype_name)


def choose_placement(device: str = "auto", dtype: str = "auto", float32_bytes: int | None = None) -> Placement:
    """`float32_bytes`: the model's weights in float32, when known (decides the CPU dtype)."""
    import torch

    base = device.split(":", 1)[0]
    if base not in DEVICES:
        raise InvalidRequestError(f"device ({device!r}) must be one of {', '.join(DEVICES)} (or cuda:N)")
    if dtype not in DTYPES:
        raise InvalidRequestError(f"dtype ({dtype!r}) must be one of {', '.join(DTYPES)}")
    if base == "auto":
        if torch.cuda.is_available():
            device = "cuda"
        elif getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            device = "mps"
        else:
            device = "cpu"
        base = device
    if base == "cuda" and not torch.cuda.is_available():
        raise ModelLoadError("--device cuda was asked for, but torch sees no CUDA GPU (use --device cpu)")
    if base == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ModelLoadError("--device mps was asked for, but this machine has no Apple MPS backend")
    if dtype != "auto":
        return Placement(device, dtype, f"{dtype} as requested")
    if base == "cuda":
        if torch.cuda.is_bf16_supported():
            return Placement(device, "bfloat16", "bfloat16: the precision Qwen3-VL was trained in")
        return Placement(device, "float16", "float16: this GPU has no bfloat16 support")
    if base == "mps":
        return Placement(device, "float16", "float16: the fastest precision on Apple MPS")
    if float32_bytes is not None and float32_bytes <= CPU_FLOAT32_MAX_BYTES:
        return Placement(device, "float32", "float32: a small model; batched CPU matmuls measured faster than bf16")
    return Placement(device, "bfloat16", "bfloat16: halves a large model's memory on CPU")
