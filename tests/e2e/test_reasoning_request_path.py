"""The reasoning routes' request path over a real socket: the route awaits the reasoning function on the server's
event loop, and every engine request of it starts from that same loop and thread (no worker thread, no second
loop in between). The engine is the real one, wrapped to record where each `generate` call comes from.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import png_bytes

pytestmark = pytest.mark.slow

Where = tuple[str, asyncio.AbstractEventLoop | None]


def where() -> Where:
    try:
        loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
    except RuntimeError:  # a thread with no event loop: exactly what must not happen
        loop = None
    return threading.current_thread().name, loop


class RecordingEngine:
    """The real engine; `generate` notes the thread and event loop it is called from, then runs the request."""

    def __init__(self, engine: Any):
        self.inner = engine
        self.calls: list[Where] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def generate(self, request: Any) -> Any:
        self.calls.append(where())
        return self.inner.generate(request)


@pytest.fixture(scope="module")
def traced(tiny_model_dir) -> Iterator[tuple[str, RecordingEngine, dict[str, list[Where]]]]:
    from vreason.engine.factory import EngineSpec, build_engine
    from vreason.reasoning import chains
    from vreason.server import reasoning_routes
    from vreason.server.app import create_app
    from vreason.server.launch import BackgroundServer

    handlers: dict[str, list[Where]] = {}
    patch = pytest.MonkeyPatch()
    for name in ("arun_chain", "aask_tiled"):  # the functions the routes await, recorded where they run
        original = getattr(reasoning_routes, name)

        async def recorded(*args: Any, _original: Any = original, _name: str = name, **kwargs: Any) -> Any:
            handlers.setdefault(_name, []).append(where())
            return await _original(*args, **kwargs)

        patch.setattr(reasoning_routes, name, functools.wraps(original)(recorded))
    # a plain function inside the chain's body: where the chain's own code runs, whatever calls it
    fill = chains.fill_placeholders

    def recorded_fill(*args: Any, **kwargs: Any) -> str:
        handlers.setdefault("fill_placeholders", []).append(where())
        return fill(*args, **kwargs)

    patch.setattr(chains, "fill_placeholders", recorded_fill)
    engine = RecordingEngine(build_engine(EngineSpec(model=str(tiny_model_dir), dtype="float32")))
    server = BackgroundServer(create_app(engine))  # type: ignore[arg-type]
    try:
        yield server.url, engine, handlers
    finally:
        server.stop()
        engine.inner.shutdown()
        patch.undo()


@pytest.fixture(scope="module")
def picture() -> str:
    return "data:image/png;base64," + base64.b64encode(png_bytes((64, 48))).decode()


def test_a_reasoning_route_sends_every_engine_request_from_its_own_loop_thread(traced, picture, started_threads):
    url, engine, handlers = traced
    engine.calls.clear()
    handlers.clear()
    body = {"images": [picture], "steps": ["What is it?", "And its colour, given {previous}?"], "vote": 3,
            "seed": 7, "max_tokens": 2}
    response = httpx.post(url + "/v1/vreason/reason", json=body, timeout=120)
    assert response.status_code == 200, response.text
    assert len(response.json()["steps"]) == 2

    [(handler_thread, handler_loop)] = handlers["arun_chain"]
    assert handler_thread == "vreason-http"  # the server's event loop thread, not a worker
    assert handler_loop is not None
    assert handlers["fill_placeholders"] == [(handler_thread, handler_loop)] * 2  # the chain runs on the loop too
    assert len(engine.calls) == 2 * 3  # two steps, three samples each
    assert engine.calls == [(handler_thread, handler_loop)] * 6
    # The only threads a request may start are pixel workers: the event loop's that decode the image
    # (asyncio.to_thread) and the engine's that prepare it (started on first use): no pool of reasoning workers,
    # no thread per sample, no loop thread of a VReason.
    assert all(name.startswith(("asyncio_", "vreason-prepare_")) for name in started_threads), started_threads


def test_the_tile_route_batches_its_tiles_from_the_loop_thread(traced, picture):
    url, engine, handlers = traced
    engine.calls.clear()
    handlers.clear()
    body = {"image": picture, "question": "What colour?", "grid": "2x2", "skip_blank": False, "max_tokens": 2}
    response = httpx.post(url + "/v1/vreason/tile", json=body, timeout=120)
    assert response.status_code == 200, response.text
    [(handler_thread, handler_loop)] = handlers["aask_tiled"]
    assert handler_thread == "vreason-http"
    assert engine.calls == [(handler_thread, handler_loop)] * 5  # four tiles and the overview
