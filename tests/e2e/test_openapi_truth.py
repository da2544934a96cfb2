"""/openapi.json tells what the server answers, checked over a real socket against the demo model: the error
statuses each route can return, all with the OpenAI error body and never FastAPI's 422, /metrics as Prometheus
text; then a short schemathesis run (every check, schemathesis.toml) holds the live server to that document.
`make fuzz-api` is the long run of the same fuzzer."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import jsonschema
import pytest

from tests.e2e.demo_server import serve_demo

ROOT = Path(__file__).resolve().parents[2]
ERROR_REF = {"$ref": "#/components/schemas/ErrorResponse"}
ENGINE_ROUTES = ("/v1/chat/completions", "/v1/vreason/reason", "/v1/vreason/ground", "/v1/vreason/tile",
                 "/v1/vreason/when")
# Seconds and examples per operation for the in-suite fuzz run; `make fuzz-api` runs for minutes.
FUZZ_SECONDS = 25
FUZZ_EXAMPLES = 25


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    yield from serve_demo(max_request_bytes=64 * 1024)


@pytest.fixture(scope="module")
def document(url) -> dict:
    response = httpx.get(url + "/openapi.json")
    assert response.status_code == 200
    return response.json()


def _operations(document: dict) -> Iterator[tuple[str, str, dict]]:
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            yield path, method, operation


def test_no_route_documents_422_and_every_error_is_the_openai_body(document):
    assert "HTTPValidationError" not in document["components"]["schemas"]
    for path, method, operation in _operations(document):
        responses = operation["responses"]
        assert "422" not in responses, (method, path)
        errors = {status: r for status, r in responses.items() if int(status) >= 400}
        assert "413" in errors, (method, path)  # the body limit guards every route
        for status, response in errors.items():
            assert response["content"] == {"application/json": {"schema": ERROR_REF}}, (method, path, status)


def test_routes_document_the_statuses_they_answer(document):
    statuses = {(m, p): set(op["responses"]) for p, m, op in _operations(document)}
    for path in ENGINE_ROUTES:
        assert {"200", "400", "413", "429", "502", "503", "504"} <= statuses[("post", path)], path
        assert "401" not in statuses[("post", path)]  # no key on this server: never answered
    assert "404" in statuses[("post", "/v1/chat/completions")]
    assert "404" in statuses[("get", "/v1/models/{model_id}")]
    chat_ok = document["paths"]["/v1/chat/completions"]["post"]["responses"]["200"]["content"]
    assert set(chat_ok) == {"application/json", "text/event-stream"}
    assert chat_ok["application/json"]["schema"] == {"$ref": "#/components/schemas/ChatCompletion"}


def test_metrics_is_documented_and_served_as_prometheus_text(url, document):
    ok = document["paths"]["/metrics"]["get"]["responses"]["200"]
    assert "application/json" not in ok["content"]
    assert "text/plain" in ok["content"]
    response = httpx.get(url + "/metrics")
    assert response.headers["content-type"].startswith("text/plain")
    assert "# TYPE vreason_http_requests_total counter" in response.text


def test_a_key_adds_401_and_the_bearer_scheme():
    for keyed in serve_demo(api_key="sk-x"):
        document = httpx.get(keyed + "/openapi.json").json()
        assert document["components"]["securitySchemes"] == {"bearer": {"type": "http", "scheme": "bearer"}}
        for path, method, operation in _operations(document):
            if path.startswith("/v1"):
                assert "401" in operation["responses"], (method, path)
                assert operation["security"] == [{"bearer": []}]
            else:
                assert "security" not in operation
        refused = httpx.get(keyed + "/v1/models")
        assert refused.status_code == 401
        schema = {**ERROR_REF, "components": document["components"]}
        jsonschema.validate(refused.json(), schema)


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("post", "/v1/chat/completions", {"model": "vreason-demo", "messages": []}, 400),
        ("post", "/v1/chat/completions", {"model": "nope", "messages": [{"role": "user", "content": "hi"}]}, 404),
        ("post", "/v1/vreason/ground", {"image": "x", "target": "a", "unknown": 1}, 400),
        ("get", "/v1/models/nope", None, 404),
        ("post", "/v1/vreason/tile", {"image": "x" * 70_000, "question": "q"}, 413),
    ],
)
def test_answers_match_the_documented_error_body(url, document, method, path, body, status):
    response = httpx.request(method, url + path, json=body)
    assert response.status_code == status, response.text
    template = path if path in document["paths"] else "/v1/models/{model_id}"
    documented = document["paths"][template][method]["responses"][str(status)]
    schema = {**documented["content"]["application/json"]["schema"], "components": document["components"]}
    jsonschema.validate(response.json(), schema)


@pytest.mark.slow
@pytest.mark.heavy  # a 25 s fuzzing budget plus schemathesis' start; the documented error bodies stay checked above
def test_schemathesis_finds_nothing(url, tmp_path):
    """Every check of schemathesis against the live server, for a bounded number of examples and seconds."""
    cli = Path(sys.executable).with_name("schemathesis")
    if not cli.exists():
        cli = Path(shutil.which("schemathesis") or "schemathesis")
    command = [
        str(cli), "--config-file", str(ROOT / "schemathesis.toml"), "run", url + "/openapi.json",
        "--checks", "all", "--max-examples", str(FUZZ_EXAMPLES), "--max-time", str(FUZZ_SECONDS),
        "--workers", "2", "--seed", "20240518", "--request-timeout", "60",
    ]
    # In a scratch directory: schemathesis and hypothesis keep their example databases in the working directory.
    env = {**os.environ, "HYPOTHESIS_STORAGE_DIRECTORY": str(tmp_path / "hypothesis"), "NO_COLOR": "1"}
    result = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=FUZZ_SECONDS + 120)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert " passed" in result.stdout
