"""The vision tower's patch embedding as one matrix multiply.

Qwen3-VL embeds patches with a Conv3d whose stride equals its kernel (2 x 16 x 16), which is a matmul of
the flattened patches (the processor already hands them over flattened) with the kernel viewed as a
(hidden, channels*2*16*16) matrix: the same weights, the same numbers up to float rounding. On CPU,
oneDNN's convolution is 1.3x slower forward and its weight-gradient pass about 7x slower than the matmul
(140 ms of a 1.3 s demo-model training step for 16 images at 256x256), so every loaded model gets the
matmul. The module, its parameters and the saved checkpoint are unchanged.
"""

from __future__ import annotations

import types
from typing import Any

import torch
import torch.nn.functional as F


def matmul_patch_embed(self: Any, hidden_states: torch.Tensor) -> torch.Tensor:
    """The forward of a patch embedding whose `proj` is the stride-equals-kernel Conv3d, as one matmul (also the
    native vision tower's, models/native/vision.py)."""
    weight = self.proj.weight
    flat = hidden_states.reshape(-1, weight[0].numel()).to(dtype=weight.dtype)
    return F.linear(flat, weight.reshape(weight.shape[0], -1), self.proj.bias)


def use_matmul_patch_embed(model: Any) -> bool:
    """Swap the forward of the model's patch embedding; False when the model has no such Conv3d."""
    visual = getattr(getattr(model, "model", model), "visual", None)
    embed = getattr(visual, "patch_embed", None)
    proj = getattr(embed, "proj", None)
    if not isinstance(proj, torch.nn.Conv3d) or tuple(proj.stride) != tuple(proj.kernel_size) or proj.padding != (
        0, 0, 0
    ):
        return False
    embed.forward = types.MethodType(matmul_patch_embed, embed)
    return True
