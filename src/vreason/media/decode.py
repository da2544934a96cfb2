"""Turn encoded image bytes into an 8-bit RGB PIL image the processor accepts.

Order matters: the header is read (format, size) and the size checked against the bomb guard and the
aspect-ratio limit before a single pixel is decoded; then EXIF orientation is applied, then the mode is
converted (transparency flattened onto white, 16-bit and float scaled down, CMYK/L/P to RGB).
"""

from __future__ import annotations

import io
import warnings

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from vreason.errors import MediaError
from vreason.media.policy import MediaPolicy

# Still images Pillow decodes reliably; animated GIF/WebP contribute their first frame.
SUPPORTED_FORMATS = frozenset({"PNG", "JPEG", "MPO", "WEBP", "GIF", "BMP", "TIFF"})
WHITE = (255, 255, 255)


def decode_image(data: bytes, label: str, policy: MediaPolicy) -> Image.Image:
    if not data:
        raise MediaError(label, "is empty (0 bytes)")
    if len(data) > policy.max_bytes:
        raise MediaError(label, f"{len(data)} bytes is over the {policy.max_bytes}-byte limit")
    try:
        with warnings.catch_warnings():
            # Our own pixel limit below is the guard; Pillow's warning would only add noise.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        raise MediaError(label, "is not an image in a supported format (PNG, JPEG, WebP, GIF, BMP, TIFF)") from None
    except Image.DecompressionBombError as err:
        raise MediaError(label, f"refused by the decompression-bomb guard ({err})") from None
    except Exception as err:  # Pillow raises many types for malformed headers
        raise MediaError(label, f"unreadable image header ({err})") from None
    return check_and_normalize(image, label, policy)


def check_and_normalize(image: Image.Image, label: str, policy: MediaPolicy) -> Image.Image:
    """Validate size and decode pixels of an opened (possibly lazy) image, then normalize it to RGB."""
    fmt = image.format
    if fmt is not None and fmt not in SUPPORTED_FORMATS:
        raise MediaError(label, f"format {fmt} is not supported (PNG, JPEG, WebP, GIF, BMP, TIFF)")
    width, height = image.size
    if width < 1 or height < 1:
        raise MediaError(label, f"has no pixels ({width}x{height})")
    if width * height > policy.max_image_pixels:
        raise MediaError(
            label,
            f"{width}x{height} = {width * height} pixels is over the {policy.max_image_pixels}-pixel limit "
            "(decompression-bomb guard)",
        )
    ratio = max(width, height) / min(width, height)
    if ratio > policy.max_aspect_ratio:
        raise MediaError(label, f"aspect ratio {ratio:.0f}:1 is over the {policy.max_aspect_ratio:g}:1 limit")
    try:
        if getattr(image, "is_animated", False):
            image.seek(0)
        image.load()
        image = ImageOps.exif_transpose(image)
    except Exception as err:  # truncated streams raise OSError, broken codecs raise others
        raise MediaError(label, f"is truncated or corrupt ({err})") from None
    return to_rgb(image)


def to_rgb(image: Image.Image) -> Image.Image:
    """8-bit RGB with transparency composited onto white (what a viewer shows on a white page)."""
    mode = image.mode
    if mode == "RGB":
        return image
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        return Image.fromarray(_to_uint8(np.asarray(image)), mode="L").convert("RGB")
    if mode == "P":
        image = image.convert("RGBA") if "transparency" in image.info else image.convert("RGB")
    elif mode in ("LA", "La", "PA", "RGBa"):
        image = image.convert("RGBA")
    if image.mode == "RGBA":
        background = Image.new("RGB", image.size, WHITE)
        background.paste(image, mask=image.getchannel("A"))
        return background
    return image.convert("RGB")


def _to_uint8(pixels: np.ndarray) -> np.ndarray:
    """Scale 16-bit, 32-bit integer or float pixels into 0..255."""
    values = pixels.astype(np.float64)
    if pixels.dtype.kind == "f":
        low, high = float(np.nanmin(values)), float(np.nanmax(values))
        if low >= 0.0 and high <= 1.0:
            return np.clip(values * 255.0 + 0.5, 0, 255).astype(np.uint8)
        span = high - low or 1.0
        return np.clip((values - low) / span * 255.0 + 0.5, 0, 255).astype(np.uint8)
    full_scale = 255.0 if values.max(initial=0) <= 255 else 65535.0
    return np.clip(values / full_scale * 255.0 + 0.5, 0, 255).astype(np.uint8)
