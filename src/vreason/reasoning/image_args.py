"""The `images` argument of the reasoning functions: one source, a sequence of them, or None (as in `VReason.ask`)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from vreason.async_api import AsyncVReason
    from vreason.media import PreparedImage


def as_image_list(images: Any) -> list:
    if images is None:
        return []
    if isinstance(images, (str, bytes, bytearray)) or not isinstance(images, Sequence):
        return [images]
    return list(images)


async def prepare_images(vr: AsyncVReason, images: Any) -> list[PreparedImage]:
    """Every image of `images` loaded under `vr`'s media policy, side by side; a failure is raised in input order
    (the first bad image is the one named, as when they are loaded one after the other)."""
    results = await asyncio.gather(*(vr.prepare_image(src) for src in as_image_list(images)), return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return list(results)  # type: ignore[arg-type]
