"""Run the app under uvicorn: in the foreground for `vreason serve`, or on a background thread for tests and
benchmarks. Either way the engine is driven by uvicorn's event loop, and closed on that loop at shutdown.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Awaitable, Callable

import uvicorn
from fastapi import FastAPI

STARTUP_TIMEOUT_S = 30.0


class _Server(uvicorn.Server):
    def __init__(
        self,
        config: uvicorn.Config,
        on_ready: Callable[[str], None] | None = None,
        on_shutdown: Callable[[], Awaitable[None]] | None = None,
    ):
        super().__init__(config)
        self.on_ready = on_ready
        self.on_shutdown = on_shutdown
        self.url = ""

    async def startup(self, sockets=None) -> None:
        await super().startup(sockets)
        if self.started and self.servers:
            host, port = self.servers[0].sockets[0].getsockname()[:2]
            self.url = f"http://{f'[{host}]' if ':' in host else host}:{port}"
            if self.on_ready is not None:
                self.on_ready(self.url)

    async def shutdown(self, sockets=None) -> None:
        await super().shutdown(sockets)
        if self.on_shutdown is not None:
            await self.on_shutdown()


def _config(app: FastAPI, host: str, port: int, access_log: bool) -> uvicorn.Config:
    # uvicorn's own logging stays at warning: vreason prints its own start-up and ready lines.
    return uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=access_log,
                          timeout_graceful_shutdown=5)


def serve_app(
    app: FastAPI,
    host: str,
    port: int,
    on_ready: Callable[[str], None] | None = None,
    on_shutdown: Callable[[], Awaitable[None]] | None = None,
    access_log: bool = False,
) -> bool:
    """Serve until interrupted (Ctrl+C / SIGTERM). `on_ready(url)` runs once the socket accepts requests
    (port 0 resolved). Returns False when the server could not start (uvicorn logged why)."""
    server = _Server(_config(app, host, port, access_log), on_ready, on_shutdown)
    server.run()
    return server.started


class BackgroundServer:
    """The app on a daemon thread (own event loop), for tests and benchmarks: `url`, then `stop()`."""

    def __init__(self, app: FastAPI, host: str = "127.0.0.1", port: int = 0):
        self._server = _Server(_config(app, host, port, access_log=False))
        self._thread = threading.Thread(target=self._server.run, name="vreason-http", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while not self._server.url:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the HTTP server did not start on {host}:{port}")
            time.sleep(0.02)
        self.url = self._server.url

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
