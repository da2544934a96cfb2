"""A point cloud sent to the server: uploaded bytes, a URL, a data URI or (when the server allows local media)
a path, read into a `PointCloud` under the engine's media policy.

The policy's rules for images hold: URLs pass the same SSRF guard, domain list and timeout (media/url_fetch.py),
local paths follow media/local_files.py (refused unless the server was started with --allowed-local-media-path,
and then only under it).
The size cap is the policy's cap for large media (`max_video_bytes`, `vreason serve --max-video-mb`); an upload
is bounded by the request-body limit first. The format comes from `fmt` ("ply", "pcd", ...), else the file
name's suffix (upload name, URL path, local path), else the first bytes (PLY, PCD, LAS/LAZ, .npy, .npz
signatures; other text is read as x y z columns). Every failure is a `CloudInputError`: one line naming the
input as the client gave it (never a temporary path), answered as 400 with code `invalid_cloud`.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import tempfile
from dataclasses import replace
from pathlib import Path
from urllib.parse import unquote, urlsplit

from vreason.errors import InvalidRequestError, MediaError
from vreason.media.image_input import describe_source
from vreason.media.local_files import checked_local_path
from vreason.media.policy import MediaPolicy
from vreason.media.url_fetch import fetch_url
from vreason.spatial.readers import SUFFIXES, PointCloud, read_cloud

FORMATS = tuple(s.lstrip(".") for s in SUFFIXES)
_DATA_URI = re.compile(r"data:(?P<mime>[^;,]*)(?:;[^;,]*)*?(?P<b64>;base64)?,", re.IGNORECASE)
_SIGNATURES = (
    (b"ply\n", ".ply"),
    (b"ply\r\n", ".ply"),
    (b"LASF", ".las"),  # LAZ has the same signature; laspy tells them apart by the header
    (b"\x93NUMPY", ".npy"),
    (b"PK\x03\x04", ".npz"),
    (b"# .PCD", ".pcd"),
    (b"VERSION", ".pcd"),
)


class CloudInputError(InvalidRequestError):
    """A cloud that cannot be read or is outside the limits; the message names the input as given."""

    def __init__(self, message: str):
        super().__init__(message, param="cloud")


def read_cloud_source(
    source: str | None = None,
    *,
    data: bytes | None = None,
    filename: str | None = None,
    fmt: str | None = None,
    policy: MediaPolicy,
    max_points: int,
    drop_invalid: bool = False,
) -> PointCloud:
    """The cloud in `data` (an upload named `filename`) or behind `source` (URL, data URI, path)."""
    label = filename or (describe_source(source) if source is not None else "<upload>")
    cap = policy.max_video_bytes
    if data is None:
        if source is None or not source.strip():
            raise CloudInputError("no cloud given: upload a file as `cloud`, or send a URL or data URI")
        local, data = _fetch(source.strip(), policy, label, cap)
        if local is not None:
            if fmt or local.suffix.lower() not in SUFFIXES:  # the reader goes by the suffix: give it the format's
                data = local.read_bytes()
                filename = local.name
            else:
                return _read(local, label, max_points=max_points, drop_invalid=drop_invalid)
        else:
            filename = urlsplit(source.strip()).path if source.strip()[:8].lower().startswith("http") else None
    if len(data) > cap:
        raise CloudInputError(f"cloud {label}: {len(data):,} bytes is over the {cap:,}-byte limit")
    if not data:
        raise CloudInputError(f"cloud {label}: is empty (0 bytes)")
    suffix = _suffix(fmt, filename, data, label)
    handle, name = tempfile.mkstemp(suffix=suffix, prefix="vreason-cloud-")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        return _read(Path(name), label, max_points=max_points, drop_invalid=drop_invalid)
    finally:
        os.unlink(name)


def _read(path: Path, label: str, *, max_points: int, drop_invalid: bool) -> PointCloud:
    try:
        cloud = read_cloud(path, max_points=max_points, drop_invalid=drop_invalid)
    except InvalidRequestError as err:  # the reader names its file: name the client's input instead
        message = str(err).replace(str(path), f"cloud {label}")
        raise CloudInputError(message.replace("drop_invalid=True (--drop-invalid)", "drop_invalid: true")) from None
    cloud.source = label
    return cloud


def _fetch(source: str, policy: MediaPolicy, label: str, cap: int) -> tuple[Path | None, bytes]:
    """(a local path, b"") or (None, the bytes) for a URL, data URI or path."""
    lowered = source[:16].lower()
    try:
        if lowered.startswith("data:"):
            return None, _data_uri(source, label)
        if lowered.startswith(("http://", "https://")):
            return None, fetch_url(source, replace(policy, max_bytes=cap), label, accepted=("",), what="a cloud")
    except MediaError as err:  # the shared fetcher names inputs as images
        raise CloudInputError(f"cloud {err.source}: {err.problem}") from None
    if lowered.startswith("file://"):
        return _local(Path(unquote(urlsplit(source).path)), policy, label, cap), b""
    if "://" in source[:12]:
        scheme = source.split("://", 1)[0]
        raise CloudInputError(f"cloud {label}: URL scheme {scheme!r} is not supported (use an upload, URL or data URI)")
    return _local(Path(source), policy, label, cap), b""


def _local(path: Path, policy: MediaPolicy, label: str, cap: int) -> Path:
    """media/local_files.py's rule, the one images and videos follow, with the cloud byte cap."""
    try:
        return checked_local_path(path, policy, label, "cloud", cap)
    except MediaError as err:
        problem = err.problem.replace("(the server needs", "(upload the file, or start the server with")
        raise CloudInputError(f"cloud {err.source}: {problem}") from None
    except ValueError:  # a NUL in the name: no file has one
        raise CloudInputError(f"cloud {label}: no such file") from None


def _data_uri(text: str, label: str) -> bytes:
    match = _DATA_URI.match(text)
    if not match:
        raise CloudInputError(f"cloud {label}: malformed data URI (expected data:<type>;base64,...)")
    payload = text[match.end() :]
    if not match.group("b64"):
        return unquote(payload).encode("latin-1", errors="replace")
    cleaned = "".join(payload.split())
    try:
        return base64.b64decode(cleaned + "=" * (-len(cleaned) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise CloudInputError(f"cloud {label}: invalid base64 data") from None


def _suffix(fmt: str | None, filename: str | None, data: bytes | None, label: str) -> str:
    """The reader's suffix: the format named, else the file name's, else the content's signature."""
    if fmt:
        if fmt.lower().lstrip(".") not in FORMATS:
            raise CloudInputError(f"format {fmt!r}: choose one of {', '.join(FORMATS)}")
        return "." + fmt.lower().lstrip(".")
    suffix = Path(filename or "").suffix.lower()
    if suffix in SUFFIXES:
        return suffix
    head = (data or b"")[:64]
    for signature, found in _SIGNATURES:
        if head.startswith(signature):
            return found
    try:
        first = head.decode("ascii")
    except UnicodeDecodeError:
        raise CloudInputError(f"cloud {label}: unknown format (name it with `format`: {', '.join(FORMATS)})") from None
    return ".csv" if "," in first.split("\n", 1)[0] else ".xyz"
