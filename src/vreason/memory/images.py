"""A picture as memory keeps it: one row per picture per user, by content hash, with a thumbnail and a
perceptual hash.

The content hash is the SHA-256 of the decoded pixels (RGB, EXIF orientation applied) and the size, so the same
picture sent as a PNG file, a data URI or a re-saved copy is stored once. The original is kept as the bytes the
user gave when there were bytes (a path, bytes, a data URI), else as a lossless PNG. The thumbnail is a JPEG at
most 256 px a side (what the UI lists). The perceptual hash is imagehash's pHash (64 bits, DCT of a 32x32
grey image): pictures within a few bits of each other are the same picture resized or re-compressed.
Where a local model stored the picture, its pooled vision features go with it ("a similar picture", recall.py).
imagehash is the well-kept library for this (in wide use, released 2025), so no hash is hand-written here.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from vreason.media import ImageSource, PreparedImage, load_image

THUMBNAIL_SIDE = 256
SAME_PICTURE_BITS = 8  # pHash distance at or below which two pictures count as the same one


@dataclass(frozen=True)
class StoredImage:
    sha256: str
    phash: str  # 16 hex digits
    width: int
    height: int
    mime: str
    original: bytes
    thumbnail: bytes
    vision: bytes | None = None  # the checkpoint's pooled vision features, float32 (see with_vision)
    vision_model: str | None = None  # the checkpoint that made them: only its own vectors compare


def with_vision(picture: StoredImage, vector: Any, model: str) -> StoredImage:
    """`picture` with the checkpoint's pooled vision features (`LocalEngine.image_embedding`)."""
    return replace(picture, vision=np.asarray(vector, dtype=np.float32).tobytes(), vision_model=model)


def stored_image(source: ImageSource | PreparedImage) -> StoredImage:
    """Decode (default media policy unless already prepared), hash, and make the thumbnail."""
    prepared = source if isinstance(source, PreparedImage) else load_image(source)
    image = prepared.image.convert("RGB")
    digest = hashlib.sha256(f"{image.width}x{image.height}:".encode())
    digest.update(image.tobytes())
    original, mime = _original_bytes(source, image)
    return StoredImage(
        sha256=digest.hexdigest(),
        phash=perceptual_hash(image),
        width=image.width,
        height=image.height,
        mime=mime,
        original=original,
        thumbnail=_thumbnail(image),
    )


def perceptual_hash(image: Image.Image | ImageSource | PreparedImage) -> str:
    import imagehash

    if isinstance(image, PreparedImage):
        image = image.image
    elif not isinstance(image, Image.Image):
        image = load_image(image).image
    return str(imagehash.phash(image))


def hash_distance(a: str, b: str) -> int:
    return (int(a, 16) ^ int(b, 16)).bit_count()


def _original_bytes(source: ImageSource | PreparedImage, image: Image.Image) -> tuple[bytes, str]:
    data = None
    if isinstance(source, (bytes, bytearray)):
        data = bytes(source)
    elif isinstance(source, (str, Path)) and not str(source).startswith(("data:", "http://", "https://")):
        path = Path(str(source).removeprefix("file://")).expanduser()
        if path.is_file():
            data = path.read_bytes()
    if data is not None:
        try:
            with Image.open(io.BytesIO(data)) as probe:
                mime = Image.MIME.get(probe.format or "", "")
            if mime:
                return data, mime
        except OSError:
            pass
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue(), "image/png"


def _thumbnail(image: Image.Image) -> bytes:
    small = image.copy()
    small.thumbnail((THUMBNAIL_SIDE, THUMBNAIL_SIDE))
    buffer = io.BytesIO()
    small.save(buffer, format="JPEG", quality=85)
    return buffer.getvalue()


def extension(mime: str) -> str:
    return {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp", "image/gif": "gif"}.get(mime, "bin")
