"""Which SDPA kernels the engine's model steps use on a GPU: flash and memory-efficient attention, not cuDNN's.

torch picks cuDNN's attention first on Hopper GPUs, and cuDNN builds an execution plan for every new shape and
stride it sees. The engine's shapes change all the time: a decode step reads its rows' KV cache in place up
to a width that grows by one column a step (a strided view of the slots, engine/kv_slots.py), and every prompt
length and image size is a new prefill shape. Measured on an H200 with an 8B-sized Qwen3-VL
(benchmarks/gpu_bench.py --profile, benchmarks/RESULTS.md): 1.16 ms of host time per cuDNN attention call in the
eager decode step (36 a token: ~42 ms of a 77 ms token), against ~60 us where the shape repeats. Flash and
memory-efficient attention have no plan to build: without cuDNN the eager step decoded 2.5x faster at 1
concurrent, and time to first token no longer rises when prompts come in new lengths (109 ms; `generate`
with cuDNN: 142 ms at a repeated length, 182 ms at new ones). The selection is torch's process-wide setting, so
it is set for the duration of each model step only (the engine thread runs them) and restored after.
"""

from __future__ import annotations

import contextlib

import torch


def engine_attention(device: torch.device) -> contextlib.AbstractContextManager:
    """A context for one model step on `device`: on CUDA, SDPA limited to flash, memory-efficient and math
    attention; elsewhere nothing changes."""
    if device.type != "cuda":
        return contextlib.nullcontext()
    from torch.nn.attention import SDPBackend, sdpa_kernel

    return sdpa_kernel([SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION, SDPBackend.MATH])
