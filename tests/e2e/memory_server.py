"""A real server with memory on 127.0.0.1 for the memory e2e tests: the built-in demo model, a memory store (a
SQLite file in a folder, or a PostgreSQL URL) and one API key per user. `Served` sends memory-route requests
as a user (`served.get("ana", "/items")`)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

MODEL = "vreason-demo"
KEYS = {"ana": "k-ana-7f3a", "bob": "k-bob-19c2", "carol": "k-carol-55d0", "dave": "k-dave-0b4e"}
PREFIX = "/v1/vreason/memory"
TIMEOUT_S = 120.0  # describing a new picture runs the model; a shared 2-core box is slow


@dataclass
class Served:
    url: str
    store: object
    http: httpx.Client  # one client for the module: a new one per request costs more than the request

    @staticmethod
    def auth(user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {KEYS[user]}"}

    def request(self, method: str, user: str, path: str, **kwargs) -> httpx.Response:
        headers = {**self.auth(user), **kwargs.pop("headers", {})}
        return self.http.request(method, self.url + PREFIX + path, headers=headers, timeout=TIMEOUT_S, **kwargs)

    def get(self, user: str, path: str, **kwargs) -> httpx.Response:
        return self.request("GET", user, path, **kwargs)

    def post(self, user: str, path: str, **kwargs) -> httpx.Response:
        return self.request("POST", user, path, **kwargs)

    def delete(self, user: str, path: str, **kwargs) -> httpx.Response:
        return self.request("DELETE", user, path, **kwargs)


def serve_with_memory(url: str | None = None, directory: Path | None = None) -> Iterator[Served]:
    from vreason import VReason
    from vreason.memory import open_store
    from vreason.server import ServerSettings, create_app, server_media_policy
    from vreason.server.launch import BackgroundServer

    store = open_store(url, str(directory) if directory else None)
    vr = VReason(media_policy=server_media_policy())
    settings = ServerSettings(served_model_names=(MODEL,), api_keys=tuple((k, u) for u, k in KEYS.items()))
    server = BackgroundServer(create_app(vr.engine, settings, memory=store))
    http = httpx.Client()
    try:
        yield Served(server.url, store, http)
    finally:
        http.close()
        server.stop()
        vr.close()
        store.close()
