"""Upstream failures keep their meaning across a chain of servers: stream error chunks in either style
(vLLM's integer `code`, OpenAI's `type`) map to the local errors, and a gateway fault answers 502/503."""

from __future__ import annotations

from vreason.engine.backends.upstream_errors import (
    UpstreamError,
    UpstreamUnavailableError,
    failure_from_stream_error,
)
from vreason.errors import EngineOverloadedError, InvalidRequestError, RequestTimeoutError
from vreason.server.errors import api_error_from


def test_stream_error_chunks_map_by_type_or_by_integer_code():
    timeout = failure_from_stream_error({"error": {"message": "late", "type": "timeout_error", "code": "x"}}, "u1")
    assert isinstance(timeout.error, RequestTimeoutError)
    busy = failure_from_stream_error({"error": {"message": "busy", "type": "rate_limit_error"}}, "u1")
    assert isinstance(busy.error, EngineOverloadedError)
    bad = failure_from_stream_error({"error": {"message": "no", "type": "invalid_request_error"}}, "u1")
    assert isinstance(bad.error, InvalidRequestError)
    vllm_style = failure_from_stream_error({"error": {"message": "late", "code": 504}}, "u1")
    assert isinstance(vllm_style.error, RequestTimeoutError)
    unknown = failure_from_stream_error({"error": {"message": "boom", "type": "server_error"}}, "u1")
    assert isinstance(unknown.error, UpstreamError)


def test_gateway_faults_answer_502_and_503_not_400():
    assert api_error_from(UpstreamError("upstream u1 answered 500", "u1", 500)).status == 502
    unavailable = api_error_from(UpstreamUnavailableError("no upstream in rotation", 2.5))
    assert unavailable.status == 503
    assert unavailable.headers["Retry-After"] == "3"
    assert api_error_from(EngineOverloadedError("queue full")).status == 429
