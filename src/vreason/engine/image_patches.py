"""An image already at the model's pixel budget -> the vision tower's `pixel_values`, in torch, in two passes.

Qwen3-VL's image processor rescales, normalizes and patchifies: it casts the whole picture to float, scales
and shifts it, then reorders it into (patches, channels * temporal * patch * patch) rows, each picture
repeated over the two temporal slots. Here the reorder happens first, on the 8-bit pixels (a quarter of the
bytes), and the cast, the per-channel scale and shift and the temporal repeat are one fused pass over the
float output: 4888 patches of a 1504x832 picture in a third of the processor's time, the same numbers up to
float rounding (tested against the processor).

`PatchSpec.from_processor` reads the settings from a loaded processor and returns None where this path does
not reproduce it (a processor class other than Qwen's, or rescale/normalize switched off): callers then use
the processor itself. `patch_bytes` stops before the cast: the engine keeps a prepared image's patches as bytes
(`PatchBytes`, 3 KiB per Qwen3-VL visual token instead of 24 KiB of float32) until the vision tower runs.
Pictures must already be RGB and at a size the processor would not change (both sides
multiples of patch * merge, area within its bounds: what `PixelBudget` produces).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from PIL import Image

# Processor classes whose rescale -> normalize -> patchify this module reproduces exactly (NativeImageProcessor:
# Qwen2VLImageProcessor's settings read by models/native/processor.py, which makes it for that class only).
_QWEN_PROCESSORS = frozenset({"Qwen2VLImageProcessor", "Qwen2VLImageProcessorFast", "NativeImageProcessor"})


@dataclass(frozen=True)
class PatchSpec:
    patch: int
    merge: int
    temporal: int
    scale: tuple[float, float, float]  # per channel: rescale_factor / std
    shift: tuple[float, float, float]  # per channel: -mean / std

    @classmethod
    def from_processor(cls, image_processor: Any) -> PatchSpec | None:
        settings = normalization(image_processor, _QWEN_PROCESSORS)
        if settings is None:
            return None
        mean, std, rescale = settings
        return cls(
            patch=int(image_processor.patch_size),
            merge=int(image_processor.merge_size),
            temporal=int(image_processor.temporal_patch_size),
            scale=tuple(rescale / s for s in std),
            shift=tuple(-m / s for m, s in zip(mean, std, strict=True)),
        )

    def fits(self, image: Image.Image, processor_size: dict[str, int]) -> bool:
        """True when the processor, given `processor_size`, would neither convert nor resize `image`."""
        side = self.patch * self.merge
        low, high = processor_size.get("shortest_edge", 0), processor_size.get("longest_edge", float("inf"))
        return (
            image.mode == "RGB"
            and image.width % side == 0
            and image.height % side == 0
            and low <= image.width * image.height <= high
        )


def normalization(processor: Any, classes: frozenset[str]) -> tuple[tuple, tuple, float] | None:
    """(image_mean, image_std, rescale_factor) of a processor whose class is one of `classes` and that rescales
    and normalizes three channels: the settings whose ops this module and engine/video_patches.py reproduce;
    None for any other (the caller then calls the processor itself)."""
    if type(processor).__name__ not in classes:
        return None
    if not (getattr(processor, "do_rescale", False) and getattr(processor, "do_normalize", False)):
        return None
    mean, std = tuple(processor.image_mean), tuple(processor.image_std)
    if len(mean) != 3 or len(std) != 3:
        return None
    return mean, std, float(processor.rescale_factor)


@dataclass(frozen=True)
class PatchBytes:
    """An image's patches as its 8-bit pixels, already in the processor's patch order: (patches, channels,
    patch, patch) uint8, an eighth of the float rows' bytes (one temporal slot, one byte a value). What a
    prepared request holds until the runner encodes it; `to_float` gives the vision tower's rows."""

    grouped: torch.Tensor
    spec: PatchSpec

    @property
    def num_patches(self) -> int:
        return self.grouped.shape[0]

    @property
    def row_width(self) -> int:
        """Length of one float row: channels * temporal * patch * patch (the processor's `pixel_values`)."""
        _, channels, p, _ = self.grouped.shape
        return channels * self.spec.temporal * p * p

    def to_float(self, out: torch.Tensor | None = None) -> torch.Tensor:
        """(patches, channels * temporal * patch * patch) float32: the processor's `pixel_values` rows; written
        into `out` (contiguous rows of that shape, e.g. a slice of a vision pass's input) when it is given."""
        patches, channels, p, _ = self.grouped.shape
        # cast, then x * scale + shift per channel on one temporal slot; the repeat is a plain copy (in-place
        # arithmetic on the repeated 30 MB is several times slower than on the 15 MB before it)
        frame = self.grouped.to(torch.float32)
        rows = frame.view(-1, channels, p * p)
        rows.mul_(torch.tensor(self.spec.scale).view(channels, 1)).add_(torch.tensor(self.spec.shift).view(channels, 1))
        if out is None:
            out = torch.empty(patches, self.row_width, dtype=torch.float32)
        repeated = frame.unsqueeze(2).expand(-1, -1, self.spec.temporal, -1, -1)
        out.view(patches, channels, self.spec.temporal, p, p).copy_(repeated)
        return out


def patch_bytes(image: Image.Image, spec: PatchSpec) -> tuple[PatchBytes, tuple[int, int, int]]:
    """(the image's patches as bytes, grid (1, grid_h, grid_w)): the reorder of `image_patches` without the cast."""
    p, m = spec.patch, spec.merge
    # planar (3, H, W) bytes: Pillow splits the bands in C, so the gather below moves rows of `p` bytes
    planes = torch.from_numpy(np.stack([np.asarray(band) for band in image.split()]))
    channels, height, width = planes.shape
    gh, gw = height // p, width // p
    # (gh/m, gw/m, m, m, C, p, p): the processor's patch order, gathered on bytes (a quarter of float's)
    grouped = planes.view(channels, gh // m, m, p, gw // m, m, p).permute(1, 4, 2, 5, 0, 3, 6).contiguous()
    return PatchBytes(grouped.view(gh * gw, channels, p, p), spec), (1, gh, gw)


def image_patches(image: Image.Image, spec: PatchSpec) -> tuple[torch.Tensor, tuple[int, int, int]]:
    """(pixel_values (grid_h * grid_w, 3 * temporal * patch * patch) float32, grid (1, grid_h, grid_w))."""
    packed, grid = patch_bytes(image, spec)
    return packed.to_float(), grid
