"""A real server on 127.0.0.1 over the built-in demo model, for e2e tests that need an engine but no particular
model: `serve_demo(policy, **settings)` yields the base URL and stops the server and the engine afterwards."""

from __future__ import annotations

from collections.abc import Iterator

from vreason.media import MediaPolicy


def serve_demo(policy: MediaPolicy | None = None, **settings) -> Iterator[str]:
    from vreason import VReason
    from vreason.server import ServerSettings, create_app, server_media_policy
    from vreason.server.launch import BackgroundServer

    vr = VReason(media_policy=policy or server_media_policy())
    server = BackgroundServer(create_app(vr.engine, ServerSettings(**settings)))
    try:
        yield server.url
    finally:
        server.stop()
        vr.close()
