"""vreason: visual reasoning on Qwen3-VL checkpoints.

    from vreason import VReason
    vr = VReason()                      # the built-in demo model; VReason("Qwen/Qwen3-VL-8B-Instruct") for the real one
    answer = vr.ask("photo.png", "What is in the image?")
    print(answer.text)

The heavy imports (torch, transformers) happen on first use of `VReason`, so `import vreason` stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from vreason.errors import InvalidRequestError, MediaError, ModelLoadError, VReasonError

__version__ = "0.1.0"

__all__ = [
    "Answer",
    "AsyncVReason",
    "InvalidRequestError",
    "MediaError",
    "ModelLoadError",
    "SamplingParams",
    "VReason",
    "VReasonError",
    "__version__",
]

if TYPE_CHECKING:
    from vreason.api import VReason
    from vreason.async_api import AsyncVReason
    from vreason.engine.sampling import SamplingParams
    from vreason.engine.types import Answer

_LAZY = {
    "VReason": "vreason.api",
    "AsyncVReason": "vreason.async_api",
    "SamplingParams": "vreason.engine.sampling",
    "Answer": "vreason.engine.types",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'vreason' has no attribute {name!r}")
