"""A video's frames, already at the model's size -> the vision tower's `pixel_values_videos`, in torch.

Qwen3-VL's video processor (transformers' Qwen3VLVideoProcessor, called with do_resize=False: the frames arrive
at the model's size from media/video_*.py) casts the frames to float32, subtracts the mean and divides by the
standard deviation, both scaled by 1 / rescale_factor (its fused rescale-and-normalize, through torchvision's
normalize), repeats the last frame up to a whole temporal patch, and reorders the result into (temporal
patches x patches, channels * temporal * patch * patch) rows. `VideoPatchSpec.video_patches` does the same ops in
the same order, so the rows are bit for bit the processor's (tests/unit/test_native_processor.py), without
importing transformers or torchvision: a served video costs no import at its first request.

`VideoPatchSpec.from_processor` returns None for a processor this does not reproduce (another class, rescale or
normalize switched off): the caller then calls the processor itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from vreason.engine.image_patches import normalization

# Processor classes (transformers' and models/native/processor.py's settings of it) reproduced here.
_QWEN_VIDEO_PROCESSORS = frozenset({"Qwen3VLVideoProcessor", "NativeVideoProcessor"})


@dataclass(frozen=True)
class VideoPatchSpec:
    patch: int
    merge: int
    temporal: int
    mean: tuple[float, ...]  # image_mean, image_std and rescale_factor as the processor holds them
    std: tuple[float, ...]
    rescale: float

    @classmethod
    def from_processor(cls, video_processor: Any) -> VideoPatchSpec | None:
        settings = normalization(video_processor, _QWEN_VIDEO_PROCESSORS)
        if settings is None:
            return None
        mean, std, rescale = settings
        return cls(
            patch=int(video_processor.patch_size),
            merge=int(video_processor.merge_size),
            temporal=int(video_processor.temporal_patch_size),
            mean=mean,
            std=std,
            rescale=rescale,
        )

    def video_patches(self, frames: np.ndarray) -> tuple[torch.Tensor, tuple[int, int, int]]:
        """frames (T, H, W, 3) uint8, H and W multiples of patch * merge -> (pixel rows, grid (t, h, w))."""
        x = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).to(torch.float32)  # (T, C, H, W)
        mean = torch.tensor(self.mean) * (1.0 / self.rescale)
        std = torch.tensor(self.std) * (1.0 / self.rescale)
        x = x.sub_(mean.view(-1, 1, 1)).div_(std.view(-1, 1, 1))
        if pad := -x.shape[0] % self.temporal:
            x = torch.cat((x, x[-1:].expand(pad, -1, -1, -1)))
        frames_count, channels, height, width = x.shape
        p, m, tp = self.patch, self.merge, self.temporal
        gt, gh, gw = frames_count // tp, height // p, width // p
        x = x.view(gt, tp, channels, gh // m, m, p, gw // m, m, p).permute(0, 3, 6, 4, 7, 2, 1, 5, 8)
        return x.reshape(gt * gh * gw, channels * tp * p * p), (gt, gh, gw)
