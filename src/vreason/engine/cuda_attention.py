"""Which SDPA kernels the engine uses on a GPU: flash and memory-efficient attention, not cuDNN's.

torch picks cuDNN's attention first on Hopper GPUs, and cuDNN builds an execution plan for every new shape and
stride it sees. The engine's shapes change all the time: a decode step reads its rows' KV cache in place up
to a width that grows by one column a step (a strided view of the slots, engine/kv_slots.py), and every prompt
length and image size is a new prefill shape. Measured on an H200 with an 8B-sized Qwen3-VL
(benchmarks/gpu_bench.py --profile, benchmarks/RESULTS.md): 1.16 ms of host time per cuDNN attention call in the
eager decode step (36 a token: ~42 ms of a 77 ms token), against ~60 us where the shape repeats. Flash and
memory-efficient attention have no plan to build: without cuDNN the eager step decoded 2.5x faster at 1
concurrent, and time to first token no longer rises when prompts come in new lengths (109 ms; `generate`
with cuDNN: 142 ms at a repeated length, 182 ms at new ones).

The selection is torch's process-wide setting, and the engine sets it once, when a runner is built on a GPU:
toggled around each step instead, it would race the threads that run the vision tower while preparing media
(which kernel encoded a picture would depend on timing) and the saves and restores of a second engine. Code
beside the engine that wants cuDNN's attention keeps it with VREASON_CUDNN_ATTENTION=1.
"""

from __future__ import annotations

import logging
import os

import torch

logger = logging.getLogger("vreason.engine")


def prefer_plan_free_attention(device: torch.device) -> bool:
    """On CUDA, turn cuDNN's SDPA off for the process (flash, memory-efficient and math attention stay); True
    when it did. Elsewhere, or with VREASON_CUDNN_ATTENTION=1, nothing changes."""
    if device.type != "cuda" or os.environ.get("VREASON_CUDNN_ATTENTION") == "1":
        return False
    if torch.backends.cuda.cudnn_sdp_enabled():
        logger.info("cuDNN attention off for this process: flash / memory-efficient SDPA build no per-shape plans "
                    "(VREASON_CUDNN_ATTENTION=1 keeps cuDNN's)")
        torch.backends.cuda.enable_cudnn_sdp(False)
    return True
