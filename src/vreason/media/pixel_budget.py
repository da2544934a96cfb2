"""The Qwen3-VL pixel budget: every image is resized so both sides are multiples of 32 (patch 16 x merge 2)
and its area lies within [min_pixels, max_pixels], keeping the aspect ratio as closely as possible.

A checkpoint may ask for square pictures instead (`square`: its image processor's `square_pictures`, which a
fine-tuning run writes when told to, as the built-in model's recipe does): every picture is then stretched to a
square of about the same area. The built-in model answers boxes in 0-1000 coordinates of the picture, which a
stretch leaves as they are, and it placed them on pictures far from square much worse than on square ones (it
learnt where things are on square pictures; benchmarks/box_aspect_eval.py). Videos keep their aspect ratio
(media/video_budget.py). An upstream that resizes pictures itself (vLLM serving such a checkpoint behind the remote
engine) does not read the key: it sees them in their own shape.

The arithmetic is qwen-vl-utils' `smart_resize`, the reference Qwen ships, restated here (`_smart_resize`,
tested equal to it over a grid of sizes and budgets): its module imports torch and torchvision, ~4 s of a
2-core CPU that a client which never runs a model (`vreason ask --backend openai`, the remote engine, the UI's
client side) would pay for fifteen lines of arithmetic. This module owns the defaults and the validation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from PIL import Image

from vreason.errors import InvalidRequestError

if TYPE_CHECKING:
    from vreason.media.image_input import PreparedImage

PATCH_SIZE = 16
SPATIAL_MERGE = 2
FACTOR = PATCH_SIZE * SPATIAL_MERGE  # one visual token covers FACTOR x FACTOR pixels
# qwen-vl-utils' defaults: at least 4 visual tokens per image.
DEFAULT_MIN_PIXELS = 4 * FACTOR * FACTOR
# 1024 visual tokens per image: detail enough for documents, affordable on CPU. Qwen's own ceiling is 16384.
DEFAULT_MAX_PIXELS = 1024 * FACTOR * FACTOR


@dataclass(frozen=True)
class PixelBudget:
    min_pixels: int = DEFAULT_MIN_PIXELS
    max_pixels: int = DEFAULT_MAX_PIXELS
    factor: int = FACTOR
    square: bool = False  # stretch every picture to a square of about its area (see the module docstring)

    def __post_init__(self) -> None:
        smallest = self.factor * self.factor
        if self.min_pixels < smallest:
            raise InvalidRequestError(
                f"min_pixels ({self.min_pixels}) must be at least {smallest} (one {self.factor}x{self.factor} token)",
                param="min_pixels",
            )
        if self.max_pixels < self.min_pixels:
            raise InvalidRequestError(
                f"max_pixels ({self.max_pixels}) must be >= min_pixels ({self.min_pixels})", param="max_pixels"
            )

    def updated(self, min_pixels: int | None = None, max_pixels: int | None = None) -> PixelBudget:
        """A copy with the given bounds replaced (None keeps the current one)."""
        for name, value in (("min_pixels", min_pixels), ("max_pixels", max_pixels)):
            if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
                raise InvalidRequestError(f"{name} ({value!r}) must be an integer", param=name)
        return PixelBudget(
            min_pixels=self.min_pixels if min_pixels is None else min_pixels,
            max_pixels=self.max_pixels if max_pixels is None else max_pixels,
            factor=self.factor,
            square=self.square,
        )

    def target_size(self, width: int, height: int) -> tuple[int, int]:
        """(width, height) the model will see for an image of this size."""
        if self.square:
            width = height = max(1, round(math.sqrt(width * height)))
        new_h, new_w = _smart_resize(height, width, self.factor, self.min_pixels, self.max_pixels)
        return new_w, new_h

    def num_visual_tokens(self, width: int, height: int) -> int:
        w, h = self.target_size(width, height)
        return (w // self.factor) * (h // self.factor)

    def apply(self, image: Image.Image) -> Image.Image:
        size = self.target_size(*image.size)
        if size == image.size:
            return image
        return image.resize(size, Image.Resampling.BICUBIC)

    def fit(self, prepared: PreparedImage) -> Image.Image:
        """`apply` for a prepared image: a large JPEG is decoded straight at a scale near the budget."""
        return prepared.pixels(self.target_size(*prepared.original_size))

    @classmethod
    def from_processor_size(cls, size: dict | None, square: bool = False) -> PixelBudget:
        """The bounds a checkpoint's image processor declares, with max_pixels capped at DEFAULT_MAX_PIXELS.

        Released Qwen3-VL processors upscale small images to 65,536 pixels and allow 16.7M; the cap keeps
        a single photo affordable on CPU (raise it per request with max_pixels).
        """
        size = size or {}
        low = int(size.get("shortest_edge") or size.get("min_pixels") or DEFAULT_MIN_PIXELS)
        high = min(int(size.get("longest_edge") or size.get("max_pixels") or DEFAULT_MAX_PIXELS), DEFAULT_MAX_PIXELS)
        return cls(min_pixels=low, max_pixels=max(low, high), square=square)

    def processor_size(self) -> dict[str, int]:
        """The same bounds in the `size` form transformers' Qwen image processor takes."""
        return {"shortest_edge": self.min_pixels, "longest_edge": self.max_pixels}


SQUARE_KEY = "square_pictures"  # the image processor's setting for square pictures


def checkpoint_budget(processor: object) -> PixelBudget:
    """The default budget for a loaded processor (see `PixelBudget.from_processor_size`), square where its image
    processor says `square_pictures` (a key transformers keeps from processor_config.json and saves again)."""
    image_processor = getattr(processor, "image_processor", processor)
    return PixelBudget.from_processor_size(getattr(image_processor, "size", None),
                                           bool(getattr(image_processor, SQUARE_KEY, False)))


def set_square_pictures(processor: object, square: bool) -> None:
    """Say on a loaded processor whether its checkpoint wants square pictures (saved with it, read back by
    `checkpoint_budget`)."""
    setattr(getattr(processor, "image_processor", processor), SQUARE_KEY, square)


def set_pixel_budget(processor: object, min_pixels: int | None = None, max_pixels: int | None = None) -> None:
    """Say on a loaded processor the picture area its checkpoint was trained at (the given bounds of its image
    processor's `size`, saved with it and read back by `checkpoint_budget`), so that the engine shows it pictures
    as it trained. A bound not given keeps the checkpoint's own (not this module's ceiling, which other servers
    reading the processor do not share)."""
    image_processor = getattr(processor, "image_processor", processor)
    size = dict(getattr(image_processor, "size", None) or {})
    if min_pixels is not None:
        size["shortest_edge"] = min_pixels
    if max_pixels is not None:
        size["longest_edge"] = max_pixels
    image_processor.size = size


# qwen-vl-utils' MAX_RATIO: Qwen's preprocessing refuses pictures more elongated than this.
MAX_ASPECT_RATIO = 200


def _smart_resize(height: int, width: int, factor: int, min_pixels: int, max_pixels: int) -> tuple[int, int]:
    """qwen-vl-utils' `smart_resize` (vision_process.py): (height, width) rounded to multiples of `factor`, scaled
    into [min_pixels, max_pixels] keeping the aspect ratio; its ValueError on a ratio over 200:1 is ours. One
    difference: a side scaled below `factor` is `factor`, not 0 (as transformers' own smart_resize does; a
    long thin picture under a small budget would otherwise have no pixels)."""
    ratio = max(height, width) / min(height, width)
    if ratio > MAX_ASPECT_RATIO:
        raise InvalidRequestError(
            f"an image of {width}x{height} is more elongated than {MAX_ASPECT_RATIO}:1, which Qwen3-VL's "
            "preprocessing refuses: crop it first"
        )
    h_bar = max(factor, round(height / factor) * factor)
    w_bar = max(factor, round(width / factor) * factor)
    if h_bar * w_bar > max_pixels:
        beta = math.sqrt((height * width) / max_pixels)
        h_bar = max(factor, math.floor(height / beta / factor) * factor)
        w_bar = max(factor, math.floor(width / beta / factor) * factor)
    elif h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h_bar = math.ceil(height * beta / factor) * factor
        w_bar = math.ceil(width * beta / factor) * factor
    return h_bar, w_bar
