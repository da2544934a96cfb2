"""Live streams over HTTP: a session watches a source (or frames a client pushes) and raises events as they happen.

    POST   /v1/vreason/streams                 {"source": URL | null, "window_s", "fps", "triggers", "questions",
                                                 "every_s", ...} -> 201 the session's status (its `id`)
    GET    /v1/vreason/streams/{id}            state, window, counters, triggers, last answer and event
    GET    /v1/vreason/streams/{id}/events     server-sent events: `event` (a trigger fired), `answer` (periodic or
                                                 asked), `check` (each trigger's yes/no on each window), `end`
    POST   /v1/vreason/streams/{id}/frames?t=  a JPEG/PNG/WebP body; `t` its capture time in seconds (push sessions)
    POST   /v1/vreason/streams/{id}/ask        {"question"} -> the answer about the current window
    DELETE /v1/vreason/streams/{id}            close it -> its final status

A session's `source` obeys the server's media policy (live/source_policy.py): no private-network hosts, local files
or devices unless the server allows them; without a source the session takes pushed frames (a browser camera).
Sessions belong to the caller that opened them: the user its API key acts for (`--api-key KEY=USER`), else
the bearer token sent (hashed). Another caller gets 404 for them, as for an id
that never existed. Limits (stream_sessions.StreamLimits): sessions per caller and per server (429), pushed
frame size (413) and rate (429, counted), window length and rate (400); pushed frames wait in a short queue
that drops its oldest when full (counted in `frames_dropped`). A session nobody reads or calls for
`idle_timeout_s` is closed. Every error is the OpenAI error body.

SSE items carry `id:` lines; a reader that reconnects with `Last-Event-ID` (or `?after=`) gets what the
session's short history still holds after it. A comment line every KEEPALIVE_S keeps proxies from closing.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import json
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, model_validator

from vreason.async_api import AsyncVReason
from vreason.engine.interface import Engine
from vreason.errors import MediaError
from vreason.live.source_policy import checked_source
from vreason.live.sources import PushSource
from vreason.live.triggers import Trigger
from vreason.live.types import SourceError
from vreason.live.watcher import Watcher, engine_asker
from vreason.live.window import RollingWindow
from vreason.media.decode import decode_image
from vreason.server.errors import ApiError, ErrorResponse
from vreason.server.protocol import reject_lone_surrogates
from vreason.server.stream_sessions import StreamLimits, StreamRegistry, StreamSession, new_session
from vreason.server.users import LOCAL_USER, request_user

KEEPALIVE_S = 10.0
FRAME_TYPES = ("image/jpeg", "image/png", "image/webp", "application/octet-stream")
STREAM_ERRORS = {
    404: {"model": ErrorResponse, "description": "No stream with this id belongs to this caller."},
    409: {
        "model": ErrorResponse,
        "description": "The stream is not in a state for this (ended, not a push stream, no frame yet).",
    },
}
OPEN_ERRORS = {
    400: {
        "model": ErrorResponse,
        "description": "A bad source (refused by the media policy, unsupported) or "
        "settings; `error.param` names the field.",
    },
    429: {"model": ErrorResponse, "description": "This caller (or the server) has its most open streams."},
}
SSE = {
    "description": "Server-sent events until the stream ends.",
    "content": {"text/event-stream": {"schema": {"type": "string"}}},
}


class _Body(BaseModel):
    """Unknown fields and text that is not valid Unicode (a lone surrogate) are a 400 naming the field, not a
    500 when the text is echoed back (status, events)."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _valid_unicode(cls, data: Any) -> Any:
        return reject_lone_surrogates(data)


class TriggerSpec(_Body):
    condition: str = Field(min_length=1, max_length=300, description="e.g. 'a red circle appears'")
    debounce: int = Field(default=1, ge=1, le=50)
    cooldown_s: float = Field(default=0.0, ge=0, le=3600)


class StreamRequest(_Body):
    source: str | None = Field(
        default=None,
        max_length=2000,
        description="Stream URL (rtsp, rtmp, srt, http(s)); "
        "none: a push session that takes frames from POST .../frames.",
    )
    window_s: float = Field(default=30.0, gt=0, allow_inf_nan=False, description="Seconds of the past the model sees.")
    fps: float = Field(default=2.0, gt=0, allow_inf_nan=False, description="Frames a second kept in the window.")
    max_frames: int | None = Field(default=None, ge=2, le=768)
    triggers: list[TriggerSpec | str] = Field(default=[], description="Conditions checked on each new window.")
    questions: list[str] = Field(default=[], description="Asked every `every_s` seconds of stream time.")
    every_s: float | None = Field(default=None, gt=0, le=86_400)
    check_every_s: float | None = Field(default=None, gt=0, le=3600, description="Default: one frame pair.")
    max_tokens: int = Field(default=24, ge=1, le=512, description="Longest answer to a question or check.")


class AskRequest(_Body):
    question: str = Field(min_length=1, max_length=2000)


class FrameAccepted(BaseModel):
    id: str
    frames_pushed: int
    frames_dropped: int


def caller(request: Request) -> str:
    """Who owns what this request opens: the user its API key acts for (server/users.py), else (no keys, or a
    key acting for the local user) a hash of the bearer token it sent."""
    user = request_user(request)
    if user != LOCAL_USER:
        return f"user:{user}"
    token = request.headers.get("authorization", "")
    return "key:" + hashlib.sha256(token.encode()).hexdigest()[:32]


def stream_router(engine: Engine, registry: StreamRegistry, request_timeout_s: float | None = None) -> APIRouter:
    router = APIRouter(prefix="/v1/vreason/streams", tags=["streams"])
    vr = AsyncVReason(engine)
    deadline = {} if request_timeout_s is None else {"timeout_s": request_timeout_s}

    def owned(stream_id: str, request: Request) -> StreamSession:
        session = registry.get(stream_id, caller(request))
        if session is None:
            raise ApiError(404, f"no stream {stream_id!r} here", param="id", code="stream_not_found")
        session.touch()
        return session

    @router.post("", status_code=201, responses={**OPEN_ERRORS})
    async def open_stream(body: StreamRequest, request: Request) -> dict:
        owner = caller(request)
        why = registry.room_for(owner)
        if why is not None:
            raise ApiError(429, why, type="rate_limit_error", code="too_many_streams")
        limits = registry.limits
        _check_settings(body, limits)
        if body.source is None:
            source: Any = PushSource(max_queue=limits.push_queue, label="push")
        else:
            try:
                source = await asyncio.to_thread(checked_source, body.source, engine.policy)  # resolves the host
            except SourceError as err:
                raise ApiError(400, str(err), param="source", code="invalid_source") from None
        try:
            triggers = [
                Trigger(t, cooldown_s=0.0) if isinstance(t, str) else Trigger(t.condition, t.debounce, t.cooldown_s)
                for t in body.triggers
            ]
            window = RollingWindow(
                body.window_s,
                body.fps,
                max_frames=body.max_frames,
                budget=getattr(engine, "video_budget", None),
                label="stream",
            )
            watcher = Watcher(
                source,
                engine_asker(vr, max_new_tokens=body.max_tokens, **deadline),
                window,
                triggers=triggers,
                every=body.every_s,
                questions=body.questions,
                check_every=body.check_every_s,
            )
        except ValueError as err:
            raise ApiError(400, str(err), code="invalid_value") from None
        settings = {"check_every_s": body.check_every_s, "max_tokens": body.max_tokens}
        session = new_session(owner, source, watcher, limits, settings)
        if (why := registry.room_for(owner)) is not None:  # another open won the race meanwhile
            raise ApiError(429, why, type="rate_limit_error", code="too_many_streams")
        registry.add(session)
        return session.status()

    @router.get("/{stream_id}", responses={**STREAM_ERRORS})
    async def stream_status(stream_id: str, request: Request) -> dict:
        return owned(stream_id, request).status()

    @router.delete("/{stream_id}", responses={**STREAM_ERRORS})
    async def close_stream(stream_id: str, request: Request) -> dict:
        session = owned(stream_id, request)
        await registry.remove(session)
        return session.status()

    @router.get("/{stream_id}/events", response_class=StreamingResponse, responses={200: SSE, **STREAM_ERRORS})
    async def stream_events(stream_id: str, request: Request, after: int | None = Query(default=None, ge=0)):
        session = owned(stream_id, request)
        last = request.headers.get("last-event-id", "")
        if after is None and last.isdigit():
            after = int(last)
        queue = session.subscribe(after)
        return StreamingResponse(
            _sse(session, queue),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    @router.post(
        "/{stream_id}/frames",
        status_code=202,
        response_model=FrameAccepted,
        responses={
            **STREAM_ERRORS,
            400: OPEN_ERRORS[400],
            413: {"model": ErrorResponse, "description": "The frame is over the server's frame size limit."},
            429: {
                "model": ErrorResponse,
                "description": "Frames pushed faster than the server's per-stream limit; this one was dropped.",
            },
        },
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {t: {"schema": {"type": "string", "format": "binary"}} for t in FRAME_TYPES},
            }
        },
    )
    async def push_frame(
        stream_id: str,
        request: Request,
        t: float | None = Query(default=None, ge=0, le=1e9, description="Capture time, seconds."),
    ) -> dict:
        session = owned(stream_id, request)
        if session.push is None:
            raise ApiError(
                409,
                "this stream reads its own source; frames can only be pushed to a stream opened without one",
                code="not_a_push_stream",
            )
        if not session.running:
            raise ApiError(409, f"the stream has {session.state}", code="stream_ended")
        limits = registry.limits
        data = await request.body()
        if len(data) > limits.max_frame_bytes:
            raise ApiError(
                413,
                f"the frame ({len(data)} bytes) is over the {limits.max_frame_bytes}-byte frame "
                "limit; send a smaller JPEG",
                code="frame_too_large",
            )
        if not session.rate_ok(time.monotonic()):
            raise ApiError(
                429,
                f"frames are pushed faster than {limits.max_push_fps:g} a second; this one was dropped",
                type="rate_limit_error",
                code="frame_rate_exceeded",
                headers={"Retry-After": "1"},
            )
        image = await asyncio.to_thread(_decode_frame, data, engine, limits)
        await session.push_frame(image, t)
        counters = session.counters()
        return {"id": session.id, "frames_pushed": session.frames_pushed, "frames_dropped": counters["frames_dropped"]}

    @router.post("/{stream_id}/ask", responses={**STREAM_ERRORS, 400: OPEN_ERRORS[400]})
    async def ask(stream_id: str, body: AskRequest, request: Request) -> dict:
        session = owned(stream_id, request)
        answer = await session.watcher.ask(body.question)
        if answer is None:
            raise ApiError(409, "the stream has no frame yet; ask once frames arrive", code="no_frames")
        data = answer.to_dict()
        session.last_answer = data
        session._publish(data)
        return data

    return router


def _check_settings(body: StreamRequest, limits: StreamLimits) -> None:
    if body.window_s > limits.max_window_s:
        raise ApiError(
            400,
            f"window_s ({body.window_s:g}) is over this server's {limits.max_window_s:g} s",
            param="window_s",
            code="invalid_value",
        )
    if body.fps > limits.max_fps:
        raise ApiError(
            400, f"fps ({body.fps:g}) is over this server's {limits.max_fps:g}", param="fps", code="invalid_value"
        )
    if len(body.triggers) > limits.max_triggers:
        raise ApiError(
            400, f"{len(body.triggers)} triggers; at most {limits.max_triggers}", param="triggers", code="invalid_value"
        )
    if len(body.questions) > limits.max_questions or any(not q.strip() or len(q) > 2000 for q in body.questions):
        raise ApiError(
            400,
            f"questions: at most {limits.max_questions}, each 1-2000 characters",
            param="questions",
            code="invalid_value",
        )
    if any(isinstance(t, str) and not t.strip() for t in body.triggers):
        raise ApiError(
            400, "a trigger needs a condition, e.g. 'a red circle appears'", param="triggers", code="invalid_value"
        )


def _decode_frame(data: bytes, engine: Engine, limits: StreamLimits):
    policy = engine.policy
    try:
        image = decode_image(data, "frame", policy)
    except MediaError as err:
        raise ApiError(400, str(err), param="body", code="invalid_image") from None
    if image.width * image.height > limits.max_frame_pixels:
        raise ApiError(
            413,
            f"the frame ({image.width}x{image.height}) is over the {limits.max_frame_pixels}-pixel frame limit",
            code="frame_too_large",
        )
    return image


async def _sse(session: StreamSession, queue: asyncio.Queue) -> AsyncIterator[bytes]:
    try:
        yield b": stream " + session.id.encode() + b"\n\n"
        while True:
            try:
                item = await asyncio.wait_for(queue.get(), KEEPALIVE_S)
            except TimeoutError:
                yield b": keep-alive\n\n"
                continue
            if item is None:
                return
            seq, data = item
            name = data["type"] if data["type"] != "answer" or data.get("kind") != "check" else "check"
            yield f"id: {seq}\nevent: {name}\ndata: {json.dumps(data)}\n\n".encode()
            if data["type"] == "end":
                return
    finally:
        session.unsubscribe(queue)


def add_stream_routes(
    app: FastAPI, engine: Engine, request_timeout_s: float | None, responses: dict, limits: StreamLimits | None = None
) -> StreamRegistry:
    """Mount the routes and close every session when the app shuts down (`app.state.streams`)."""
    registry = StreamRegistry(limits)
    app.state.streams = registry
    app.include_router(stream_router(engine, registry, request_timeout_s), responses=responses)
    inner = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(app_: Any):
        async with inner(app_) as state:
            try:
                yield state
            finally:
                await registry.close_all()

    app.router.lifespan_context = lifespan
    return registry


# ServerSettings field -> StreamLimits field, for the settings a server sets (`vreason serve --max-streams...`)
SETTINGS_LIMITS = (
    ("max_streams_per_user", "max_per_owner"),
    ("max_streams", "max_sessions"),
    ("stream_idle_timeout_s", "idle_timeout_s"),
)


def stream_limits(settings: Any) -> StreamLimits:
    """The defaults, with whichever of SETTINGS_LIMITS the server's settings set (absent or None: the default)."""
    changes = {limit: getattr(settings, name) for name, limit in SETTINGS_LIMITS if getattr(settings, name, None)}
    return dataclasses.replace(StreamLimits(), **changes)
