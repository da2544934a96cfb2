"""Images on their way to an upstream: encoded as data URIs, and remembered by content so that the same
picture (every turn of a conversation, many questions about one image) is decoded and encoded once.

No HTTP and no prompt logic here; `openai_wire` calls it while building a request body.
"""

from __future__ import annotations

import base64
import hashlib
import io
import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Literal

from PIL import Image

from vreason.engine.types import ImagePart, Message
from vreason.media import MediaPolicy, PreparedImage, load_image

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
    """Images by content, so the same picture (every turn of a conversation, many questions about one image)
    is decoded and encoded once: encoded inputs (bytes, data URIs) map to their decoded `PreparedImage`,
    resized pixels to their data URI (PNG encoding costs ~100x the hash of the pixels). A decoded input was
    checked under the same media policy, which is part of its key. Thread-safe (encoding runs on worker
    threads); each map is bounded by bytes held, least recently used out first."""

    def __init__(self, max_bytes: int = DEFAULT_URI_CACHE_BYTES):
        self.max_bytes = max_bytes  # per map: data URIs, and decoded pixels
        self.bytes_used = 0
        self.hits = 0
        self.misses = 0
        self.evictions = 0
        self._entries: OrderedDict[tuple, str] = OrderedDict()
        self._decoded: OrderedDict[tuple, PreparedImage] = OrderedDict()
        self._decoded_bytes = 0
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

    def prepared(self, messages: Sequence[Message], policy: MediaPolicy) -> list[Message]:
        """`messages` with encoded image inputs replaced by their decoded images (from cache when seen)."""
        out = []
        for message in messages:
            if not any(isinstance(p, ImagePart) and _encoded(p.source) for p in message.content):
                out.append(message)
                continue
            parts = [ImagePart(self._decode(p.source, policy)) if isinstance(p, ImagePart) and _encoded(p.source)
                     else p for p in message.content]
            out.append(Message(message.role, parts))
        return out

    def _decode(self, source: bytes | bytearray | str, policy: MediaPolicy) -> PreparedImage:
        raw = source.encode() if isinstance(source, str) else bytes(source)
        key = (policy, hashlib.blake2b(raw, digest_size=16).digest())
        with self._lock:
            image = self._decoded.get(key)
            if image is not None:
                self._decoded.move_to_end(key)
                return image
        image = load_image(source, policy)  # the policy's checks run on every first sight
        size = image.image.width * image.image.height * len(image.image.getbands())
        with self._lock:
            if key not in self._decoded and size <= self.max_bytes:
                self._decoded[key] = image
                self._decoded_bytes += size
                while self._decoded_bytes > self.max_bytes:
                    _, old = self._decoded.popitem(last=False)
                    self._decoded_bytes -= old.image.width * old.image.height * len(old.image.getbands())
        return image

    def __len__(self) -> int:
        return len(self._entries)


def _encoded(source: object) -> bool:
    """Inputs whose bytes are the whole image: safe to key by content. Paths and URLs are not (the file or
    the page may change, and reading them is the policy's business each time)."""
    return isinstance(source, (bytes, bytearray)) or (isinstance(source, str) and source[:5].lower() == "data:")
