"""The FastAPI application: OpenAI-compatible routes over any `Engine`.

    engine = build_engine(EngineSpec(model="Qwen/Qwen3-VL-8B-Instruct", media_policy=server_media_policy()))
    uvicorn.run(create_app(engine), host="127.0.0.1", port=8000)

The app never loads models and never owns the engine: whoever built the engine closes it. The event loop
that serves requests is the one that drives `engine.generate`.

/openapi.json tells what the server answers: every status a route can return (errors with the OpenAI error
body, validation errors as 400, never FastAPI's 422), /metrics as Prometheus text, and the bearer scheme when a
key is set. `make fuzz-api` holds the server to it.
"""

from __future__ import annotations

import time
import uuid
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from pydantic import BaseModel

from vreason import __version__
from vreason.engine.interface import Engine
from vreason.server.completions import ChatCompletions
from vreason.server.errors import error_responses, install_error_handlers, model_not_found
from vreason.server.guard import RequestGuard
from vreason.server.memory_access import ServerMemory
from vreason.server.memory_routes import memory_responses, memory_router
from vreason.server.metrics import MetricsMiddleware, ServerMetrics
from vreason.server.protocol import ChatCompletion, ChatCompletionRequest, ModelCard, ModelList
from vreason.server.reasoning_routes import reasoning_router
from vreason.server.settings import ServerSettings
from vreason.server.spatial_routes import spatial_router

if TYPE_CHECKING:
    from vreason.memory import MemoryStore
from vreason.server.stream_routes import add_stream_routes, stream_limits

# The guard answers 413 on any route whose declared body is over the limit; 401 guards /v1 when a key is set.
GUARD_ERRORS = (413,)
AUTH_ERRORS = (401,)
# Errors of anything that runs the model: bad input, a full queue, a failing upstream, the deadline, a fault.
ENGINE_ERRORS = (400, 429, 500, 502, 503, 504)
PROMETHEUS_TEXT = {
    "description": "Prometheus text exposition format (OpenMetrics text when the Accept header asks for it).",
    "content": {
        "text/plain": {"schema": {"type": "string"}},
        "application/openmetrics-text": {"schema": {"type": "string"}},
    },
}
CHAT_STREAM = {
    "description": "A chat.completion object, or with `stream: true` server-sent events of chat.completion.chunk "
    "objects ending with `data: [DONE]`.",
    "content": {"text/event-stream": {"schema": {"type": "string"}}},
}


class HealthStatus(BaseModel):
    status: str
    model: str
    waiting: int
    running: int


def create_app(engine: Engine, settings: ServerSettings | None = None, memory: MemoryStore | None = None) -> FastAPI:
    """`memory`: the store of /v1/vreason/memory and the chat `memory` field (each key's user sees only their
    own items); None: the server keeps no memory and those answer 404 `memory_disabled`."""
    settings = settings or ServerSettings()
    names = settings.served_model_names or (engine.model_name,)
    created = int(time.time())
    demo_family = bool(getattr(engine, "demo_family", False))
    metrics = ServerMetrics(engine)
    server_memory = ServerMemory(engine, memory)
    completions = ChatCompletions(engine, settings, metrics, names, server_memory)

    app = FastAPI(
        title="vreason",
        version=__version__,
        summary="OpenAI-compatible chat completions with images, on Qwen3-VL.",
        docs_url=None,
        redoc_url=None,
    )
    app.state.engine = engine
    app.state.settings = settings
    app.state.metrics = metrics
    install_error_handlers(app)
    # Added innermost first: metrics see every request, including those the guard refuses.
    keys = settings.key_users()
    app.add_middleware(RequestGuard, api_keys=keys, max_body_bytes=settings.max_request_bytes)
    app.add_middleware(MetricsMiddleware, metrics=metrics)

    auth = AUTH_ERRORS if keys else ()

    @app.get("/health", response_model=HealthStatus, responses=error_responses(*GUARD_ERRORS))
    async def health() -> dict:
        stats = engine.stats()
        return {"status": "ok", "model": names[0], "waiting": stats.waiting, "running": stats.running}

    @app.get(
        "/metrics", response_class=PlainTextResponse, responses={200: PROMETHEUS_TEXT, **error_responses(*GUARD_ERRORS)}
    )
    async def prometheus(request: Request) -> Response:
        content, content_type = metrics.render(request.headers.get("accept"))
        return Response(content, media_type=content_type)

    @app.get("/v1/models", response_model=ModelList, responses=error_responses(*auth, *GUARD_ERRORS))
    async def list_models() -> dict:
        cards = [ModelCard(id=name, created=created, demo_family=demo_family) for name in names]
        return ModelList(data=cards).model_dump()

    @app.get(
        "/v1/models/{model_id:path}", response_model=ModelCard, responses=error_responses(*auth, 404, *GUARD_ERRORS)
    )
    async def get_model(model_id: str) -> dict:
        if model_id not in names and not settings.any_model_name:
            raise model_not_found(model_id, names)
        return ModelCard(id=model_id, created=created, demo_family=demo_family).model_dump()

    @app.post(
        "/v1/chat/completions", response_model=None,
        responses={200: {"model": ChatCompletion, **CHAT_STREAM}, **error_responses(*auth, 404, *GUARD_ERRORS,
                                                                                     *ENGINE_ERRORS)},
    )
    async def chat_completions(body: ChatCompletionRequest, request: Request) -> Response | JSONResponse:
        request_id = f"chatcmpl-{uuid.uuid4().hex}"
        request.state.request_id = request_id
        return await completions.handle(body, request, request_id)

    # /v1/vreason/reason, /ground, /tile
    app.include_router(
        reasoning_router(engine, settings.request_timeout_s),
        responses=error_responses(*auth, *GUARD_ERRORS, *ENGINE_ERRORS),
    )
    # /v1/vreason/ground3d
    app.include_router(
        spatial_router(engine, settings.request_timeout_s),
        responses=error_responses(*auth, *GUARD_ERRORS, *ENGINE_ERRORS),
    )
    # /v1/vreason/streams: live sessions (server/stream_routes.py)
    add_stream_routes(app, engine, settings.request_timeout_s, error_responses(*auth, *GUARD_ERRORS, *ENGINE_ERRORS),
                      stream_limits(settings))
    # /v1/vreason/memory/...: the key's user's memory
    app.include_router(memory_router(server_memory), responses=memory_responses(*auth, 400, 404, *GUARD_ERRORS))
    metrics.known_paths = frozenset(getattr(route, "path", "") for route in app.routes)
    app.openapi = lambda: _openapi(app, bearer=bool(keys))  # type: ignore[method-assign]
    return app


def _openapi(app: FastAPI, bearer: bool) -> dict[str, Any]:
    """FastAPI's document without the 422 it adds to every route with parameters (this server answers 400,
    see errors.install_error_handlers), errors as JSON on text routes too (FastAPI files them under the route's
    own media type), and with the bearer scheme on /v1 when a key is required."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(title=app.title, version=app.version, summary=app.summary, routes=app.routes)
    for path, operations in schema["paths"].items():
        for operation in operations.values():
            operation["responses"].pop("422", None)
            for status, response in operation["responses"].items():
                content = response.get("content", {})
                if int(status) >= 400 and "application/json" not in content and content:
                    response["content"] = {"application/json": next(iter(content.values()))}
            if bearer and path.startswith("/v1"):
                operation["security"] = [{"bearer": []}]
    components = schema.setdefault("components", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        components.get("schemas", {}).pop(unused, None)
    if bearer:
        components["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
    app.openapi_schema = schema
    return schema
