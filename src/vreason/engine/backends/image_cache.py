"""Images on their way to an upstream: encoded as data URIs, and remembered by content so that the same
picture (every turn of a conversation, many questions about one image) is encoded once.

No HTTP and no prompt logic here; `openai_wire` calls it while building a request body.
"""

from __future__ import annotations

import base64
import hashlib
import io
from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING, Literal

from PIL import Image

from vreason.engine.caches import ByteBudgetLRU

if TYPE_CHECKING:
    from vreason.media import PixelBudget, PreparedImage

ImageFormat = Literal["png", "jpeg"]
# zlib level 1: a 1024x1024 photo encodes ~4x faster than the default level for ~15% more bytes.
PNG_COMPRESS_LEVEL = 1
JPEG_QUALITY = 95
DEFAULT_URI_CACHE_BYTES = 64 * 1024 * 1024


def image_data_uri(image: Image.Image, image_format: ImageFormat = "png") -> str:
    buffer = io.BytesIO()
    if image_format == "jpeg":
        image.convert("RGB").save(buffer, format="JPEG", quality=JPEG_QUALITY)
        mime = "image/jpeg"
    else:
        image.save(buffer, format="PNG", compress_level=PNG_COMPRESS_LEVEL)
        mime = "image/png"
    return f"data:{mime};base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


class EncodedUriCache(ByteBudgetLRU):
    """key -> the data URI encoded for it, least recently used out first, bounded by the bytes of the URIs
    held; thread-safe (encoding runs on worker threads). A URI over the whole budget is returned, not kept."""

    def __init__(self, max_bytes: int = DEFAULT_URI_CACHE_BYTES):
        super().__init__(max_bytes)

    def fetch(self, key: Hashable, encode: Callable[[], str]) -> str:
        uri = self.get(key)
        if uri is None:
            uri = encode()  # outside the lock: two threads may both encode a new key, never block each other
            self.put(key, uri, len(uri))
        return uri


class DataUriCache(EncodedUriCache):
    """Resized pixels -> their data URI, so the same picture (every turn of a conversation, many questions
    about one image) is encoded once (PNG encoding costs ~100x the hash of the pixels; decoding the caller's
    copy once is the media step's cache)."""

    def data_uri(self, image: Image.Image, image_format: ImageFormat) -> str:
        key = (image_format, image.mode, image.size, hashlib.blake2b(image.tobytes(), digest_size=16).digest())
        return self.fetch(key, lambda: image_data_uri(image, image_format))

    def fitted_uri(self, prepared: PreparedImage, budget: PixelBudget, image_format: ImageFormat) -> str:
        """The data URI of `prepared` fitted to `budget`. A deferred picture (a large JPEG or PNG that waits
        compressed) is remembered by its bytes and fitted size, so a re-sent one is not decoded on every
        turn (a 2400x1600 PNG: ~60 ms of decoding against ~2 ms hashing its file); others by their pixels."""
        encoded = prepared.encoded
        if encoded is None:
            return self.data_uri(budget.fit(prepared), image_format)
        size = budget.target_size(*prepared.original_size)
        key = ("encoded", image_format, size, hashlib.blake2b(encoded, digest_size=16).digest())
        return self.fetch(key, lambda: image_data_uri(prepared.pixels(size), image_format))
