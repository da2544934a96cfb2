"""The `images` argument of the reasoning functions: one source, a sequence of them, or None (as in `VReason.ask`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def as_image_list(images: Any) -> list:
    if images is None:
        return []
    if isinstance(images, (str, bytes, bytearray)) or not isinstance(images, Sequence):
        return [images]
    return list(images)
