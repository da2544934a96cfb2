"""Fetch image bytes over http(s) with a timeout, a size cap, a content-type check and an SSRF guard.

The guard resolves the host once per hop (the first request and each redirect), refuses the hop unless every
resolved address is public, and then connects to one of exactly those addresses (the URL's host stays in the
Host header and in the TLS server name, so virtual hosts and certificate checks work as before). A second DNS
answer (rebinding) therefore never reaches the socket. "Public" means global unicast: loopback, private,
link-local (cloud metadata lives at 169.254.169.254), shared, multicast, reserved, unspecified and site-local
addresses are refused, and an IPv6 address that carries an IPv4 destination (IPv4-mapped, IPv4-compatible,
IPv4-translated, NAT64 64:ff9b::/96, 6to4 2002::/16) is judged by that IPv4 address. Teredo and the local-use
NAT64 prefix hide or choose their IPv4 destination elsewhere and are refused outright.

Proxies from the environment are not used: the guard must connect to the address it checked.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Callable
from typing import TYPE_CHECKING
from urllib.parse import urljoin, urlsplit

from vreason.errors import MediaError
from vreason.media.policy import MediaPolicy

if TYPE_CHECKING:
    import httpx

ALLOWED_SCHEMES = ("http", "https")
# Servers that do not label images properly still send octet-stream; anything else (text/html) is an error page.
ACCEPTED_CONTENT_TYPES = ("image/", "application/octet-stream", "binary/octet-stream")
REDIRECT_CODES = (301, 302, 303, 307, 308)

# (host, port) -> the addresses to try, in order; raises OSError when the name does not resolve.
Resolver = Callable[[str, int], list[str]]

IPv4 = ipaddress.IPv4Address
IPv6 = ipaddress.IPv6Address
GLOBAL_UNICAST_V6 = ipaddress.IPv6Network("2000::/3")
# IPv6 ranges whose last 32 bits are the IPv4 destination (RFC 4291 compatible, RFC 2765 translated, RFC 6052).
IPV4_IN_LAST_32_BITS = (
    ipaddress.IPv6Network("::/96"),
    ipaddress.IPv6Network("::ffff:0:0:0/96"),
    ipaddress.IPv6Network("64:ff9b::/96"),
)
# Teredo (RFC 4380) obfuscates its client address and goes through a relay; the local-use NAT64 prefix (RFC 8215)
# embeds IPv4 wherever its operator chose. Neither destination can be checked.
UNCHECKABLE_V6 = (ipaddress.IPv6Network("2001::/32"), ipaddress.IPv6Network("64:ff9b:1::/48"))


def system_resolver(host: str, port: int) -> list[str]:
    """The addresses getaddrinfo gives for a TCP connection, without duplicates, in its order."""
    addresses: list[str] = []
    for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM):
        address = str(info[4][0]).split("%")[0]  # drop an IPv6 zone id
        if address not in addresses:
            addresses.append(address)
    return addresses


def non_public_reason(address: IPv4 | IPv6) -> str | None:
    """Why a fetch must not connect to `address` (None when it is global unicast)."""
    if isinstance(address, IPv6):
        if any(address in net for net in UNCHECKABLE_V6):
            return f"non-public address {address} (Teredo or local-use NAT64: its IPv4 destination cannot be checked)"
        inner = embedded_ipv4(address)
        if inner is not None:
            if non_public_reason(inner) is None:
                return None
            return f"non-public address {address} (it carries the IPv4 address {inner})"
        if address not in GLOBAL_UNICAST_V6 or not address.is_global:
            return f"non-public address {address}"
        return None
    if not address.is_global or address.is_multicast:
        return f"non-public address {address}"
    return None


def embedded_ipv4(address: IPv6) -> IPv4 | None:
    """The IPv4 address a packet to `address` ends up at, for the IPv6 forms that carry one."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if any(address in net for net in IPV4_IN_LAST_32_BITS):
        return IPv4(int(address) & 0xFFFFFFFF)
    return None


def fetch_url(
    url: str,
    policy: MediaPolicy,
    label: str,
    accepted: tuple[str, ...] = ACCEPTED_CONTENT_TYPES,
    what: str = "an image",
) -> bytes:
    """Return the body of `url` (following up to policy.max_redirects redirects), or raise MediaError.
    `accepted`: the content types taken (prefixes); `what` names the expected media in the refusal."""
    import httpx  # here, not at import: ~130 ms of every start (an image from a file or the request) saved

    resolve = policy.resolver or system_resolver
    # url_timeout_s bounds the whole fetch (every hop, the body included), not each read: a server that trickles
    # one byte a second would otherwise hold a worker thread for as long as it likes.
    deadline = time.monotonic() + policy.url_timeout_s
    # trust_env=False keeps proxy variables out (see the module docstring); SSL_CERT_FILE / SSL_CERT_DIR still count.
    tls = httpx.create_ssl_context(trust_env=True)
    current = url
    with httpx.Client(timeout=policy.url_timeout_s, follow_redirects=False, trust_env=False, verify=tls) as client:
        for _ in range(policy.max_redirects + 1):
            if time.monotonic() > deadline:
                raise MediaError(label, f"no answer within {policy.url_timeout_s:g} s")
            addresses = _checked_addresses(current, policy, label, resolve)
            try:
                response = _open_pinned(client, current, addresses)
                try:
                    if response.status_code in REDIRECT_CODES:
                        location = response.headers.get("location")
                        if not location:
                            raise MediaError(label, f"redirect {response.status_code} without a Location header")
                        current = urljoin(current, location)
                        continue
                    if response.status_code != 200:
                        raise MediaError(label, f"server answered HTTP {response.status_code}")
                    content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
                    if content_type and not content_type.startswith(accepted):
                        raise MediaError(label, f"URL serves {content_type!r}, not {what}")
                    return _read_capped(response, policy, label, deadline)
                finally:
                    response.close()
            except httpx.TimeoutException:
                raise MediaError(label, f"no answer within {policy.url_timeout_s:g} s") from None
            except httpx.HTTPError as err:
                raise MediaError(label, f"could not be fetched ({type(err).__name__}: {err})") from None
    raise MediaError(label, f"more than {policy.max_redirects} redirects")


def _open_pinned(client: httpx.Client, url: str, addresses: list[str]) -> httpx.Response:
    """The streamed GET of `url`, connected to the first of `addresses` that accepts a connection.

    The request goes to the address itself; the URL's host is kept as the Host header and as the TLS server name
    (SNI, and the name the certificate is checked against).
    """
    import httpx

    original = httpx.URL(url)
    headers = {"Accept": "image/*", "Host": original.netloc.decode("ascii")}
    extensions = {"sni_hostname": original.host} if original.scheme == "https" else {}
    for i, address in enumerate(addresses):
        request = client.build_request(
            "GET", original.copy_with(host=address), headers=headers, extensions=extensions
        )
        try:
            return client.send(request, stream=True)
        except httpx.ConnectError:
            if i == len(addresses) - 1:
                raise
    raise AssertionError("_checked_addresses returns at least one address")


def _read_capped(response: httpx.Response, policy: MediaPolicy, label: str, deadline: float) -> bytes:
    max_bytes = policy.max_bytes
    declared = response.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise MediaError(label, f"{int(declared)} bytes is over the {max_bytes}-byte limit")
    chunks: list[bytes] = []
    total = 0
    for chunk in response.iter_bytes():
        total += len(chunk)
        if total > max_bytes:
            raise MediaError(label, f"more than the {max_bytes}-byte limit")
        if time.monotonic() > deadline:
            raise MediaError(label, f"not fully sent within {policy.url_timeout_s:g} s")
        chunks.append(chunk)
    return b"".join(chunks)


def _checked_addresses(url: str, policy: MediaPolicy, label: str, resolve: Resolver) -> list[str]:
    """The addresses this hop may connect to: the host resolved once, every answer checked."""
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
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise MediaError(label, "URL has an invalid port") from None
    try:
        answers = resolve(host, port)
    except OSError as err:
        raise MediaError(label, f"host {host!r} does not resolve ({err.strerror or err})") from None
    if not answers:
        raise MediaError(label, f"host {host!r} does not resolve (no addresses)")
    addresses = []
    for answer in answers:
        try:
            address = ipaddress.ip_address(answer)
        except ValueError:
            raise MediaError(label, f"host {host!r} resolves to {answer!r}, not an IP address") from None
        reason = None if policy.allow_private_urls else non_public_reason(address)
        if reason is not None:
            raise MediaError(label, f"host {host!r} resolves to {reason}; refused (private network)")
        addresses.append(str(address))
    return addresses
