"""Fetch image bytes over http(s) with a timeout, a size cap, a content-type check and an SSRF guard.

The guard resolves the host before every hop (the first request and each redirect) and refuses any
address that is not globally routable: loopback, private ranges, link-local (cloud metadata lives at
169.254.169.254), multicast, reserved and unspecified. It does not pin the resolved address for the
connection itself, so a DNS answer that changes between the check and the connect (rebinding) is not
caught; serve untrusted clients behind an egress proxy if that matters.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urljoin, urlsplit

import httpx

from vreason.errors import MediaError
from vreason.media.policy import MediaPolicy

ALLOWED_SCHEMES = ("http", "https")
# Servers that do not label images properly still send octet-stream; anything else (text/html) is an error page.
ACCEPTED_CONTENT_TYPES = ("image/", "application/octet-stream", "binary/octet-stream")
REDIRECT_CODES = (301, 302, 303, 307, 308)


def fetch_url(url: str, policy: MediaPolicy, label: str) -> bytes:
    """Return the body of `url` (following up to policy.max_redirects redirects), or raise MediaError."""
    current = url
    with httpx.Client(timeout=policy.url_timeout_s, follow_redirects=False) as client:
        for _ in range(policy.max_redirects + 1):
            _check_url(current, policy, label)
            try:
                with client.stream("GET", current, headers={"Accept": "image/*"}) as response:
                    if response.status_code in REDIRECT_CODES:
                        location = response.headers.get("location")
                        if not location:
                            raise MediaError(label, f"redirect {response.status_code} without a Location header")
                        current = urljoin(current, location)
                        continue
                    if response.status_code != 200:
                        raise MediaError(label, f"server answered HTTP {response.status_code}")
                    content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
                    if content_type and not content_type.startswith(ACCEPTED_CONTENT_TYPES):
                        raise MediaError(label, f"URL serves {content_type!r}, not an image")
                    return _read_capped(response, policy.max_bytes, label)
            except httpx.TimeoutException:
                raise MediaError(label, f"no answer within {policy.url_timeout_s:g} s") from None
            except httpx.HTTPError as err:
                raise MediaError(label, f"could not be fetched ({type(err).__name__}: {err})") from None
    raise MediaError(label, f"more than {policy.max_redirects} redirects")


def _read_capped(response: httpx.Response, max_bytes: int, label: str) -> bytes:
    declared = response.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise MediaError(label, f"{int(declared)} bytes is over the {max_bytes}-byte limit")
    chunks: list[bytes] = []
    total = 0
    for chunk in response.iter_bytes():
        total += len(chunk)
        if total > max_bytes:
            raise MediaError(label, f"more than the {max_bytes}-byte limit")
        chunks.append(chunk)
    return b"".join(chunks)


def _check_url(url: str, policy: MediaPolicy, label: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ALLOWED_SCHEMES:
        raise MediaError(label, f"URL scheme {parts.scheme!r} is not allowed (use http or https)")
    host = parts.hostname
    if not host:
        raise MediaError(label, "URL has no host")
    if policy.allowed_domains and not any(
        host == d or host.endswith("." + d) for d in policy.allowed_domains
    ):
        raise MediaError(label, f"host {host!r} is not in the allowed media domains")
    if policy.allow_private_urls:
        return
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except socket.gaierror as err:
        raise MediaError(label, f"host {host!r} does not resolve ({err.strerror})") from None
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%")[0])
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        if not address.is_global:
            raise MediaError(
                label, f"host {host!r} resolves to non-public address {address}; refused (private network)"
            )
