"""The OpenAI-compatible server over a real socket, driven by the official `openai` client (and httpx where a
raw body is the point), on tiny random Qwen3-VL checkpoints.

Two servers for the whole module: an Instruct model with a permissive test policy (file:// under one
directory, http from 127.0.0.1) and small limits, and a Thinking model with the closed defaults of
`vreason serve` and an API key. Random weights write garbage unless constrained, which makes the JSON tests
strong: whatever parses and validates was forced by the grammar.
"""

from __future__ import annotations

import base64
import io
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import jsonschema
import openai
import pytest
from PIL import Image
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import png_bytes

pytestmark = pytest.mark.slow

MODEL = "tiny-vl"
THINKING_MODEL = "tiny-vl-thinking"
API_KEY = "sk-test-key"
THINKING_DEADLINE_S = 4.0
MAX_IMAGES = 3
MAX_CHOICES = 4
BODY_LIMIT = 2 * 1024 * 1024
GREEDY = {"temperature": 0.0, "presence_penalty": 0.0}
SCHEMA = {
    "type": "object",
    "properties": {
        "color": {"enum": ["red", "green", "blue"]},
        "count": {"type": "integer", "minimum": 0, "maximum": 9},
        "tags": {"type": "array", "items": {"type": "string", "maxLength": 5}, "maxItems": 2},
    },
    "required": ["color", "count", "tags"],
}


@dataclass
class Running:
    url: str
    client: openai.OpenAI
    engine: object


def _start(model_dir: Path, name: str, policy, **settings) -> Iterator[Running]:
    from vreason import VReason
    from vreason.server import ServerSettings, create_app
    from vreason.server.launch import BackgroundServer

    vr = VReason(str(model_dir), media_policy=policy, max_images_per_request=MAX_IMAGES)
    app = create_app(vr.engine, ServerSettings(served_model_names=(name,), **settings))
    server = BackgroundServer(app)
    client = openai.OpenAI(base_url=server.url + "/v1", api_key=settings.get("api_key") or "unused", max_retries=0)
    try:
        yield Running(server.url, client, vr.engine)
    finally:
        client.close()
        server.stop()
        vr.close()


@pytest.fixture(scope="module")
def media_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("allowed-media")
    (folder / "red.png").write_bytes(png_bytes((64, 48), (220, 20, 20)))
    (folder / "blue.png").write_bytes(png_bytes((96, 64), (20, 20, 220)))
    return folder


@pytest.fixture(scope="module")
def srv(tiny_model_dir, media_dir) -> Iterator[Running]:
    from vreason.server import server_media_policy

    # The test image server listens on 127.0.0.1: allowed here by name, refused by default (see `think`).
    policy = server_media_policy(media_dir, allowed_domains=("127.0.0.1",), allow_private_urls=True)
    yield from _start(tiny_model_dir, MODEL, policy, max_request_bytes=BODY_LIMIT, max_choices=MAX_CHOICES)


@pytest.fixture(scope="module")
def think(tiny_thinking_dir) -> Iterator[Running]:
    from vreason.server import server_media_policy

    # A short deadline, so a long generation ends mid-stream (the error-chunk test); the others take < 1 s.
    yield from _start(tiny_thinking_dir, THINKING_MODEL, server_media_policy(), api_key=API_KEY,
                      request_timeout_s=THINKING_DEADLINE_S)


def data_uri(data: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


def user(text: str, *urls: str) -> dict:
    parts = [{"type": "image_url", "image_url": {"url": u}} for u in urls]
    return {"role": "user", "content": [*parts, {"type": "text", "text": text}]}


RED = data_uri(png_bytes((64, 48), (220, 20, 20)))


def scrape(url: str) -> dict[tuple[str, tuple], float]:
    """Every sample of /metrics as {(name, sorted labels): value}."""
    text = httpx.get(url + "/metrics").text
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


# Happy paths


def test_health_and_models(srv):
    health = httpx.get(srv.url + "/health")
    assert health.status_code == 200
    assert health.json()["status"] == "ok"
    assert [m.id for m in srv.client.models.list()] == [MODEL]
    assert srv.client.models.retrieve(MODEL).id == MODEL


def test_chat_with_an_image_streams_the_same_answer(srv):
    messages = [{"role": "system", "content": "Answer briefly."}, user("What color is the shape?", RED)]
    reply = srv.client.chat.completions.create(model=MODEL, messages=messages, max_tokens=6, **GREEDY)
    choice = reply.choices[0]
    assert reply.id.startswith("chatcmpl-")
    assert reply.model == MODEL
    assert choice.finish_reason == "length"
    assert choice.message.role == "assistant"
    assert choice.message.content
    assert reply.usage.completion_tokens == 6
    assert reply.usage.total_tokens == reply.usage.prompt_tokens + 6

    chunks = list(
        srv.client.chat.completions.create(
            model=MODEL, messages=messages, max_tokens=6, stream=True, stream_options={"include_usage": True}, **GREEDY
        )
    )
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[-1].choices == []
    assert chunks[-1].usage.model_dump() == reply.usage.model_dump()
    assert chunks[-2].choices[0].finish_reason == "length"
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == choice.message.content
    assert len({c.id for c in chunks}) == 1


def test_images_from_files_data_uris_and_http(srv, media_dir, http_server):
    base, routes = http_server
    routes["/green.png"] = (200, {"Content-Type": "image/png"}, png_bytes((80, 80), (20, 200, 20)))
    one = srv.client.chat.completions.create(model=MODEL, messages=[user("Colors?", RED)], max_tokens=1, **GREEDY)
    three = srv.client.chat.completions.create(
        model=MODEL,
        messages=[
            user("First?", (media_dir / "red.png").as_uri()),
            {"role": "assistant", "content": "red"},
            user("And these two?", f"{base}/green.png", data_uri(png_bytes((40, 40)), "image/png")),
        ],
        max_tokens=1,
        **GREEDY,
    )
    # Three images (and a second turn) cost more prompt tokens than one.
    assert three.usage.prompt_tokens > one.usage.prompt_tokens + 8


def test_json_schema_output_validates(srv):
    reply = srv.client.chat.completions.create(
        model=MODEL,
        messages=[user("Describe the shape as JSON.", RED)],
        response_format={"type": "json_schema", "json_schema": {"name": "shape", "schema": SCHEMA}},
        max_tokens=80,
        temperature=1.0,
        seed=11,
    )
    assert reply.choices[0].finish_reason == "stop"
    jsonschema.validate(json.loads(reply.choices[0].message.content), SCHEMA)

    streamed = srv.client.chat.completions.create(
        model=MODEL,
        messages=[user("Describe the shape as JSON.", RED)],
        response_format={"type": "json_object"},
        max_tokens=80,
        stream=True,
        **GREEDY,
    )
    text = "".join(c.choices[0].delta.content or "" for c in streamed if c.choices)
    assert isinstance(json.loads(text), dict)


def test_n_choices(srv):
    reply = srv.client.chat.completions.create(
        model=MODEL, messages=[user("Say something.")], n=3, max_tokens=4, temperature=1.0, top_p=1.0, seed=5
    )
    assert [c.index for c in reply.choices] == [0, 1, 2]
    assert len({c.message.content for c in reply.choices}) > 1  # seed, seed+1, seed+2
    assert reply.usage.completion_tokens == 12

    chunks = list(
        srv.client.chat.completions.create(model=MODEL, messages=[user("Hi")], n=2, max_tokens=3, stream=True)
    )
    finished = sorted(c.choices[0].index for c in chunks if c.choices and c.choices[0].finish_reason)
    assert finished == [0, 1]


def test_metrics_move(srv):
    before = scrape(srv.url)
    reply = srv.client.chat.completions.create(
        model=MODEL, messages=[user("Hi", RED)], max_completion_tokens=3, **GREEDY
    )
    assert reply.usage.completion_tokens == 3
    after = scrape(srv.url)
    ok = ("vreason_http_requests_total", (("method", "POST"), ("route", "/v1/chat/completions"), ("status", "200")))
    assert after[ok] == before.get(ok, 0) + 1
    tokens = ("vreason_generation_tokens_total", ())
    assert after[tokens] - before[tokens] == reply.usage.completion_tokens
    prompt = ("vreason_prompt_tokens_total", ())
    assert after[prompt] - before[prompt] == reply.usage.prompt_tokens
    ttft = ("vreason_time_to_first_token_seconds_count", ())
    assert after[ttft] == before[ttft] + 1
    assert ("vreason_requests_waiting", ()) in after
    assert ("vreason_requests_running", ()) in after


# Disconnects


def test_client_leaving_a_stream_aborts_it(srv):
    before = scrape(srv.url)[("vreason_client_disconnects_total", ())]
    body = {"model": MODEL, "messages": [user("Tell a long story.")], "max_tokens": 4000, "stream": True}
    with httpx.stream("POST", srv.url + "/v1/chat/completions", json=body, timeout=30) as response:
        assert response.status_code == 200
        lines = response.iter_lines()
        assert sum(1 for _, line in zip(range(6), lines, strict=False) if line.startswith("data:")) >= 3
    _wait_idle(srv, before)
    # The engine is free again: a short request is answered at once, not after 4000 tokens.
    started = time.perf_counter()
    srv.client.chat.completions.create(model=MODEL, messages=[user("Hi")], max_tokens=2)
    assert time.perf_counter() - started < 15


def test_client_leaving_a_plain_request_aborts_it(srv):
    before = scrape(srv.url)[("vreason_client_disconnects_total", ())]
    body = {"model": MODEL, "messages": [user("Tell a long story.")], "max_tokens": 4000}
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(srv.url + "/v1/chat/completions", json=body, timeout=1.5)
    _wait_idle(srv, before)


def _wait_idle(srv: Running, disconnects_before: float) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        metrics = scrape(srv.url)
        stats = srv.engine.stats()
        gone = metrics[("vreason_client_disconnects_total", ())] > disconnects_before
        if gone and stats.running == 0 and stats.waiting == 0:
            return
        time.sleep(0.1)
    raise AssertionError(f"request still held after the client left: {srv.engine.stats()}")


# Refusals: every client mistake is a 4xx with a message, and the server stays up


def _png_header_only() -> bytes:
    return png_bytes((64, 64))[:60]


def _bomb() -> bytes:
    buffer = io.BytesIO()
    Image.new("1", (9000, 8000)).save(buffer, format="PNG")  # 72 MP, over the 64 MP guard; tiny on disk
    return buffer.getvalue()


def _request(**overrides) -> dict:
    return {"model": MODEL, "messages": [user("What color?", RED)], "max_tokens": 2, **overrides}


BAD_REQUESTS = [
    ("not json", b"{this is not json", 400, "not valid JSON"),
    ("json array", [1, 2], 400, "valid dictionary"),
    ("no messages", {"model": MODEL}, 400, "messages"),
    ("empty messages", _request(messages=[]), 400, "messages"),
    ("unknown model", _request(model="gpt-4o"), 404, "does not exist"),
    ("temperature", _request(temperature=3), 400, "temperature (3.0) must be between 0 and 2"),
    ("top_p", _request(top_p=0), 400, "top_p"),
    ("max_tokens", _request(max_tokens=0), 400, "max_tokens"),
    ("n zero", _request(n=0), 400, "n"),
    ("n too many", _request(n=MAX_CHOICES + 1), 400, f"at most {MAX_CHOICES}"),
    ("presence", _request(presence_penalty=9), 400, "presence_penalty"),
    ("stops", _request(stop=[str(i) for i in range(9)]), 400, "at most 8"),
    ("seed", _request(seed=-1), 400, "seed"),
    ("min_pixels", _request(min_pixels=10), 400, "min_pixels"),
    ("tool role", _request(messages=[{"role": "tool", "content": "x"}]), 400, "not supported"),
    ("odd role", _request(messages=[{"role": "wizard", "content": "x"}]), 400, "role"),
    ("audio part", _request(messages=[{"role": "user", "content": [{"type": "input_audio"}]}]), 400, "input_audio"),
    ("video path", _request(messages=[{"role": "user", "content": [{"type": "video_url", "video_url": {"url": "x"}}]}]),
     400, "video_url.url 'x' must be an http(s) URL"),
    ("ftp url", _request(messages=[user("x", "ftp://example.com/a.png")]), 400, "http(s) URL"),
    ("bare path", _request(messages=[user("x", "/etc/passwd")]), 400, "file:// URL"),
    ("bad base64", _request(messages=[user("x", "data:image/png;base64,!!!!")]), 400, "invalid base64"),
    ("truncated png", _request(messages=[user("x", data_uri(_png_header_only()))]), 400, "image"),
    ("not an image", _request(messages=[user("x", data_uri(b"hello world" * 20))]), 400, "not an image"),
    ("pixel bomb", _request(messages=[user("x", data_uri(_bomb()))]), 400, "decompression-bomb"),
    ("aspect ratio", _request(messages=[user("x", data_uri(png_bytes((1000, 2))))]), 400, "aspect ratio"),
    ("too many images", _request(messages=[user("x", *[RED] * (MAX_IMAGES + 1))]), 400, "over the limit of 3"),
    ("assistant image", _request(messages=[{"role": "assistant", "content": [
        {"type": "image_url", "image_url": {"url": RED}}]}, user("x")]), 400, "user messages"),
    ("assistant last", _request(messages=[user("x"), {"role": "assistant", "content": "y"}]), 400, "last message"),
    ("context overflow", _request(max_tokens=100_000), 400, "context"),
    ("schema missing", _request(response_format={"type": "json_schema", "json_schema": {"name": "x"}}), 400,
     "json_schema.schema"),
    ("schema broken", _request(response_format={"type": "json_schema", "json_schema": {
        "name": "x", "schema": {"type": "no-such-type"}}}), 400, "not supported for constrained decoding"),
    ("format kind", _request(response_format={"type": "yaml"}), 400, "response_format"),
    ("logprobs", _request(logprobs=True), 400, "logprobs"),
    ("tools", _request(tools=[{"type": "function", "function": {"name": "f"}}]), 400, "tools"),
    ("refused host", _request(messages=[user("x", "http://localhost:1/a.png")]), 400, "allowed media domains"),
    ("dead url", _request(messages=[user("x", "http://127.0.0.1:1/a.png")]), 400, "could not be fetched"),
    ("bad image, streaming", _request(stream=True, messages=[user("x", data_uri(b"nope" * 30))]), 400,
     "not an image"),
]


@pytest.mark.parametrize(("case", "body", "status", "needle"), BAD_REQUESTS, ids=[c[0] for c in BAD_REQUESTS])
def test_bad_requests_are_4xx_with_a_message(srv, case, body, status, needle):
    if isinstance(body, bytes):
        response = httpx.post(srv.url + "/v1/chat/completions", content=body,
                              headers={"Content-Type": "application/json"})
    else:
        response = httpx.post(srv.url + "/v1/chat/completions", json=body)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert needle in error["message"]
    assert "Traceback" not in error["message"]


def test_image_errors_name_the_part(srv, media_dir, tmp_path):
    outside = tmp_path / "secret.png"
    outside.write_bytes(png_bytes())
    messages = [user("x", RED, outside.as_uri())]
    with pytest.raises(openai.BadRequestError) as info:
        srv.client.chat.completions.create(model=MODEL, messages=messages, max_tokens=2)
    error = info.value.body
    assert "outside the allowed media directory" in error["message"]
    assert error["param"] == "messages[0].content[1]"
    assert error["code"] == "invalid_image"


def test_server_survives_the_bad_requests(srv):
    assert httpx.get(srv.url + "/health").status_code == 200
    reply = srv.client.chat.completions.create(model=MODEL, messages=[user("Hi", RED)], max_tokens=2)
    assert reply.choices[0].message.content is not None
    assert scrape(srv.url).get(("vreason_http_requests_total", (
        ("method", "POST"), ("route", "/v1/chat/completions"), ("status", "500")))) is None


def test_body_size_limit(srv):
    big = _request(messages=[user("x", data_uri(b"\0" * BODY_LIMIT))])
    response = httpx.post(srv.url + "/v1/chat/completions", json=big)
    assert response.status_code == 413
    assert "request limit" in response.json()["error"]["message"]

    def chunked():  # no Content-Length: the limit holds while reading
        payload = json.dumps(big).encode()
        for start in range(0, len(payload), 256 * 1024):
            yield payload[start : start + 256 * 1024]

    response = httpx.post(srv.url + "/v1/chat/completions", content=chunked(),
                          headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert httpx.get(srv.url + "/health").status_code == 200


def test_unknown_routes_and_methods(srv):
    missing = httpx.get(srv.url + "/v1/nothing-here")
    assert missing.status_code == 404
    assert missing.json()["error"]["message"] == "no such endpoint: GET /v1/nothing-here"
    assert httpx.get(srv.url + "/v1/chat/completions").status_code == 405
    with pytest.raises(openai.NotFoundError):
        srv.client.models.retrieve("gpt-4o")


# The Thinking model, behind an API key, with the closed default media policy


def test_api_key_is_required_on_v1(think):
    assert httpx.get(think.url + "/health").status_code == 200
    assert httpx.get(think.url + "/metrics").status_code == 200
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": API_KEY}):
        response = httpx.get(think.url + "/v1/models", headers=headers)
        assert response.status_code == 401
        assert response.json()["error"]["type"] == "authentication_error"
    wrong = openai.OpenAI(base_url=think.url + "/v1", api_key="wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        wrong.chat.completions.create(model=THINKING_MODEL, messages=[user("Hi")], max_tokens=1)
    assert [m.id for m in think.client.models.list()] == [THINKING_MODEL]
    refused = ("vreason_http_requests_total", (("method", "GET"), ("route", "/v1/models"), ("status", "401")))
    assert scrape(think.url)[refused] == 3  # counted under their route, though refused before routing


def test_thinking_goes_to_reasoning_content(think):
    # Sampled, not greedy: greedy decoding of these random weights writes only newlines.
    request = {"model": THINKING_MODEL, "messages": [user("What color is it?", RED)], "max_tokens": 8,
               "temperature": 1.0, "top_p": 1.0, "seed": 3}
    message = think.client.chat.completions.create(**request).choices[0].message
    # Cut off mid-thought (random weights never write </think>): all of it is reasoning, none of it answer.
    assert message.reasoning_content
    assert message.content == ""

    chunks = list(think.client.chat.completions.create(**request, stream=True))
    deltas = [c.choices[0].delta for c in chunks if c.choices]
    streamed = "".join(getattr(d, "reasoning_content", None) or "" for d in deltas)
    assert streamed.strip() == message.reasoning_content
    assert not any(d.content for d in deltas)


def test_default_policy_refuses_private_urls_and_files(think, http_server, image_file):
    base, routes = http_server
    routes["/red.png"] = (200, {"Content-Type": "image/png"}, png_bytes())
    for url, needle in (
        (f"{base}/red.png", "non-public address 127.0.0.1"),
        (image_file.as_uri(), "local files are not allowed"),
    ):
        with pytest.raises(openai.BadRequestError) as info:
            think.client.chat.completions.create(model=THINKING_MODEL, messages=[user("x", url)], max_tokens=1)
        assert needle in info.value.body["message"]
        assert info.value.body["code"] == "invalid_image"


def test_an_error_after_the_stream_started_is_an_error_chunk(think):
    before = scrape(think.url)[("vreason_stream_errors_total", ())]
    stream = think.client.chat.completions.create(
        model=THINKING_MODEL, messages=[user("Think it through.")], max_tokens=4000, stream=True,
        temperature=1.0, seed=1,
    )
    received = []
    with pytest.raises(openai.APIError) as info:
        received.extend(stream)
    assert len(received) > 1  # the response had started: 200, the role chunk, some reasoning
    assert "deadline" in info.value.message
    assert info.value.body["type"] == "timeout_error"
    assert scrape(think.url)[("vreason_stream_errors_total", ())] == before + 1


def test_engine_errors_map_to_statuses(caplog):
    from vreason.errors import EngineOverloadedError, InvalidRequestError, MediaError, RequestTimeoutError
    from vreason.server.errors import api_error_from

    overloaded = api_error_from(EngineOverloadedError("the queue is full (1024 waiting)", retry_after_s=2.5))
    assert (overloaded.status, overloaded.headers["Retry-After"], overloaded.code) == (429, "3", "engine_overloaded")
    assert api_error_from(RequestTimeoutError("past its deadline")).status == 504
    bad = api_error_from(InvalidRequestError("top_k (-1) must be >= 0", param="top_k"))
    assert (bad.status, bad.param, bad.message) == (400, "top_k", "top_k (-1) must be >= 0")
    assert api_error_from(MediaError("a.png", "is truncated")).code == "invalid_image"
    with caplog.at_level("ERROR", logger="vreason.server"):
        fault = api_error_from(KeyError("kv slot 7"), request_id="chatcmpl-1")
    assert fault.status == 500
    assert "kv slot" not in fault.message
    assert "chatcmpl-1" in fault.message
    assert "kv slot 7" in caplog.text  # logged with the traceback, for the operator


def test_a_prompt_far_over_the_context_is_refused_before_it_is_tokenized(think):
    huge = "word " * 1_000_000  # 5 MB
    response = httpx.post(
        think.url + "/v1/chat/completions", headers={"Authorization": f"Bearer {API_KEY}"}, timeout=60,
        json={"model": THINKING_MODEL, "messages": [{"role": "user", "content": huge}], "max_tokens": 4},
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert "at least" in error["message"]  # the cheap bound's wording, not the exact count's
    assert error["param"] == "messages"


def test_any_model_name_answers_the_name_a_client_sends(tiny_model_dir):
    from vreason.server import server_media_policy

    # LangChain's ChatOpenAI and other clients send their own default model name unless told otherwise.
    for running in _start(tiny_model_dir, MODEL, server_media_policy(), any_model_name=True):
        reply = running.client.chat.completions.create(
            model="gpt-3.5-turbo", messages=[user("What color is it?", RED)], max_tokens=3, **GREEDY
        )
        assert reply.model == "gpt-3.5-turbo"
        assert reply.usage.completion_tokens > 0
        assert [card.id for card in running.client.models.list()] == [MODEL]
        assert running.client.models.retrieve("gpt-4o").id == "gpt-4o"
