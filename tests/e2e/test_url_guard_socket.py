"""The URL guard over real sockets: IPv6 forms that carry a private IPv4 address are refused, and the fetcher
connects to the very address it checked (one resolution per hop, Host header and TLS server name kept).

Server tests go through a real `vreason serve`-style server on the demo model; fetcher tests call `fetch_url`
against loopback listeners (plain HTTP and TLS with a certificate made here). The resolver is injected through
`MediaPolicy.resolver`: the only stand-in, since this machine cannot own a public address.
"""

from __future__ import annotations

import datetime
import http.server
import ipaddress
import socketserver
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import httpx
import pytest

from tests.conftest import png_bytes
from tests.e2e.demo_server import serve_demo
from vreason.errors import MediaError
from vreason.media.policy import MediaPolicy
from vreason.media.url_fetch import fetch_url, non_public_reason, system_resolver

PNG = png_bytes((32, 32), (200, 30, 30))


@dataclass
class Listener:
    """A loopback image server that records each request's Host header (and, over TLS, the SNI name)."""

    port: int
    hosts: list[str] = field(default_factory=list)
    sni: list[str | None] = field(default_factory=list)


def _listen(context: ssl.SSLContext | None = None) -> Iterator[Listener]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's naming)
            listener.hosts.append(self.headers.get("Host", ""))
            if self.path == "/moved.png":
                self.send_response(302)
                self.send_header("Location", "/x.png")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(PNG)))
            self.end_headers()
            self.wfile.write(PNG)

        def log_message(self, *args):
            pass

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    listener = Listener(server.server_address[1])
    if context is not None:
        context.sni_callback = lambda sock, name, ctx: listener.sni.append(name)
        server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield listener
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def listener() -> Iterator[Listener]:
    yield from _listen()


class Resolver:
    """Answers from a table (other hosts, IP literals included, go to the system resolver), and counts the
    questions (one per hop is the contract)."""

    def __init__(self):
        self.answers: dict[str, list[list[str]]] = {}
        self.asked: list[str] = []

    def __call__(self, host: str, port: int) -> list[str]:
        self.asked.append(host)
        if host not in self.answers:
            return system_resolver(host, port)
        queue = self.answers[host]
        return queue.pop(0) if len(queue) > 1 else queue[0]


@pytest.fixture(scope="module")
def resolver() -> Resolver:
    return Resolver()


@pytest.fixture(scope="module")
def server(resolver) -> Iterator[str]:
    from vreason.server import server_media_policy

    # The closed defaults of `vreason serve`, with the test's resolver.
    yield from serve_demo(replace(server_media_policy(), resolver=resolver, url_timeout_s=3.0))


def _chat(url: str, image_url: str) -> httpx.Response:
    body = {
        "model": "vreason-demo",
        "messages": [{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": image_url}}, {"type": "text", "text": "What color?"},
        ]}],
        "max_tokens": 2,
    }
    return httpx.post(url + "/v1/chat/completions", json=body, timeout=60)


# IPv6 spellings of 127.0.0.1 (and one of 10.0.0.1, 169.254.169.254) that used to count as global.
EMBEDDED_LOOPBACK = [
    ("::127.0.0.1", "IPv4-compatible"),
    ("::ffff:127.0.0.1", "IPv4-mapped"),
    ("::ffff:0:7f00:1", "IPv4-translated"),
    ("64:ff9b::7f00:1", "NAT64 well-known prefix"),
    ("64:ff9b::a00:1", "NAT64 to 10.0.0.1"),
    ("64:ff9b:1::7f00:1", "NAT64 local-use prefix"),
    ("2002:7f00:1::1", "6to4"),
    ("2002:a9fe:a9fe::1", "6to4 to the metadata address"),
    ("2001:0:4136:e378:8000:63bf:80ff:fffe", "Teredo"),
    ("fec0::1", "site-local"),
]


@pytest.mark.parametrize(("address", "form"), EMBEDDED_LOOPBACK, ids=[f for _, f in EMBEDDED_LOOPBACK])
def test_server_refuses_ipv6_forms_of_private_ipv4(server, listener, address, form):
    response = _chat(server, f"http://[{address}]:{listener.port}/x.png")
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["param"] == "messages[0].content[0]"
    assert f"non-public address {ipaddress.ip_address(address)}" in error["message"]
    assert "refused (private network)" in error["message"]
    assert listener.hosts == []


def test_public_embedded_forms_are_judged_by_their_ipv4_address():
    for public in ("64:ff9b::808:808", "2002:808:808::1", "::ffff:8.8.8.8", "2606:4700:4700::1111", "8.8.8.8"):
        assert non_public_reason(ipaddress.ip_address(public)) is None, public
    for private in ("100.64.0.1", "224.0.0.1", "239.1.2.3", "2001:db8::1", "ff02::1", "fe80::1", "fc00::1"):
        assert non_public_reason(ipaddress.ip_address(private)) is not None, private


def test_server_checks_every_resolved_address(server, resolver, listener):
    # A public answer first does not excuse a private one after it: the host is refused before any connection.
    resolver.answers["mixed.test"] = [["2606:4700:4700::1111", "::ffff:127.0.0.1"]]
    resolver.asked.clear()
    response = _chat(server, f"http://mixed.test:{listener.port}/x.png")
    assert response.status_code == 400, response.text
    assert "'mixed.test' resolves to non-public address ::ffff:7f00:1 (it carries the IPv4 address 127.0.0.1)" in (
        response.json()["error"]["message"]
    )
    assert resolver.asked == ["mixed.test"]
    assert listener.hosts == []


def test_server_refuses_a_second_answer_that_rebinds_to_loopback(server, resolver, listener):
    # The first answer is private: refused. A rebinding server's later answer is never asked for.
    resolver.answers["rebind.test"] = [["127.0.0.1"], ["2606:4700:4700::1111"]]
    resolver.asked.clear()
    response = _chat(server, f"http://rebind.test:{listener.port}/x.png")
    assert response.status_code == 400, response.text
    assert "non-public address 127.0.0.1" in response.json()["error"]["message"]
    assert resolver.asked == ["rebind.test"]
    assert listener.hosts == []


def _open_policy(resolver: Resolver) -> MediaPolicy:
    # Private addresses allowed, so loopback listeners can stand in for the address that was resolved.
    return MediaPolicy(allow_private_urls=True, resolver=resolver, url_timeout_s=3.0)


def test_fetcher_connects_to_the_resolved_address_once_per_hop(listener):
    # "pinned.test" exists only in the injected resolver: the system resolver cannot find it, so the fetch
    # succeeds only if the connection goes to the address the guard got. The second answer would be
    # unreachable; a fetcher that resolved again before connecting would fail.
    resolver = Resolver()
    resolver.answers["pinned.test"] = [["127.0.0.1"], ["127.0.0.1"], ["192.0.2.1"]]
    url = f"http://pinned.test:{listener.port}/moved.png"
    assert fetch_url(url, _open_policy(resolver), "img") == PNG
    assert resolver.asked == ["pinned.test", "pinned.test"]  # the redirect is a second hop, resolved again
    assert listener.hosts == [f"pinned.test:{listener.port}"] * 2


def test_fetcher_tries_the_next_checked_address_when_one_refuses(listener):
    # Nothing listens on 127.0.0.2 (the listener is bound to 127.0.0.1 only): refused, then the next address.
    resolver = Resolver()
    resolver.answers["two.test"] = [["127.0.0.2", "127.0.0.1"]]
    assert fetch_url(f"http://two.test:{listener.port}/x.png", _open_policy(resolver), "img") == PNG
    assert listener.hosts == [f"two.test:{listener.port}"]


def _certificate(tmp_path: Path, name: str) -> tuple[Path, Path]:
    """A self-signed certificate for `name` only (no IP address in it)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ))
    return cert_path, key_path


def test_fetcher_keeps_the_tls_server_name(tmp_path, monkeypatch):
    # The certificate names images.test only: the handshake succeeds only if the client sends that name (SNI)
    # and checks the certificate against it, while the TCP connection goes to 127.0.0.1.
    cert, key = _certificate(tmp_path, "images.test")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    resolver = Resolver()
    resolver.answers["images.test"] = [["127.0.0.1"]]
    for tls_listener in _listen(context):
        url = f"https://images.test:{tls_listener.port}/x.png"
        assert fetch_url(url, _open_policy(resolver), "img") == PNG
        assert tls_listener.sni == ["images.test"]
        assert tls_listener.hosts == [f"images.test:{tls_listener.port}"]
        # The same certificate does not pass for another name: verification is on, not bypassed.
        resolver.answers["other.test"] = [["127.0.0.1"]]
        with pytest.raises(MediaError, match="could not be fetched"):
            fetch_url(f"https://other.test:{tls_listener.port}/x.png", _open_policy(resolver), "img")
