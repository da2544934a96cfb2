"""The `images` argument of the reasoning functions: one source, a sequence of them, or None (as in `VReason.ask`)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from vreason.async_api import as_image_list
from vreason.media_step import check_image_count

if TYPE_CHECKING:
    from vreason.async_api import AsyncVReason
    from vreason.media import PreparedImage


async def prepare_images(vr: AsyncVReason, images: Any) -> list[PreparedImage]:
    """Every image of `images` loaded under `vr`'s media policy, side by side; a failure is raised in input order
    (the first bad image is the one named, as when they are loaded one after the other)."""
    sources = as_image_list(images)
    check_image_count(len(sources), vr.media.max_images)  # before anything is fetched
    results = await asyncio.gather(*(vr.prepare_image(src) for src in sources), return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return list(results)  # type: ignore[arg-type]
