"""Upstream failures as vreason errors: an upstream's HTTP error means the same to a caller as the local
engine's error for the same cause, so surfaces print and map them with no special case.

    400, 413, 422 -> InvalidRequestError (the upstream's `param` kept); MediaError for code invalid_image
    404           -> ModelLoadError (the upstream does not serve that model)
    408, 504      -> RequestTimeoutError
    429, 503      -> EngineOverloadedError (Retry-After kept)
    401, 403      -> UpstreamError naming --upstream-api-key
    other 5xx     -> UpstreamError

`retryable` says whether another attempt (maybe on another upstream) could succeed where nothing has
reached the caller yet: overload and server-side failures yes, a bad request no.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from vreason.errors import (
    EngineOverloadedError,
    InvalidRequestError,
    MediaError,
    ModelLoadError,
    RequestTimeoutError,
    VReasonError,
)

# Statuses worth another attempt: the upstream refused or failed before doing the work, or a proxy in front
# of it could not reach it. 500 is included: generation has no side effects, so a second try costs only time.
RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_MESSAGE_CHARS = 300


class UpstreamError(VReasonError):
    """An upstream failed in a way vreason cannot turn into a better-known error (5xx, a broken stream)."""

    def __init__(self, message: str, upstream: str = "", status: int | None = None):
        self.upstream = upstream
        self.status = status
        super().__init__(message)


class UpstreamUnavailableError(EngineOverloadedError):
    """No upstream could take the request: all are out of rotation, refused the connection or are overloaded."""


@dataclass
class UpstreamFailure:
    """One failed attempt: the error to raise if no retry follows, and whether a retry may help."""

    error: VReasonError
    retryable: bool
    # True when the upstream itself is in doubt (connection refused, 5xx), so health checks should hear of it.
    counts_against_health: bool
    # A refused connection is unambiguous: take the upstream out at once instead of after several failures.
    hard: bool = False


def error_payload(body: bytes | str) -> tuple[str, str | None, str | None]:
    """(message, param, code) from an OpenAI-style error body; vLLM's older flat shape is read too."""
    text = body.decode("utf-8", errors="replace") if isinstance(body, bytes) else body
    try:
        data = json.loads(text)
    except ValueError:
        return text.strip()[:MAX_MESSAGE_CHARS] or "no details", None, None
    if isinstance(data, dict) and isinstance(data.get("error"), dict):
        data = data["error"]
    if not isinstance(data, dict):
        return str(data)[:MAX_MESSAGE_CHARS], None, None
    message = data.get("message") or data.get("detail") or text
    if not isinstance(message, str):
        message = json.dumps(message)
    param, code = data.get("param"), data.get("code")
    return (
        message[:MAX_MESSAGE_CHARS],
        param if isinstance(param, str) else None,
        code if isinstance(code, str) else None,
    )


def retry_after(headers: dict[str, str] | None, default: float = 1.0) -> float:
    value = (headers or {}).get("retry-after")
    try:
        return max(0.0, float(value)) if value is not None else default
    except ValueError:
        return default


def failure_from_status(
    status: int, body: bytes | str, upstream: str, headers: dict[str, str] | None = None
) -> UpstreamFailure:
    message, param, code = error_payload(body)
    retryable = status in RETRYABLE_STATUSES
    if status == 400 and code == "invalid_image":  # `vreason serve` marks media errors so
        source, _, problem = message.removeprefix("image ").partition(": ")
        return UpstreamFailure(MediaError(source, problem or message), retryable=False, counts_against_health=False)
    if status in (400, 413, 422):
        return UpstreamFailure(InvalidRequestError(message, param=param), retryable=False, counts_against_health=False)
    if status == 404:
        error: VReasonError = ModelLoadError(f"upstream {upstream}: {message}")
        return UpstreamFailure(error, retryable=False, counts_against_health=False)
    if status in (401, 403):
        error = UpstreamError(
            f"upstream {upstream} refused the request ({status}: {message}); check --upstream-api-key",
            upstream, status,
        )
        return UpstreamFailure(error, retryable=False, counts_against_health=False)
    if status in (408, 504):
        error = RequestTimeoutError(f"upstream {upstream} timed out ({status}: {message})")
        return UpstreamFailure(error, retryable=status == 504, counts_against_health=status == 504)
    if status in (429, 503):
        error = EngineOverloadedError(
            f"upstream {upstream} is overloaded ({status}: {message}); retry shortly", retry_after(headers)
        )
        return UpstreamFailure(error, retryable=True, counts_against_health=False)
    error = UpstreamError(f"upstream {upstream} failed ({status}: {message})", upstream, status)
    return UpstreamFailure(error, retryable=retryable, counts_against_health=status >= 500)


def failure_from_stream_error(data: dict, upstream: str) -> UpstreamFailure:
    """An error the upstream sent as a `data:` chunk after the stream had started (status already 200)."""
    error = data.get("error") if isinstance(data.get("error"), dict) else data
    code = error.get("code")
    # vLLM puts the HTTP status in `code`; OpenAI-style servers (vreason serve) name the kind in `type`.
    status = code if isinstance(code, int) else _STATUS_BY_TYPE.get(str(error.get("type")), 500)
    return failure_from_status(status, json.dumps({"error": error}), upstream)


_STATUS_BY_TYPE = {
    "invalid_request_error": 400,
    "rate_limit_error": 429,
    "timeout_error": 504,
    "service_unavailable": 503,
}


def broken_stream_message(upstream: str, tokens: int, delivered: bool, cause: str) -> str:
    if delivered:
        return (f"upstream {upstream} failed after streaming {tokens} token(s) ({cause}); not retried because "
                "part of the answer was already sent: ask again")
    return f"upstream {upstream} failed after {tokens} token(s) ({cause})"


def failure_from_transport(
    err: Exception, upstream: str, tokens: int, delivered: bool, retry_after_s: float, max_connections: int
) -> UpstreamFailure:
    """A connection-level failure (httpx): refused, out of pooled connections, timed out, or cut mid-stream."""
    import httpx

    if isinstance(err, httpx.ConnectError):
        error: VReasonError = UpstreamUnavailableError(f"upstream {upstream} refused the connection ({err})",
                                                       retry_after_s)
        return UpstreamFailure(error, retryable=True, counts_against_health=True, hard=True)
    if isinstance(err, httpx.PoolTimeout):
        error = EngineOverloadedError(f"all {max_connections} connections to the upstreams are busy")
        return UpstreamFailure(error, retryable=True, counts_against_health=False)
    if isinstance(err, httpx.TimeoutException):
        what = "connecting" if isinstance(err, httpx.ConnectTimeout) else "waiting for the next token"
        error = RequestTimeoutError(f"upstream {upstream} timed out {what} ({type(err).__name__})")
        return UpstreamFailure(error, retryable=True, counts_against_health=True)
    message = broken_stream_message(upstream, tokens, delivered, f"{type(err).__name__}: {err}")
    return UpstreamFailure(UpstreamError(message, upstream), retryable=True, counts_against_health=True)
