"""RemoteEngine's HTTP layer against real HTTP servers on 127.0.0.1 that speak the OpenAI streaming protocol
with scripted behaviour (errors, stalls, dropped connections), the cases a real upstream shows only by luck.

The same engine against real `vreason serve` processes is in test_remote_backend_serve.py.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.conftest import png_bytes
from vreason.engine.backends import RemoteEngine
from vreason.engine.backends.health import HealthPolicy
from vreason.engine.backends.upstream_errors import UpstreamError, UpstreamUnavailableError
from vreason.engine.interface import GenerationRequest
from vreason.engine.sampling import GREEDY, OutputFormat
from vreason.engine.types import Answer, Message, StreamDelta
from vreason.errors import EngineOverloadedError, InvalidRequestError, MediaError, RequestTimeoutError
from vreason.media import MediaPolicy
from vreason.media_step import make_request


@dataclass
class Script:
    """What the upstream does with the next chat request."""

    tokens: list[str] = field(default_factory=lambda: ["Hel", "lo", " there"])
    reasoning: list[str] = field(default_factory=list)
    status: int = 200
    error: dict | None = None  # body of a non-200 answer
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0  # before each chunk
    drop_after: int | None = None  # close the connection after this many tokens, without finishing
    finish_reason: str = "stop"


class Upstream:
    """A real HTTP server: GET /v1/models, POST /v1/chat/completions streaming scripted chunks."""

    def __init__(self, model: str = "scripted-qwen3-vl", port: int = 0):
        self.model = model
        self.scripts: list[Script] = []  # consumed in order; the default Script when empty
        self.requests: list[dict] = []
        self.probes = 0
        self.disconnects = 0  # streams the client closed before the end
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):  # noqa: N802 (http.server's naming)
                upstream.probes += 1
                self._json(200, {"object": "list", "data": [{"id": upstream.model, "object": "model"}]})

            def do_POST(self):  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                upstream.requests.append({"body": body, "auth": self.headers.get("Authorization")})
                script = upstream.scripts.pop(0) if upstream.scripts else Script()
                if script.status != 200:
                    self._json(script.status, script.error or {"error": {"message": "scripted"}}, script.headers)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Connection", "close")
                self.end_headers()
                chunks = [{"reasoning_content": r} for r in script.reasoning] + [{"content": t} for t in script.tokens]
                try:
                    for i, delta in enumerate(chunks):
                        if script.drop_after is not None and i >= script.drop_after:
                            self.wfile.flush()
                            self.connection.shutdown(socket.SHUT_RDWR)
                            return
                        time.sleep(script.delay_s)
                        self._event({"model": upstream.model, "choices": [{"index": 0, "delta": delta}]})
                    self._event({"choices": [{"index": 0, "delta": {}, "finish_reason": script.finish_reason}]})
                    self._event({"choices": [], "usage": {"prompt_tokens": 11, "completion_tokens": len(chunks)}})
                    self.wfile.write(b"data: [DONE]\n\n")
                except (BrokenPipeError, ConnectionResetError):
                    upstream.disconnects += 1

            def _event(self, data: dict) -> None:
                self.wfile.write(f"data: {json.dumps(data)}\n\n".encode())
                self.wfile.flush()

            def _json(self, status: int, data: dict, headers: dict | None = None) -> None:
                raw = json.dumps(data).encode()
                self.send_response(status)
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def upstreams() -> Iterator[list[Upstream]]:
    servers = [Upstream(), Upstream()]
    yield servers
    for server in servers:
        server.stop()


def collect(engine: RemoteEngine, request) -> tuple[list[StreamDelta], Answer]:
    async def run():
        deltas, answer = [], None
        async for event in engine.generate(request):
            if isinstance(event, Answer):
                answer = event
            else:
                deltas.append(event)
        return deltas, answer

    return asyncio.run(run())


def ask(text: str = "What color?", images=(), **kwargs):
    return make_request([Message.user(text, list(images))], GREEDY, **kwargs)


def test_streams_text_usage_and_sends_images_as_data_uris(upstreams):
    up = upstreams[0]
    engine = RemoteEngine([up.url], api_key="sk-test")
    assert engine.model_name == "scripted-qwen3-vl"  # discovered from GET /v1/models
    assert not engine.demo_family  # only a vreason server's "vreason-demo" is taken for the built-in model
    assert not engine.default_params.greedy  # Qwen's recommendation for a Qwen model
    assert RemoteEngine([up.url], model="vreason-demo").demo_family
    assert RemoteEngine([up.url], model="vreason-demo").default_params.greedy  # as the built-in answers locally
    schema = json.dumps({"type": "object", "properties": {"color": {"type": "string"}}})
    params = GREEDY.updated(max_new_tokens=7, stop=("END",), seed=3,
                            output_format=OutputFormat("json_schema", schema))
    request = make_request([Message.user("What color?", [png_bytes(size=(100, 70))])], params)
    deltas, answer = collect(engine, request)
    assert "".join(d.text for d in deltas) == answer.text == "Hello there"
    assert {d.channel for d in deltas} == {"text"}
    assert answer.finish_reason == "stop"
    assert (answer.usage.prompt_tokens, answer.usage.completion_tokens) == (11, 3)
    assert answer.usage.image_tokens == 6  # 100x70 -> 96x64 at the default budget: 3x2 tokens of 32x32
    sent = up.requests[0]
    assert sent["auth"] == "Bearer sk-test"
    body = sent["body"]
    assert body["model"] == "scripted-qwen3-vl"
    assert body["stream"] is True
    assert (body["max_tokens"], body["temperature"], body["stop"], body["seed"]) == (7, 0.0, ["END"], 3)
    assert body["response_format"]["json_schema"]["schema"] == json.loads(schema)
    image, question = body["messages"][0]["content"]
    assert image["image_url"]["url"].startswith("data:image/png;base64,")
    assert question == {"type": "text", "text": "What color?"}


def test_reasoning_goes_to_the_thinking_channel(upstreams):
    up = upstreams[0]
    up.scripts = [Script(reasoning=["Looking", " closely."], tokens=["red"]),
                  Script(tokens=["<think>", "hmm</think>", "\n\nblue"])]
    engine = RemoteEngine([up.url], model="remote-Thinking")
    assert engine.thinking
    deltas, answer = collect(engine, ask())
    assert "".join(d.text for d in deltas if d.channel == "thinking") == answer.thinking == "Looking closely."
    assert answer.text == "red"
    deltas, answer = collect(engine, ask())  # an upstream without a reasoning parser: split like a local answer
    assert (answer.thinking, answer.text) == ("hmm", "blue")
    assert "".join(d.text for d in deltas if d.channel == "text") == "blue"


def test_upstream_errors_become_vreason_errors(upstreams):
    up = upstreams[0]
    engine = RemoteEngine([up.url], max_retries=0)
    up.scripts = [Script(status=400, error={"error": {"message": "max_tokens is too large", "param": "max_tokens",
                                                      "type": "invalid_request_error"}})]
    with pytest.raises(InvalidRequestError, match="max_tokens is too large") as err:
        collect(engine, ask())
    assert err.value.param == "max_tokens"
    up.scripts = [Script(status=429, error={"error": {"message": "queue full"}}, headers={"Retry-After": "3"})]
    with pytest.raises(EngineOverloadedError, match="queue full") as err:
        collect(engine, ask())
    assert err.value.retry_after_s == 3.0
    up.scripts = [Script(status=500, error={"object": "error", "message": "engine crashed"})]  # vLLM's flat shape
    with pytest.raises(UpstreamError, match="engine crashed"):
        collect(engine, ask())
    assert len(up.requests) == 3  # no retries with max_retries=0


def test_media_policy_applies_before_anything_is_sent(upstreams, image_file):
    from vreason.async_api import AsyncVReason

    up = upstreams[0]
    engine = RemoteEngine([up.url], policy=MediaPolicy(allow_local_files=False))
    with pytest.raises(MediaError, match="local files are not allowed"):
        asyncio.run(AsyncVReason(engine).ask([str(image_file)], "What color?"))  # the media step of the engine's policy
    with pytest.raises(InvalidRequestError, match="reached the engine unresolved"):
        collect(engine, GenerationRequest([Message.user("q", [str(image_file)])], GREEDY))  # never read by the engine
    assert up.requests == []


def test_overloaded_upstream_is_retried_on_the_other(upstreams):
    first, second = upstreams
    first.scripts = [Script(status=503, error={"error": {"message": "busy"}})] * 5
    second.scripts = [Script(status=503, error={"error": {"message": "busy"}})] * 5
    engine = RemoteEngine([first.url, second.url], backoff_s=0.01, max_backoff_s=0.02)
    with pytest.raises(EngineOverloadedError):  # both busy for all 3 attempts
        collect(engine, ask())
    first.scripts, second.scripts = [Script(status=503, error={"error": {"message": "busy"}})], []
    engine = RemoteEngine([first.url, second.url], backoff_s=0.01)
    for _ in range(2):
        _, answer = collect(engine, ask())
        assert answer.text == "Hello there"


def test_timeouts(upstreams):
    up = upstreams[0]
    up.scripts = [Script(delay_s=0.5)]
    engine = RemoteEngine([up.url], read_timeout_s=0.2, max_retries=0)
    with pytest.raises(RequestTimeoutError, match="timed out"):
        collect(engine, ask())
    up.scripts = [Script(tokens=["a"] * 20, delay_s=0.05)]
    engine = RemoteEngine([up.url], max_retries=0)
    started = time.perf_counter()
    with pytest.raises(RequestTimeoutError, match="deadline"):
        collect(engine, ask(timeout_s=0.3))
    assert time.perf_counter() - started < 0.8


def test_a_wait_cut_short_by_the_callers_deadline_does_not_count_against_the_upstream(upstreams):
    up = upstreams[0]
    engine = RemoteEngine([up.url], max_retries=0, health=HealthPolicy(fail_threshold=1))
    upstream = engine.upstreams[0]
    up.scripts = [Script(delay_s=0.5)]  # slower than the caller allows, well within the engine's read timeout
    with pytest.raises(RequestTimeoutError, match="deadline"):
        collect(engine, ask(timeout_s=0.2))
    assert upstream.available
    assert upstream.health.consecutive_failures == 0


def test_broken_stream_retried_only_when_nothing_reached_the_caller(upstreams):
    first, second = upstreams
    second.scripts = first.scripts  # one script list: the next request, wherever it lands, gets it
    engine = RemoteEngine([first.url, second.url], backoff_s=0.01)
    # Not streaming: the caller has seen nothing yet, so the request moves to the other upstream and succeeds.
    first.scripts.append(Script(drop_after=2))
    _, answer = collect(engine, ask(stream=False))
    assert answer.text == "Hello there"
    assert (len(first.requests), len(second.requests)) == (1, 1)
    # Streaming: two tokens already reached the caller, so a retry would repeat them; the error says so.
    first.scripts.append(Script(drop_after=2))
    seen: list[StreamDelta] = []

    async def stream() -> None:
        async for event in engine.generate(ask(stream=True)):
            seen.append(event)

    with pytest.raises(UpstreamError, match="already sent"):
        asyncio.run(stream())
    assert "".join(d.text for d in seen) == "Hello"
    assert len(first.requests) + len(second.requests) == 3


def test_refused_upstream_is_taken_out_and_put_back(upstreams):
    live = upstreams[0]
    with socket.socket() as probe:  # a port with nothing listening (yet)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    engine = RemoteEngine([f"http://127.0.0.1:{port}", live.url], health=HealthPolicy(interval_s=0.1))
    dead = engine.upstreams[0]
    assert not dead.available  # did not answer GET /models at start

    async def scenario():
        for _ in range(4):
            async for _event in engine.generate(ask()):
                pass
        revived = Upstream(port=port)
        try:
            for _ in range(50):
                if dead.available:
                    break
                await asyncio.sleep(0.05)
            assert dead.available
            for i in range(16):  # new conversations: rendezvous hashing sends about half to each
                async for _event in engine.generate(ask(conversation_id=f"c{i}")):
                    pass
            return revived
        finally:
            await engine.close()
            revived.stop()

    revived = asyncio.run(scenario())
    assert len(live.requests) >= 4
    assert revived.requests  # back in rotation, it takes its share
    assert dead.health.times_put_back == 1


def test_no_upstream_available_is_a_clear_overload_error():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    engine = RemoteEngine([f"http://127.0.0.1:{port}"], model="m", backoff_s=0.01)
    with pytest.raises(UpstreamUnavailableError, match="no upstream is available|refused the connection"):
        collect(engine, ask())


def test_abort_stops_the_request(upstreams):
    up = upstreams[0]
    up.scripts = [Script(tokens=["x"] * 100, delay_s=0.02)]
    engine = RemoteEngine([up.url])
    request = ask()

    async def scenario():
        events = []
        async for event in engine.generate(request):
            events.append(event)
            if len(events) == 3:
                await engine.abort(request.request_id)
        return events

    events = asyncio.run(scenario())
    answer = events[-1]
    assert isinstance(answer, Answer)
    assert answer.finish_reason == "abort"
    assert len(answer.text) < 20
    assert engine.stats().aborted_total == 1


def test_a_caller_that_stops_reading_closes_the_upstream_stream(upstreams):
    up = upstreams[0]
    up.scripts = [Script(tokens=["x "] * 200, delay_s=0.01)]
    engine = RemoteEngine([up.url])

    async def scenario():
        stream = engine.generate(ask())
        for _ in range(2):
            await stream.__anext__()
        await stream.aclose()  # what a client disconnect or a `break` does
        for _ in range(100):
            if up.disconnects:
                break
            await asyncio.sleep(0.01)

    asyncio.run(scenario())
    assert up.disconnects == 1  # the upstream saw the disconnect long before its 200 tokens were out
    (upstream,) = engine.upstreams
    assert (upstream.outstanding, upstream.failed_total) == (0, 0)
    assert engine.stats().waiting + engine.stats().running == 0


def test_conversation_turns_stay_on_one_upstream(upstreams):
    engine = RemoteEngine([u.url for u in upstreams])
    picture = png_bytes(size=(64, 64))
    history = [Message.system("Be brief."), Message.user("What color?", [picture])]

    async def conversation():
        messages = list(history)
        for turn in range(3):
            answer = None
            async for event in engine.generate(make_request(messages, GREEDY)):
                answer = event
            messages += [Message.assistant(answer.text), Message.user(f"And now {turn}?")]

    asyncio.run(conversation())
    counts = sorted(len(u.requests) for u in upstreams)
    assert counts == [0, 3]  # every turn hashed to the same first messages, so the same upstream


def test_an_engine_used_from_two_event_loops_keeps_one_health_monitor_running(upstreams):
    from vreason import VReason

    up = upstreams[0]
    up.scripts = [Script(), Script(), Script()]
    vr = VReason(engine=RemoteEngine([up.url], health=HealthPolicy(interval_s=0.05)))
    try:
        vr.ask(None, "q")  # the VReason's own loop thread
        first_monitor = vr.engine._monitor
        asyncio.run(vr.aio.ask(None, "q"))  # the caller's loop: the first loop's monitor is stopped there
        time.sleep(0.2)
        assert first_monitor._task is None or first_monitor._task.done()
        vr.ask(None, "q")  # back on the VReason's loop; the caller's loop has ended: its client is dropped
        assert vr.engine._monitor is not first_monitor
    finally:
        vr.close()
