"""Images on their way to an upstream: encoded as data URIs, and remembered by content so that the same
picture (every turn of a conversation, many questions about one image) is encoded once.

No HTTP and no prompt logic here; `openai_wire` calls it while building a request body.
"""

from __future__ import annotations

import base64
import hashlib
import io
import threading
from collections import OrderedDict
from typing import Literal

from PIL import Image

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



class DataUriCache:
    """Resized pixels -> their data URI, so the same picture (every turn of a conversation, many questions
    about one image) is encoded once (PNG encoding costs ~100x the hash of the pixels; decoding the caller's
    copy once is the media step's cache). Thread-safe (encoding runs on worker threads); bounded by bytes
    held, least recently used out first."""

    def __init__(self, max_bytes: int = DEFAULT_URI_CACHE_BYTES):
        self.max_bytes = max_bytes
        self.bytes_used = 0
        self.hits = 0
        self.misses = 0
        self.evictions = 0
        self._entries: OrderedDict[tuple, str] = OrderedDict()
        self._lock = threading.Lock()

    def data_uri(self, image: Image.Image, image_format: ImageFormat) -> str:
        key = (image_format, image.mode, image.size, hashlib.blake2b(image.tobytes(), digest_size=16).digest())
        with self._lock:
            uri = self._entries.get(key)
            if uri is not None:
                self._entries.move_to_end(key)
                self.hits += 1
                return uri
            self.misses += 1
        uri = image_data_uri(image, image_format)
        with self._lock:
            if key not in self._entries and len(uri) <= self.max_bytes:
                self._entries[key] = uri
                self.bytes_used += len(uri)
                while self.bytes_used > self.max_bytes:
                    _, old = self._entries.popitem(last=False)
                    self.bytes_used -= len(old)
                    self.evictions += 1
        return uri

    def __len__(self) -> int:
        return len(self._entries)

