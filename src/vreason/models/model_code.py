"""Import the model code (torch, transformers' Qwen3-VL modules) once per process, with the cyclic GC paused.

Contract: `import_model_code()` leaves torch, transformers' Auto classes and its Qwen3-VL configuration,
modeling and processing modules imported (`import_model_code(("torch",))`: torch alone, for models/native);
the first call in a process does the importing, later calls return at once. Nothing else about the garbage
collector changes for the rest of the process, except that the objects alive when the first import ends (~450k:
the modules, their functions, classes and tables) sit in the permanent generation (`gc.freeze()`).

Why: the imports create ~450k container objects, and the cyclic collector walks all survivors on each full
collection it triggers along the way: ~1 s of the ~4.5 s of CPU these imports take on a 2-core EPYC (one full
collection over them costs ~0.2 s). Paused, the imports run without those walks; frozen afterwards, every later
full collection (while serving, and the one at interpreter exit) skips objects that live as long as the process
anyway. One full collection before the freeze (~0.2 s) clears the imports' garbage (~150 objects, among them
tracebacks whose frames link to the caller's frames: frozen, they would keep a loaded model alive for good).
Only the import is paused, not the model's construction: objects created afterwards are collected as usual,
so a process that loads many models (tests, the evaluation harness) frees them as before. The pause is
process-wide: `load_model` runs before an engine's worker threads start, which is where this belongs.

transformers 5 imports torch._dynamo, torch.distributed.tensor, torchvision, scipy.optimize and torchao from its
modeling code unconditionally (masking_utils, core_model_loading, loss utils, quantizers): those imports are
the bulk of the start-up time and cannot be skipped from here without patching transformers.

One of them is kept out where it can do nothing: torch._dynamo imports Triton (a compiler of GPU kernels) when it
is installed, which maps its 70 MiB library into every process. With no CUDA device visible when the model
code is first imported, `triton` is marked absent (`sys.modules["triton"] = None`: every `import triton` raises
ImportError, which torch, torchao and transformers treat as "not installed"; torch.compile on the CPU generates
C++ and does not use it). ~75 MiB less resident and ~0.15 s less start-up on a CPU machine. A process that has
imported Triton already, or sets VREASON_KEEP_TRITON=1, keeps it.
"""

from __future__ import annotations

import gc
import importlib
import os
import sys

# What loading a Qwen3-VL checkpoint imports: the last one is the heaviest and implies most of the others.
MODEL_CODE = (
    "torch",
    "transformers",
    "transformers.models.qwen3_vl.configuration_qwen3_vl",
    "transformers.models.qwen3_vl.modeling_qwen3_vl",
)


def import_model_code(modules: tuple[str, ...] = MODEL_CODE) -> None:
    """`modules` in order (torch first), the GC paused; the native model code (models/native) asks for torch
    alone. Later calls import only what is not imported yet, paused again."""
    if all(name in sys.modules for name in modules):
        return
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        import torch

        if not torch.cuda.is_available() and "triton" not in sys.modules and not os.environ.get("VREASON_KEEP_TRITON"):
            sys.modules["triton"] = None  # type: ignore[assignment]  # see the module docstring
        for name in modules:
            importlib.import_module(name)
        # The imports' garbage first: it holds tracebacks whose frames reach the callers' frames (and so, once
        # those return, whatever they held: a model). Frozen, it would keep all that alive for good. Only on
        # success: a failed import's traceback is alive while it is raised, and must not be frozen.
        gc.collect()
        gc.freeze()
    finally:
        if was_enabled:
            gc.enable()
