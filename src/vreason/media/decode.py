"""Turn encoded image bytes into an 8-bit RGB PIL image the processor accepts.

Order matters: the header is read (format, size) and the size checked against the bomb guard and the
aspect-ratio limit before a single pixel is decoded; then EXIF orientation is applied, then the mode is
converted (transparency flattened onto white, 16-bit and float scaled down, CMYK/L/P to RGB).

A large RGB JPEG with no EXIF rotation can skip the full decode (`open_image` + `deferrable`): libjpeg scales
by 1/2, 1/4 or 1/8 while it decodes (`decode_scaled`, Pillow's draft mode; `resize_scaled` goes the rest of
the way), which is how a 4K photo reaches a 1,280-token budget without decoding 8 million pixels first. The
pixels then wait until the budget is known.

A PNG of 256x256 pixels or more with no orientation metadata (eXIf, XMP, a raw EXIF text profile) waits too,
for memory rather than speed: a burst of requests queued behind the engine's visual-token gate holds
compressed bytes (typically a tenth of the pixels) instead of every picture decoded at arrival. Its chunks'
checksums are verified at load (`verify_png`: reads the bytes, inflates nothing), and a PNG that fails them is
decoded at once instead, so what is accepted or refused at load, and with which message, is what the full
decode says (a truncated file, a missing IEND that the decoder tolerates). Only a deflate stream damaged under
valid checksums gets past the load: it fails when the prompt is built, as a deferred JPEG with a damaged body
does (still a 400 on the server). The pixels are decoded in full when the prompt first needs them: the same
pixels as the eager path (nothing is scaled while decoding).
"""

from __future__ import annotations

import io
import sys
import warnings

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from vreason.errors import MediaError
from vreason.media.policy import MediaPolicy

# Still images Pillow decodes reliably; animated GIF/WebP contribute their first frame.
SUPPORTED_FORMATS = frozenset({"PNG", "JPEG", "MPO", "WEBP", "GIF", "BMP", "TIFF"})
WHITE = (255, 255, 255)


# Below this many pixels a JPEG is decoded at once: draft decoding pays only for pictures several times the
# size of a model's budget (the default budget is 1,048,576 pixels).
DEFER_MIN_PIXELS = 4_000_000
# Below this many pixels (192 KiB decoded) a PNG is decoded at once: holding it costs little either way.
DEFER_PNG_MIN_PIXELS = 256 * 256
_ORIENTATION = 0x0112
_PNG_ORIENTATION_MARKS = (b"eXIf", b"XML:com.adobe.xmp", b"Raw profile type")


def decode_image(data: bytes, label: str, policy: MediaPolicy) -> Image.Image:
    return check_and_normalize(open_image(data, label, policy), label, policy)


def open_image(data: bytes, label: str, policy: MediaPolicy) -> Image.Image:
    """The image's header, pixels not decoded yet; size and format not checked yet (see `check_header`)."""
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
    return image


def check_and_normalize(image: Image.Image, label: str, policy: MediaPolicy) -> Image.Image:
    """Validate size and decode pixels of an opened (possibly lazy) image, then normalize it to RGB."""
    check_header(image, label, policy)
    try:
        if getattr(image, "is_animated", False):
            image.seek(0)
        image.load()
        image = ImageOps.exif_transpose(image)
    except Exception as err:  # truncated streams raise OSError, broken codecs raise others
        raise MediaError(label, f"is truncated or corrupt ({err})") from None
    return to_rgb(image)


def check_header(image: Image.Image, label: str, policy: MediaPolicy) -> None:
    """Format, size, bomb guard and aspect ratio, from the header alone."""
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


def deferrable(image: Image.Image, data: bytes) -> bool:
    """A checked header whose pixels may wait for `decode_scaled`: a large JPEG that decodes to RGB as it is
    stored (no EXIF rotation, not CMYK or grey), or a PNG of `DEFER_PNG_MIN_PIXELS` or more with no orientation
    metadata (any mode: `decode_scaled` converts it as `check_and_normalize` does)."""
    pixels = image.width * image.height
    if image.format == "PNG":
        # Pillow's getexif on a PNG decodes the whole image to reach an eXIf chunk stored after the pixels, so a
        # PNG that may carry orientation (an eXIf chunk, XMP, or ImageMagick's "Raw profile type exif" text:
        # exif_transpose reads all three; chunk keywords are stored uncompressed) is decoded now. Rare; a false
        # match only means decoding now.
        return pixels >= DEFER_PNG_MIN_PIXELS and not any(mark in data for mark in _PNG_ORIENTATION_MARKS)
    if image.format != "JPEG" or image.mode != "RGB" or pixels < DEFER_MIN_PIXELS:
        return False
    try:
        return image.getexif().get(_ORIENTATION, 1) == 1
    except Exception:  # a malformed EXIF block: the full decode path reports or ignores it as before
        return False


def scalable(data: bytes) -> bool:
    """Encoded bytes libjpeg can scale while decoding (a JPEG); anything else decodes at full size."""
    return data[:2] == b"\xff\xd8"


def verify_png(data: bytes) -> bool:
    """Whether a PNG's pixels may be decoded later: every chunk present with its CRC, up to IEND. Pillow's
    verify reads the chunks without inflating the image data, so it costs a pass over the bytes. False sends
    the PNG to the full decode now, which refuses it or (a missing IEND, a bad checksum on a chunk the decoder
    skips) accepts it exactly as before deferral existed."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # checked by `check_header`
            Image.open(io.BytesIO(data)).verify()
    except Exception:  # truncated chunks raise OSError / SyntaxError, bad checksums others
        return False
    return True


def decode_scaled(data: bytes, size: tuple[int, int], label: str) -> Image.Image:
    """A deferred image's RGB pixels: a JPEG at the smallest libjpeg scale (1, 1/2, 1/4, 1/8) still at least
    `size`; a PNG at full size (`size` is ignored), converted to RGB as `check_and_normalize` converts it."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # checked by `check_header`
            image = Image.open(io.BytesIO(data))
        if scalable(data):
            image.draft("RGB", size)
        image.load()
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


def resize_scaled(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    """The rest of the way from a draft-decoded picture to `size`: antialiased bilinear (the draft's DCT
    scaling already averaged 2x2, 4x4 or 8x8 blocks, so a short filter suffices). torch's uint8 kernel is
    vectorised and threaded; Pillow's gives the same pixels (within 1 level) where torch is not loaded."""
    if image.size == size:
        return image
    torch = sys.modules.get("torch")  # the engine has it; a client that only resizes should not import it
    if torch is None:
        return image.resize(size, Image.Resampling.BILINEAR)
    pixels = torch.from_numpy(np.array(image)).permute(2, 0, 1).unsqueeze(0)  # (1, 3, H, W), channels last
    resized = torch.nn.functional.interpolate(pixels, size=(size[1], size[0]), mode="bilinear", antialias=True)
    # the kernel writes planar (3, h, w) output; Pillow merges planes in C (0.3 ms at 1504x832) where
    # interleaving them through numpy first is a strided copy (7 ms)
    return Image.merge("RGB", [Image.fromarray(plane) for plane in resized[0].numpy()])
