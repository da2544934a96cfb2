"""Load one image from whatever a caller has (path, URL, data URI, base64 text, bytes, PIL image) into
a `PreparedImage`: normalized RGB pixels at their original size. Resizing to a model's pixel budget
happens when the prompt is built (`PixelBudget.fit`), so one prepared image serves any budget.

A large JPEG (see `decode.deferrable`) is checked from its header at load and keeps its bytes: the prompt
asks for `pixels(size)` and gets them decoded at the smallest libjpeg scale that covers the budget, then
resized, without the full-size decode; `image` (crops, drawings, the UI) decodes the full picture on first use
and the bytes stay, so the model is shown the same pixels before and after (the engine keys them by the bytes).
A PNG of 256x256 or more is checked from its header and chunk checksums and keeps its bytes: `pixels(size)`
decodes it in full each time it is asked (the engine asks once per image it has not seen), `image` decodes and
keeps it; one with orientation metadata or a failed checksum is decoded at load as before.

Every failure is a `MediaError` naming the input; nothing here knows about models or prompts.
"""

from __future__ import annotations

import base64
import binascii
import re
from pathlib import Path
from urllib.parse import unquote, urlsplit

from PIL import Image

from vreason.errors import MediaError
from vreason.media.decode import (
    check_and_normalize,
    check_header,
    decode_scaled,
    deferrable,
    open_image,
    resize_scaled,
    scalable,
    verify_png,
)
from vreason.media.local_files import checked_local_path
from vreason.media.policy import MediaPolicy
from vreason.media.url_fetch import fetch_url

ImageSource = str | Path | bytes | bytearray | Image.Image

_DATA_URI = re.compile(r"^data:(?P<mime>[\w.+-]+/[\w.+-]+)?(?P<params>(;[\w-]+=[^;,]*)*)(?P<b64>;base64)?,", re.I)
_BASE64_TEXT = re.compile(r"^[A-Za-z0-9+/=\s_-]+$")
# Shorter strings are far more likely a mistyped path than base64 of an image.
_MIN_BASE64_LEN = 64


class PreparedImage:
    """An input image, checked: its RGB pixels with EXIF orientation applied, not yet resized."""

    __slots__ = ("_image", "_encoded", "_size", "label", "content_keys")

    def __init__(self, image: Image.Image, label: str, content_keys: dict | None = None) -> None:
        self._image: Image.Image | None = image
        # a deferred picture's bytes: a PNG's until it is decoded, a JPEG's for good (see `pixels`)
        self._encoded: bytes | None = None
        self._size: tuple[int, int] = image.size
        self.label = label  # how error messages and traces name this input
        # Content keys the engine computed for this image, per preprocessing setting. A prepared image is never
        # modified after preparing, so a conversation that re-sends it pays for hashing its pixels once.
        self.content_keys: dict = {} if content_keys is None else content_keys

    @classmethod
    def deferred(cls, encoded: bytes, size: tuple[int, int], label: str) -> PreparedImage:
        """A checked JPEG or PNG whose pixels are decoded when first asked for (see the module docstring)."""
        prepared = cls.__new__(cls)
        prepared._image, prepared._encoded, prepared._size = None, encoded, size
        prepared.label, prepared.content_keys = label, {}
        return prepared

    @property
    def image(self) -> Image.Image:
        """The full-size RGB pixels (decoded on first use for a deferred image; two threads may both decode,
        to the same pixels)."""
        # `_encoded` first: a PNG's decode sets `_image` before it drops `_encoded`, so whoever reads no bytes
        # here reads the decoded picture below
        encoded = self._encoded
        image = self._image
        if image is None:
            image = self._image = decode_scaled(encoded, self._size, self.label)
            if not scalable(encoded):
                self._encoded = None  # a PNG's pixels(size) are the same from its bytes or from `image`
        return image

    @property
    def encoded(self) -> bytes | None:
        """A deferred picture's bytes: its `pixels(size)` at any size follow from them alone, so the engine keys
        its vision cache by them without decoding (`engine/inputs.py:encoded_image_key`). A JPEG keeps them
        after a full decode (`pixels` stays on the scaled path, whose pixels differ from a bicubic resize of the
        full picture); a PNG's are None once decoded (both paths give the same pixels)."""
        return self._encoded

    @property
    def original_size(self) -> tuple[int, int]:
        """(width, height) as the user sees the image: coordinates map back to these pixels."""
        return self._size

    def pixels(self, size: tuple[int, int]) -> Image.Image:
        """The picture resized to `size`. A decoded image is resized bicubic (as `PixelBudget.apply` does); a
        deferred JPEG is decoded at the smallest libjpeg scale that covers `size` and the rest of the way is
        an antialiased bilinear resize (`resize_scaled`). A deferred PNG is decoded in full and resized bicubic
        (the same pixels as if it had been decoded at load). A deferred image stays deferred: the pixels made
        here are the caller's, so a request holds them only while its prompt is built (the engine finds a
        picture it has seen by its content key and does not ask again)."""
        encoded = self._encoded
        # a JPEG's bytes decide its pixels even when `image` was decoded meanwhile: one key, one set of pixels
        if encoded is not None and scalable(encoded):
            return resize_scaled(decode_scaled(encoded, size, self.label), size)
        image = self._image
        if image is None:
            image = decode_scaled(encoded, size, self.label) if encoded is not None else self.image
        return image if size == self._size else image.resize(size, Image.Resampling.BICUBIC)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PreparedImage):
            return NotImplemented
        return self.label == other.label and self.image == other.image

    __hash__ = None  # type: ignore[assignment]  # pixels compare by value, as PIL images do

    def __repr__(self) -> str:
        return f"PreparedImage(label={self.label!r}, size={self._size}, decoded={self._image is not None})"


def describe_source(source: ImageSource) -> str:
    """A short, safe name for an input (never the whole base64 payload)."""
    if isinstance(source, Image.Image):
        return f"<PIL image {source.width}x{source.height}>"
    if isinstance(source, (bytes, bytearray)):
        return f"<{len(source)} bytes>"
    text = str(source)
    if text.startswith("data:"):
        return text[: min(text.find(",") + 1 or 40, 40)] + f"...({len(text)} chars)"
    if len(text) > 120:
        return text[:80] + f"...({len(text)} chars)"
    return text


def load_image(
    source: ImageSource | PreparedImage,
    policy: MediaPolicy | None = None,
) -> PreparedImage:
    """Prepare `source`; an already prepared image is returned as it is (conversations reuse them)."""
    if isinstance(source, PreparedImage):
        return source
    policy = policy or MediaPolicy()
    label = describe_source(source)
    if isinstance(source, Image.Image):
        return PreparedImage(check_and_normalize(source, label, policy), label)
    data = read_source_bytes(source, policy, label)
    opened = open_image(data, label, policy)
    check_header(opened, label, policy)
    if deferrable(opened, data) and (opened.format != "PNG" or verify_png(data)):
        return PreparedImage.deferred(data, opened.size, label)
    return PreparedImage(check_and_normalize(opened, label, policy), label)


def read_source_bytes(source: ImageSource, policy: MediaPolicy, label: str) -> bytes:
    if isinstance(source, (bytes, bytearray)):
        return bytes(source)
    if isinstance(source, Path):
        return _read_local(source, policy, label)
    if not isinstance(source, str):
        raise MediaError(label, f"unsupported input type {type(source).__name__}")
    text = source.strip()
    if not text:
        raise MediaError("''", "is an empty string, not an image")
    lowered = text[:16].lower()
    if lowered.startswith("data:"):
        return _decode_data_uri(text, label)
    if lowered.startswith(("http://", "https://")):
        return fetch_url(text, policy, label)
    if lowered.startswith("file://"):
        return _read_local(Path(unquote(urlsplit(text).path)), policy, label)
    if "://" in text[:12]:
        scheme = text.split("://", 1)[0]
        raise MediaError(label, f"URL scheme {scheme!r} is not supported (use a path, http(s) URL or data URI)")
    try:
        path = Path(text).expanduser()
    except RuntimeError:  # "~name/..." for a user this machine does not know: a path that does not exist
        path = Path(text)
    if len(text) < 4096 and _exists(path):
        return _read_local(path, policy, label)
    if len(text) >= _MIN_BASE64_LEN and _BASE64_TEXT.match(text[:4096]):
        return _decode_base64(text, label)
    raise MediaError(label, "no such file (and not a URL, data URI or base64 image)")


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except OSError:  # e.g. a name too long for the file system
        return False


def _read_local(path: Path, policy: MediaPolicy, label: str) -> bytes:
    resolved = checked_local_path(path, policy, label, "image", policy.max_bytes)
    try:
        return resolved.read_bytes()
    except PermissionError:
        raise MediaError(label, "permission denied") from None
    except OSError as err:
        raise MediaError(label, f"cannot be read ({err.strerror})") from None


def _decode_data_uri(text: str, label: str) -> bytes:
    match = _DATA_URI.match(text)
    if not match:
        raise MediaError(label, "malformed data URI (expected data:image/...;base64,...)")
    mime = (match.group("mime") or "").lower()
    if mime and not mime.startswith("image/") and mime != "application/octet-stream":
        raise MediaError(label, f"data URI has media type {mime!r}, not an image")
    payload = text[match.end() :]
    if match.group("b64"):
        return _decode_base64(payload, label)
    return unquote(payload).encode("latin-1", errors="replace")


def _decode_base64(text: str, label: str) -> bytes:
    cleaned = "".join(text.split())
    cleaned += "=" * (-len(cleaned) % 4)
    try:
        if "-" in cleaned or "_" in cleaned:
            return base64.urlsafe_b64decode(cleaned)
        return base64.b64decode(cleaned, validate=True)
    except (binascii.Error, ValueError):
        raise MediaError(label, "invalid base64 data") from None
