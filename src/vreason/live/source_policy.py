"""Which live sources may be opened under a media policy: its rules applied to stream URLs and local files.

`checked_source(spec, policy)` returns the `FrameSource` for a `source` string (a server session's, the web UI's
stream URL), or raises `SourceError` naming what is wrong, before anything is opened (the server answers it
with 400 `invalid_source`):

- network streams: rtsp(s)://, rtmp://, srt://, http(s):// (MJPEG, HLS). The host must resolve, be in the
  allowed domains when the server names some, and resolve only to public addresses unless the server allows
  private URLs (the same rule as image and video URLs, media/url_fetch.py). FFmpeg resolves the name again when
  it connects; a host whose DNS answer changes between the two (rebinding) is outside what this check can see,
  so a server that must be airtight against it names its allowed domains.
- udp:// and tcp:// listeners and camera devices (/dev/video*) are the server machine's own inputs: refused
  unless the server allows local media.
- a local video file (played in real time) or a folder of arriving images: only under the server's allowed
  local media directory (media/local_files.py), as for every other local input.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from urllib.parse import urlsplit

from vreason.errors import MediaError
from vreason.live.sources import FileSource, FolderSource, FrameSource, StreamSource
from vreason.live.types import SourceError
from vreason.media.local_files import checked_local_path
from vreason.media.policy import MediaPolicy
from vreason.media.url_fetch import non_public_reason, system_resolver

NETWORK_SCHEMES = ("rtsp", "rtsps", "rtmp", "srt", "http", "https")
LOCAL_SCHEMES = ("udp", "tcp")  # FFmpeg listens or connects from the server's own network position
DEFAULT_PORTS = {"rtsp": 554, "rtsps": 322, "rtmp": 1935, "http": 80, "https": 443}


def refused(message: str) -> SourceError:
    return SourceError(message)


def checked_source(spec: str, policy: MediaPolicy, attempts: int = 5) -> FrameSource:
    text = spec.strip()
    if not text:
        raise refused("source is empty; give a stream URL, or no source for a push session")
    if text.startswith("/dev/video"):
        if not policy.allow_local_files:
            raise refused(f"source {text}: camera devices of the server are not allowed here")
        return StreamSource(text, attempts=attempts)
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme in NETWORK_SCHEMES:
        _check_host(text, parts.hostname, _port(parts, scheme), policy)
        return StreamSource(text, attempts=attempts)
    if scheme in LOCAL_SCHEMES:
        if not (policy.allow_local_files and policy.allow_private_urls):
            raise refused(f"source {text}: {scheme}:// inputs of the server are not allowed here")
        return StreamSource(text, attempts=attempts)
    if scheme == "file":
        text = parts.path
    elif scheme and len(scheme) > 1:  # (a Windows drive letter is not a scheme)
        raise refused(f"source scheme {scheme!r} is not supported; use rtsp, rtmp, srt, http(s) or push frames")
    return _local(Path(text), policy)


def _local(path: Path, policy: MediaPolicy) -> FrameSource:
    label = f"source {path}"
    if policy.allow_local_files and path.expanduser().is_dir():
        resolved = path.expanduser().resolve()
        if policy.allowed_local_dir is not None and not resolved.is_relative_to(policy.allowed_local_dir):
            raise refused(f"{label}: is outside the allowed media directory {policy.allowed_local_dir}")
        return FolderSource(resolved)
    try:
        resolved = checked_local_path(path, policy, label, "video", policy.max_video_bytes)
    except MediaError as err:
        raise refused(str(err)) from None
    return FileSource(resolved, realtime=True)


def _port(parts, scheme: str) -> int:
    try:
        return parts.port or DEFAULT_PORTS.get(scheme, 0)
    except ValueError:
        raise refused(f"source {parts.geturl()}: invalid port") from None


def _check_host(url: str, host: str | None, port: int, policy: MediaPolicy) -> None:
    if not host:
        raise refused(f"source {url}: the URL has no host")
    if policy.allowed_domains and not any(host == d or host.endswith("." + d) for d in policy.allowed_domains):
        raise refused(f"source {url}: host {host!r} is not in the allowed media domains")
    resolve = policy.resolver or system_resolver
    try:
        answers = [str(ipaddress.ip_address(host))] if _is_address(host) else resolve(host, port)
    except OSError as err:
        raise refused(f"source {url}: host {host!r} does not resolve ({err.strerror or err})") from None
    if not answers:
        raise refused(f"source {url}: host {host!r} does not resolve")
    for answer in answers:
        try:
            address = ipaddress.ip_address(answer)
        except ValueError:
            raise refused(f"source {url}: host {host!r} resolves to {answer!r}, not an IP address") from None
        reason = None if policy.allow_private_urls else non_public_reason(address)
        if reason is not None:
            raise refused(f"source {url}: host {host!r} resolves to {reason}; refused (private network)")


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
