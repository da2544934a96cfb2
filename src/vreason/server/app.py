"""The FastAPI application: OpenAI-compatible routes over any `Engine`.

    app = create_app(VReason("Qwen/Qwen3-VL-8B-Instruct", media_policy=server_media_policy()).engine)
    uvicorn.run(app, host="127.0.0.1", port=8000)

The app never loads models and never owns the engine: whoever built the engine closes it. The event loop
that serves requests is the one that drives `engine.generate`.
"""

from __future__ import annotations

import time
import uuid

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from vreason import __version__
from vreason.engine.interface import Engine
from vreason.server.completions import ChatCompletions
from vreason.server.errors import install_error_handlers, model_not_found
from vreason.server.guard import RequestGuard
from vreason.server.metrics import MetricsMiddleware, ServerMetrics
from vreason.server.protocol import ChatCompletionRequest, ModelCard, ModelList
from vreason.server.reasoning_routes import reasoning_router
from vreason.server.settings import ServerSettings


def create_app(engine: Engine, settings: ServerSettings | None = None) -> FastAPI:
    settings = settings or ServerSettings()
    names = settings.served_model_names or (engine.model_name,)
    created = int(time.time())
    metrics = ServerMetrics(engine)
    completions = ChatCompletions(engine, settings, metrics, names)

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
    app.add_middleware(RequestGuard, api_key=settings.api_key, max_body_bytes=settings.max_request_bytes)
    app.add_middleware(MetricsMiddleware, metrics=metrics)

    @app.get("/health")
    async def health() -> dict:
        stats = engine.stats()
        return {"status": "ok", "model": names[0], "waiting": stats.waiting, "running": stats.running}

    @app.get("/metrics")
    async def prometheus(request: Request) -> Response:
        content, content_type = metrics.render(request.headers.get("accept"))
        return Response(content, media_type=content_type)

    @app.get("/v1/models")
    async def list_models() -> dict:
        cards = [ModelCard(id=name, created=created) for name in names]
        return ModelList(data=cards).model_dump()

    @app.get("/v1/models/{model_id:path}")
    async def get_model(model_id: str) -> dict:
        if model_id not in names:
            raise model_not_found(model_id, names)
        return ModelCard(id=model_id, created=created).model_dump()

    @app.post("/v1/chat/completions", response_model=None)
    async def chat_completions(body: ChatCompletionRequest, request: Request) -> Response | JSONResponse:
        request_id = f"chatcmpl-{uuid.uuid4().hex}"
        request.state.request_id = request_id
        return await completions.handle(body, request, request_id)

    app.include_router(reasoning_router(engine))  # /v1/vreason/reason, /ground, /tile
    metrics.known_paths = frozenset(getattr(route, "path", "") for route in app.routes)
    return app
