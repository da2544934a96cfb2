"""`vreason serve --backend openvino --model DIR` as a real process on 127.0.0.1, driven by the real `openai`
client: a streamed answer about an image (several chunks, the demo model's right answer), JSON-schema output
through vreason's grammar mask, and OpenAI-shaped 400s for bad input. The demo model's fp16 export is made once
and cached in .cache/openvino.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from vreason.engine.backends.openvino_export import cached_export

openai = pytest.importorskip("openai")
pytest.importorskip("openvino")
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
SHAPES = ROOT / "examples" / "shapes.png"
STARTUP_S = 180


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    model = cached_export(None, ROOT / ".cache" / "openvino", "fp16")
    command = [
        sys.executable,
        "-m",
        "vreason.cli.app",
        "serve",
        "--backend",
        "openvino",
        "--model",
        str(model),
        "--port",
        "0",
    ]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT, start_new_session=True
    )
    url: list[str] = []
    log: list[str] = []

    def drain() -> None:  # keep reading so the pipe never fills and blocks the server
        for line in process.stdout:
            log.append(line.rstrip())
            if not url and "serving " in line and " at http" in line:
                url.append(line.split(" at http")[1].split()[0].join(("http", "")))

    threading.Thread(target=drain, daemon=True).start()
    deadline = time.monotonic() + STARTUP_S
    while not url:
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise AssertionError("vreason serve --backend openvino did not start:\n" + "\n".join(log[-20:]))
        time.sleep(0.1)
    try:
        yield url[0]
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


@pytest.fixture(scope="module")
def client(server) -> openai.OpenAI:
    return openai.OpenAI(base_url=server, api_key="unused", max_retries=0)


def image_message(question: str) -> list[dict]:
    data = base64.b64encode(SHAPES.read_bytes()).decode()
    return [
        {
            "role": "user",
            "content": [
                {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{data}"}},
                {"type": "text", "text": question},
            ],
        }
    ]


def test_streaming_answer_over_http(client):
    model = client.models.list().data[0].id
    stream = client.chat.completions.create(
        model=model,
        messages=image_message("locate every circle and output bbox_2d in JSON."),
        stream=True,
        temperature=0,
        max_tokens=24,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    pieces = [c for c in chunks if c.choices and c.choices[0].delta.content]
    assert len(pieces) >= 8  # tokens arrive as they are generated, not in one body
    assert text.startswith('[{"bbox_2d": [')
    assert chunks[-1].usage.prompt_tokens > 64  # the image's 64 visual tokens and the question
    answer = client.chat.completions.create(
        model=model, messages=image_message("What color is the shape?"), temperature=0, max_tokens=8
    )
    assert answer.choices[0].message.content == "red"
    assert answer.choices[0].finish_reason == "stop"


def test_json_schema_output_over_http(client):
    schema = {
        "type": "object",
        "properties": {"color": {"type": "string", "enum": ["red", "green", "blue"]}},
        "required": ["color"],
        "additionalProperties": False,
    }
    answer = client.chat.completions.create(
        model=client.models.list().data[0].id,
        messages=image_message("What color is the shape?"),
        temperature=0,
        max_tokens=32,
        response_format={"type": "json_schema", "json_schema": {"name": "c", "schema": schema}},
    )
    assert json.loads(answer.choices[0].message.content)["color"] in ("red", "green", "blue")


def test_bad_input_is_an_openai_error(client):
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(
            model=client.models.list().data[0].id, messages=image_message("Colour?"), max_tokens=100_000
        )
    error = caught.value.body
    assert error["param"] == "max_new_tokens" or "max_tokens" in error["message"]
    assert "context" in error["message"]
