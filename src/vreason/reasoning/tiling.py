"""Tile geometry for high-resolution images: an N x M grid with overlap, chosen by hand or from the budget.

A model that sees every image at most `max_pixels` large loses small objects in a big image: a 2048x2048
scan shown at 256x256 shrinks a 100-pixel object to 12 pixels. Asking about tiles shows each part at (up to)
full resolution. Neighbouring tiles overlap so an object cut by one tile's edge is whole in the next. Pure
geometry on (width, height) and pixel boxes; no model here.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from PIL import Image, ImageStat

from vreason.errors import InvalidRequestError
from vreason.media import PixelBudget

MAX_TILES = 64
DEFAULT_MAX_TILES = 16  # 4x4: the usual grid for high-resolution reading
DEFAULT_OVERLAP = 0.1
MAX_OVERLAP = 0.5
# A tile whose channels all vary less than this (standard deviation, 0-255) is plain background.
BLANK_STDDEV = 2.0
_GRID = re.compile(r"^\s*(\d+)\s*[x×*]\s*(\d+)\s*$", re.I)


@dataclass(frozen=True)
class Tile:
    row: int
    col: int
    box: tuple[int, int, int, int]  # x1, y1, x2, y2 in the original image's pixels (x2, y2 exclusive)

    @property
    def name(self) -> str:
        return f"r{self.row}c{self.col}"

    @property
    def size(self) -> tuple[int, int]:
        return self.box[2] - self.box[0], self.box[3] - self.box[1]

    def crop(self, image: Image.Image) -> Image.Image:
        return image.crop(self.box)

    def touches_inner_edge(self, box: tuple[float, ...], image_size: tuple[int, int], margin: float = 2.0) -> bool:
        """Whether `box` (whole-image pixels) reaches an edge of this tile that is not the image's edge:
        the object may continue in the neighbouring tile."""
        x1, y1, x2, y2 = self.box
        w, h = image_size
        return (
            (x1 > 0 and box[0] <= x1 + margin)
            or (y1 > 0 and box[1] <= y1 + margin)
            or (x2 < w and box[2] >= x2 - margin)
            or (y2 < h and box[3] >= y2 - margin)
        )


def parse_grid(text: str) -> tuple[int, int] | None:
    """"4x4" -> (4, 4) as (rows, cols); "auto" -> None (choose from the pixel budget)."""
    if text.strip().lower() == "auto":
        return None
    match = _GRID.match(text)
    if not match:
        raise InvalidRequestError(f"grid ({text!r}) must be ROWSxCOLS such as 4x4, or auto", param="grid")
    rows, cols = int(match.group(1)), int(match.group(2))
    check_grid(rows, cols)
    return rows, cols


def check_grid(rows: int, cols: int) -> None:
    if rows < 1 or cols < 1 or rows * cols > MAX_TILES:
        raise InvalidRequestError(
            f"grid {rows}x{cols} must have at least one row and column and at most {MAX_TILES} tiles", param="grid"
        )


def auto_grid(size: tuple[int, int], budget: PixelBudget, max_tiles: int = DEFAULT_MAX_TILES,
              overlap: float = DEFAULT_OVERLAP) -> tuple[int, int]:
    """The smallest grid whose tiles the model sees without downscaling, at most `max_tiles` tiles.

    (1, 1) when the whole image already fits the budget. When full resolution would need more tiles than
    `max_tiles`, the grid keeps the image's aspect ratio with as many tiles as allowed.
    """
    if not 1 <= max_tiles <= MAX_TILES:
        raise InvalidRequestError(f"max_tiles ({max_tiles}) must be from 1 to {MAX_TILES}", param="max_tiles")
    width, height = size
    if width * height <= budget.max_pixels:
        return 1, 1
    side = math.sqrt(budget.max_pixels)  # tiles of side x side pixels are shown unscaled
    step = side * (1 - overlap)
    cols = max(1, math.ceil((width - side * overlap) / step))
    rows = max(1, math.ceil((height - side * overlap) / step))
    while rows * cols > max_tiles:
        # Give up resolution evenly: drop a column or a row from the side with the larger tiles-to-pixels ratio.
        if cols > 1 and (cols / width >= rows / height or rows == 1):
            cols -= 1
        else:
            rows -= 1
    return rows, cols


def plan_tiles(size: tuple[int, int], rows: int, cols: int, overlap: float = DEFAULT_OVERLAP) -> list[Tile]:
    """`rows` x `cols` tiles covering an image of `size`, neighbours sharing `overlap` of a tile's side."""
    check_grid(rows, cols)
    if not 0.0 <= overlap <= MAX_OVERLAP:
        raise InvalidRequestError(f"overlap ({overlap}) must be between 0 and {MAX_OVERLAP}", param="overlap")
    width, height = size
    xs = _spans(width, cols, overlap)
    ys = _spans(height, rows, overlap)
    return [Tile(r, c, (x1, y1, x2, y2)) for r, (y1, y2) in enumerate(ys) for c, (x1, x2) in enumerate(xs)]


def _spans(length: int, count: int, overlap: float) -> list[tuple[int, int]]:
    # count tiles of side t, each step t * (1 - overlap): count * t - (count - 1) * overlap * t = length
    tile = length / (count - (count - 1) * overlap)
    step = tile * (1 - overlap)
    spans = []
    for i in range(count):
        start = round(i * step)
        end = length if i == count - 1 else min(length, round(i * step + tile))
        spans.append((start, max(end, start + 1)))
    return spans


def is_blank(image: Image.Image, threshold: float = BLANK_STDDEV) -> bool:
    """Plain background: nothing in it to ask about."""
    return max(ImageStat.Stat(image.convert("RGB")).stddev) < threshold
