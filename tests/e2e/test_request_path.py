"""The request path over a real socket: which thread each hop of a chat completion runs on.

route -> media step -> engine front -> scheduler -> runner and back: the route, the media step and the
engine's front end run on the server's event loop; only the scheduler and the runner run on the engine
thread. Each hop is wrapped to record the thread it ran on (the wrappers call the real code).
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator

import openai
import pytest

from tests.conftest import png_bytes

pytestmark = pytest.mark.slow

HOPS = [
    ("vreason.server.completions", "ChatCompletions", "handle"),
    ("vreason.media_step", "MediaResolver", "resolve"),
    ("vreason.engine.local_engine", "LocalEngine", "prepare"),
    ("vreason.engine.scheduler", "Scheduler", "schedule"),
    ("vreason.engine.batch_runner", "BatchRunner", "execute_prefill"),
    ("vreason.engine.batch_runner", "BatchRunner", "execute_decode"),
    ("vreason.engine.scheduler", "Scheduler", "update_from_output"),
]


@pytest.fixture(scope="module")
def traced(tiny_model_dir) -> Iterator[tuple[openai.OpenAI, dict[str, set[str]]]]:
    import importlib

    from vreason.engine.factory import EngineSpec, build_engine
    from vreason.server.app import create_app
    from vreason.server.launch import BackgroundServer

    seen: dict[str, set[str]] = {}
    patch = pytest.MonkeyPatch()
    for module_name, class_name, method_name in HOPS:
        cls = getattr(importlib.import_module(module_name), class_name)
        original = getattr(cls, method_name)
        hop = f"{class_name}.{method_name}"

        def record(hop: str = hop) -> None:
            seen.setdefault(hop, set()).add(threading.current_thread().name)

        if method_name == "handle":  # a coroutine function: record when it runs, not when it is called
            async def wrapper(*args, _original=original, _record=record, **kwargs):
                _record()
                return await _original(*args, **kwargs)
        else:
            def wrapper(*args, _original=original, _record=record, **kwargs):
                _record()
                return _original(*args, **kwargs)
        patch.setattr(cls, method_name, functools.wraps(original)(wrapper))
    engine = build_engine(EngineSpec(model=str(tiny_model_dir), dtype="float32"))
    server = BackgroundServer(create_app(engine))
    client = openai.OpenAI(base_url=server.url + "/v1", api_key="unused", max_retries=0)
    try:
        yield client, seen
    finally:
        client.close()
        server.stop()
        engine.shutdown()
        patch.undo()


def test_a_chat_completion_hops_only_onto_the_engine_thread(traced):
    client, seen = traced
    seen.clear()
    reply = client.chat.completions.create(
        model=client.models.list().data[0].id, messages=[{"role": "user", "content": "Hello"}], max_tokens=3,
        temperature=0,
    )
    assert reply.choices[0].finish_reason in ("stop", "length")
    loop_thread = seen["ChatCompletions.handle"]
    assert loop_thread == {"vreason-http"}  # the server's event loop
    assert seen["MediaResolver.resolve"] == loop_thread
    assert seen["LocalEngine.prepare"] == loop_thread
    for hop in ("Scheduler.schedule", "BatchRunner.execute_prefill", "BatchRunner.execute_decode",
                "Scheduler.update_from_output"):
        assert seen[hop] == {"vreason-engine"}, hop


def test_pixel_work_of_an_image_request_leaves_the_event_loop(traced):
    import base64

    client, seen = traced
    seen.clear()
    image = "data:image/png;base64," + base64.b64encode(png_bytes((64, 48))).decode()
    content = [{"type": "image_url", "image_url": {"url": image}}, {"type": "text", "text": "Colour?"}]
    client.chat.completions.create(
        model=client.models.list().data[0].id, messages=[{"role": "user", "content": content}], max_tokens=2,
    )
    assert seen["ChatCompletions.handle"] == {"vreason-http"}
    # decoding and resizing would stall every other stream on the loop: a worker thread does it
    assert "vreason-http" not in seen["MediaResolver.resolve"]
    assert {name.rsplit("_", 1)[0] for name in seen["LocalEngine.prepare"]} == {"vreason-prepare"}
    assert seen["BatchRunner.execute_prefill"] == {"vreason-engine"}
