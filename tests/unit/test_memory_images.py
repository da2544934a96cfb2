"""Pictures in memory: one content hash for the same pixels whatever the file, a perceptual hash that sees a
resized copy as the same picture and a different picture as different, a small thumbnail."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image

from vreason.memory.images import SAME_PICTURE_BITS, hash_distance, stored_image

SHAPES = Path(__file__).resolve().parents[2] / "examples" / "shapes.png"


def encoded(image: Image.Image, fmt: str, **options) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt, **options)
    return out.getvalue()


def test_same_pixels_same_hash_whatever_the_file():
    original = stored_image(str(SHAPES))
    again = stored_image(encoded(Image.open(SHAPES), "PNG", compress_level=1))  # other bytes, same pixels
    assert again.sha256 == original.sha256
    assert original.original == SHAPES.read_bytes()
    assert original.mime == "image/png"
    assert max(Image.open(io.BytesIO(original.thumbnail)).size) <= 256


def test_perceptual_hash_sees_copies_and_differences():
    base = Image.open(SHAPES).convert("RGB")
    original = stored_image(base)
    copy = stored_image(encoded(base.resize((180, 180)), "JPEG", quality=70))
    assert copy.sha256 != original.sha256
    assert hash_distance(copy.phash, original.phash) <= SAME_PICTURE_BITS
    other = Image.new("RGB", base.size, (250, 250, 250))
    for x in range(20, 120):
        for y in range(150, 240):
            other.putpixel((x, y), (0, 160, 0))
    assert hash_distance(stored_image(other).phash, original.phash) > SAME_PICTURE_BITS
