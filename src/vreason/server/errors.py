"""Every error leaves the server in one shape: `{"error": {"message", "type", "param", "code"}}`.

`api_error_from(exc)` is the single mapping from exceptions to HTTP answers: vreason's own errors are the
client's to fix (4xx, their one-line message passes through), a full queue is 429 with Retry-After, a missed
deadline 504, and anything else is a server fault: logged with its traceback, answered with a generic 500
that names the request id and nothing of the internals.
"""

from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass, field

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from vreason.errors import (
    EngineOverloadedError,
    InvalidRequestError,
    MediaError,
    RequestTimeoutError,
    VReasonError,
)
from vreason.media.video_types import VideoError

logger = logging.getLogger("vreason.server")

INVALID_REQUEST = "invalid_request_error"

# What each error status means on this server, as the OpenAPI document says it.
ERROR_STATUS_DESCRIPTIONS = {
    400: "The request is invalid (schema, values, images); `error.param` names the field. Never 422.",
    401: "Missing or wrong API key (only when the server was started with one).",
    404: "The model named in the request (or path) is not served here.",
    413: "The request body is over the server's limit (--max-request-bytes).",
    429: "The engine's queue is full; retry after the Retry-After header's seconds.",
    500: "A server fault; the message names the request id, the server log has the details.",
    502: "The upstream model server failed (remote backend).",
    503: "No upstream model server can take the request now (remote backend); see Retry-After.",
    504: "The request did not finish within the server's request timeout.",
}


class ErrorDetail(BaseModel):
    message: str
    type: str
    param: str | None
    code: str | None


class ErrorResponse(BaseModel):
    """The body of every error answer (OpenAI's shape)."""

    error: ErrorDetail


def error_responses(*statuses: int) -> dict[int | str, dict]:
    """OpenAPI `responses` entries for these error statuses, all with the ErrorResponse body."""
    return {
        status: {"model": ErrorResponse, "description": ERROR_STATUS_DESCRIPTIONS[status]} for status in statuses
    }


@dataclass
class ApiError(Exception):
    status: int
    message: str
    type: str = INVALID_REQUEST
    param: str | None = None
    code: str | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def body(self) -> dict:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}

    def response(self) -> JSONResponse:
        return JSONResponse(self.body(), status_code=self.status, headers=self.headers)


def model_not_found(model: str, served: tuple[str, ...]) -> ApiError:
    return ApiError(
        404,
        f"model {model!r} does not exist here; this server serves {', '.join(repr(n) for n in served)}",
        param="model",
        code="model_not_found",
    )


def api_error_from(exc: BaseException, request_id: str | None = None) -> ApiError:
    if isinstance(exc, ApiError):
        return exc
    from vreason.engine.backends.upstream_errors import UpstreamError, UpstreamUnavailableError

    if isinstance(exc, UpstreamUnavailableError):  # before its base class: no upstream can take it, not a full queue
        retry = max(1, math.ceil(exc.retry_after_s))
        return ApiError(
            503, str(exc), type="service_unavailable", code="upstream_unavailable", headers={"Retry-After": str(retry)}
        )
    if isinstance(exc, UpstreamError):  # the upstream failed (5xx, broken stream): a gateway fault, not the client's
        return ApiError(502, str(exc), type="upstream_error", code="upstream_error")
    if isinstance(exc, EngineOverloadedError):
        retry = max(1, math.ceil(exc.retry_after_s))
        return ApiError(
            429, str(exc), type="rate_limit_error", code="engine_overloaded", headers={"Retry-After": str(retry)}
        )
    if isinstance(exc, RequestTimeoutError):
        # Not the client's mistake and not a crash: the server could not finish in time (capacity).
        return ApiError(504, str(exc), type="timeout_error", code="request_timeout")
    if isinstance(exc, MediaError):
        code = "invalid_video" if isinstance(exc, VideoError) else "invalid_image"
        return ApiError(400, str(exc), param="messages", code=code)
    if isinstance(exc, InvalidRequestError):
        return ApiError(400, str(exc), param=exc.param, code="invalid_value")
    if isinstance(exc, VReasonError):
        return ApiError(400, str(exc))
    logger.error("request %s failed", request_id or "-", exc_info=exc)
    suffix = f" (request id {request_id})" if request_id else ""
    return ApiError(500, f"internal server error{suffix}; the server log has the details", type="server_error")


def validation_message(exc: RequestValidationError) -> tuple[str, str | None]:
    """pydantic's errors as one line: 'messages.0.content: Field required; temperature: ...'."""
    parts: list[str] = []
    param = None
    for error in exc.errors()[:5]:
        loc = [str(p) for p in error.get("loc", ()) if p != "body"]
        where = ".".join(loc)
        if error.get("type") == "json_invalid":
            return f"the request body is not valid JSON ({error.get('msg')})", None
        if error.get("type") == "missing" and not loc:
            return "the request body is missing; send a JSON object", None
        # A model-level check (a lone surrogate anywhere in the body) names its field in the error's context.
        where = where or str((error.get("ctx") or {}).get("param", ""))
        param = param or where or None
        message = str(error.get("msg", "invalid value"))
        message = message.removeprefix("Value error, ")
        parts.append(f"{where}: {message}" if where else message)
    return "; ".join(parts) or "invalid request", param


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        message, param = validation_message(exc)
        return ApiError(400, message, param=param, code="invalid_value").response()

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code)
        message = str(exc.detail)
        headers = dict(exc.headers or {})
        if exc.status_code == 404:
            message = f"no such endpoint: {request.method} {request.url.path}"
        if exc.status_code == 405:
            # Starlette's Allow names the first route whose path matched; a path several routes serve (GET and
            # DELETE of one item) allows the methods of them all, as the OpenAPI document lists them.
            allowed = documented_methods(request.app, request.url.path)
            if allowed:
                headers["Allow"] = ", ".join(allowed)
        return ApiError(exc.status_code, message, code=code, headers=headers).response()

    @app.exception_handler(ApiError)
    async def _api(request: Request, exc: ApiError) -> JSONResponse:
        return exc.response()

    @app.exception_handler(VReasonError)
    async def _vreason(request: Request, exc: VReasonError) -> JSONResponse:
        return api_error_from(exc).response()

    @app.exception_handler(Exception)
    async def _fault(request: Request, exc: Exception) -> JSONResponse:
        return api_error_from(exc, getattr(request.state, "request_id", None)).response()


def documented_methods(app: FastAPI, path: str) -> list[str]:
    """The methods the OpenAPI document lists for the path template `path` matches. From the document rather
    than app.routes: FastAPI keeps included routers as nested entries there, not as routes with methods."""
    patterns = getattr(app.state, "documented_path_patterns", None)
    if patterns is None:
        http_methods = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
        patterns = [
            (
                re.compile("^" + re.sub(r"\\{[^/]+?\\}", "[^/]+", re.escape(template)) + "$"),
                sorted(m.upper() for m in item if m in http_methods),
            )
            for template, item in app.openapi().get("paths", {}).items()
        ]
        app.state.documented_path_patterns = patterns
    return next((methods for pattern, methods in patterns if pattern.match(path)), [])
