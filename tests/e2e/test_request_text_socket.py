"""Request text the server must refuse at its HTTP schema, over a real socket: a lone UTF-16 surrogate anywhere
in a body (a 400 naming the field on every POST route, not the tokenizer's 500), and null content in a system or
user message (OpenAI answers 400; an assistant turn may have none)."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator

import httpx
import openai
import pytest

from tests.conftest import png_bytes
from tests.e2e.demo_server import serve_demo

MODEL = "vreason-demo"
RED = "data:image/png;base64," + base64.b64encode(png_bytes((32, 32), (220, 20, 20))).decode()
LONE = "\\ud800"  # as JSON spells it: json.dumps would escape the backslash, so bodies are built as text


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    yield from serve_demo()


def _post(url: str, path: str, body_text: str) -> httpx.Response:
    return httpx.post(url + path, content=body_text.encode(), headers={"Content-Type": "application/json"}, timeout=60)


def _chat(messages: str, extra: str = "") -> str:
    return f'{{"model": "{MODEL}", "max_tokens": 2, "messages": {messages}{extra}}}'


SURROGATE_CASES = [
    ("/v1/chat/completions", _chat(f'[{{"role": "user", "content": "hi {LONE}"}}]'), "messages[0].content"),
    ("/v1/chat/completions", _chat(
        f'[{{"role": "system", "content": "ok"}}, '
        f'{{"role": "user", "content": [{{"type": "text", "text": "{LONE}"}}]}}]'
    ), "messages[1].content[0].text"),
    ("/v1/chat/completions", _chat('[{"role": "user", "content": "hi"}]', f', "stop": ["{LONE}"]'), "stop[0]"),
    ("/v1/chat/completions", _chat('[{"role": "user", "content": "hi"}]', f', "user": "{LONE}x"'), "user"),
    ("/v1/chat/completions", f'{{"model": "{LONE}", "messages": [{{"role": "user", "content": "hi"}}]}}', "model"),
    ("/v1/vreason/reason", f'{{"images": ["{RED}"], "steps": ["What color?", "{LONE}"]}}', "steps[1]"),
    ("/v1/vreason/reason", f'{{"images": ["{RED}"], "steps": ["a"], "system": "{LONE}"}}', "system"),
    ("/v1/vreason/ground", f'{{"image": "{RED}", "target": "the {LONE} square"}}', "target"),
    ("/v1/vreason/tile", f'{{"image": "{RED}", "question": "{LONE}?", "grid": "2x2"}}', "question"),
    ("/v1/vreason/tile", f'{{"image": "{RED}", "question": "ok", "{LONE}": 1}}', "body"),
]


@pytest.mark.parametrize(("path", "body", "param"), SURROGATE_CASES, ids=[f"{p}:{q}" for p, _, q in SURROGATE_CASES])
def test_lone_surrogate_is_a_400_naming_the_field(url, path, body, param):
    json.loads(body)  # the test's own body is valid JSON
    response = _post(url, path, body)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["param"] == param
    assert error["message"].startswith(f"{param}: not valid Unicode text")


def test_a_surrogate_pair_is_fine(url):
    # "\ud83d\ude00" is one character (an emoji) in JSON: valid text, answered.
    response = _post(url, "/v1/chat/completions", _chat('[{"role": "user", "content": "hi \\ud83d\\ude00"}]'))
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("role", ["user", "system", "developer"])
def test_null_content_is_a_400(url, role):
    client = openai.OpenAI(base_url=url + "/v1", api_key="unused", max_retries=0)
    messages = [{"role": role, "content": None}]
    if role != "user":
        messages.append({"role": "user", "content": "hi"})
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model=MODEL, messages=messages, max_tokens=2)
    assert info.value.status_code == 400
    assert info.value.body["param"] == "messages.0.content"
    assert f"a {role} message needs content" in info.value.body["message"]
    # Leaving content out is the same mistake.
    response = httpx.post(url + "/v1/chat/completions", json={"model": MODEL, "messages": [{"role": role}]})
    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] == "messages.0.content"


def test_assistant_turn_without_content_is_accepted(url):
    client = openai.OpenAI(base_url=url + "/v1", api_key="unused", max_retries=0)
    reply = client.chat.completions.create(
        model=MODEL, max_tokens=2,
        messages=[{"role": "user", "content": "hi"}, {"role": "assistant", "content": None},
                  {"role": "user", "content": "again"}],
    )
    assert reply.choices[0].message.content is not None


def test_an_image_named_after_an_unknown_home_directory_is_a_400(url):
    # "~name/..." asks for the home of a user this machine does not have (found by `make fuzz-api`: it was a 500).
    body = {"image": "~no-such-user-here/x.png", "target": "the square"}
    response = httpx.post(url + "/v1/vreason/ground", json=body, timeout=60)
    assert response.status_code == 400, response.text
    assert "no such file" in response.json()["error"]["message"]
