"""The reasoning layer over HTTP: POST /v1/vreason/reason, /v1/vreason/ground, /v1/vreason/tile and
/v1/vreason/when.

JSON in, JSON out; the request models convert themselves into the keyword arguments of the same functions
the Python API and the CLI call, in their async form (`arun_chain`, `alocate`, `alocate_tiled`, `aask_tiled`,
`awhen_in_video`),
so the three surfaces share one code path. The routes await those functions on the server's event loop, over one
`AsyncVReason(engine)` built with the router: its requests go straight to the engine (the only thread hop is the
engine's own thread), votes and tiles as one batch. Images are URLs, data URIs or base64 text, resolved under the
engine's media policy, as for chat completions (a video too: a URL, a data URI or base64 text); decoding, cropping
and drawing pixels run on worker threads.
"""

from __future__ import annotations

import asyncio
import base64
import io
from typing import Any, Literal

from fastapi import APIRouter
from PIL import Image
from pydantic import BaseModel, ConfigDict, Field, model_validator

from vreason.async_api import AsyncVReason
from vreason.engine.interface import Engine
from vreason.errors import MediaError
from vreason.media.policy import DEFAULT_MAX_IMAGES_PER_REQUEST
from vreason.media.video_types import VideoError
from vreason.reasoning.chains import arun_chain
from vreason.reasoning.draw import draw_detections
from vreason.reasoning.grounding import Detection
from vreason.reasoning.locate import alocate
from vreason.reasoning.tile_runner import aask_tiled, alocate_tiled
from vreason.reasoning.tiling import parse_grid
from vreason.reasoning.video_when import (
    DEFAULT_EVERY_S,
    DEFAULT_MAX_CHECKS,
    DEFAULT_QUESTION,
    MAX_CHECKS,
    awhen_in_video,
)
from vreason.server.errors import ApiError
from vreason.server.protocol import reject_lone_surrogates

MAX_IMAGES = DEFAULT_MAX_IMAGES_PER_REQUEST  # the schema's bound; the media step applies the server's own limit


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")

    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    max_tokens: int | None = Field(default=None, ge=1)
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    repetition_penalty: float | None = None
    seed: int | None = None
    min_pixels: int | None = None
    max_pixels: int | None = None

    @model_validator(mode="before")
    @classmethod
    def _valid_unicode(cls, data: Any) -> Any:
        return reject_lone_surrogates(data)  # a 400 naming the field, before any tokenizer sees the text

    def sampling(self) -> dict[str, Any]:
        values = {
            "temperature": self.temperature, "top_p": self.top_p, "top_k": self.top_k,
            "max_new_tokens": self.max_tokens, "presence_penalty": self.presence_penalty,
            "frequency_penalty": self.frequency_penalty, "repetition_penalty": self.repetition_penalty,
            "seed": self.seed, "min_pixels": self.min_pixels, "max_pixels": self.max_pixels,
        }
        return {k: v for k, v in values.items() if v is not None}


class ReasonRequest(_Request):
    images: list[str] = Field(min_length=1, max_length=MAX_IMAGES)  # URLs, data URIs or base64
    steps: list[str] = Field(min_length=1)
    vote: int = 1
    cot: bool = False
    system: str | None = None


class GroundRequest(_Request):
    image: str
    target: str = Field(min_length=1)
    kind: Literal["box", "point"] = "box"
    tiles: str | None = None  # "4x4" or "auto": look tile by tile
    annotate: bool = False  # also return the image with the detections drawn, as a PNG data URI


class TileRequest(_Request):
    image: str
    question: str = Field(min_length=1)
    grid: str = "auto"
    overlap: float = 0.1
    max_tiles: int = 16
    overview: bool = True
    skip_blank: bool = True


class WhenRequest(_Request):
    video: str  # a URL, data URI or base64 text
    target: str = Field(min_length=1, max_length=500)
    every_s: float = Field(default=DEFAULT_EVERY_S, gt=0)
    max_checks: int = Field(default=DEFAULT_MAX_CHECKS, ge=2, le=MAX_CHECKS)
    refine: bool = True
    # the yes/no question asked of each frame; {target} and {a} filled in
    question: str = Field(default=DEFAULT_QUESTION, max_length=1000)


class ReasonResponse(BaseModel):
    model: str
    images: list[str]
    answer: str
    steps: list[dict[str, Any]]  # StepTrace.to_dict(): prompt, raw_output, answer, usage, time_s, vote...
    usage: dict[str, int]
    time_s: float


class GroundResponse(BaseModel):
    target: str
    kind: str
    image_size: list[int]
    detections: list[dict[str, Any]]  # {"label", "bbox": [x1, y1, x2, y2] | "point": [x, y]} in original pixels
    raw_output: str | None = None  # absent for tiled grounding (one output per tile)
    tiles: list[dict[str, Any]] | None = None
    annotated_image: str | None = None


class TileResponse(BaseModel):
    question: str
    image_size: list[int]
    grid: list[int]
    overlap: float
    findings: list[dict[str, Any]]  # {"answer", "sources", "count"}, most reported first
    vote: dict[str, Any] | None
    overview: dict[str, Any] | None
    tiles: list[dict[str, Any]]
    detections: list[dict[str, Any]]
    usage: dict[str, int]
    time_s: float


class WhenResponse(BaseModel):
    target: str
    question: str
    video: str
    video_duration_s: float
    every_s: float
    frames: int
    spans: list[dict[str, Any]]  # {"start_s", "end_s" (null: to the end)}
    appears_s: list[float]
    disappears_s: list[float]
    checks: list[dict[str, Any]]  # {"time_s", "frame_index", "present" (null: neither yes nor no), "answer"}


def reasoning_router(engine: Engine, request_timeout_s: float | None = None) -> APIRouter:
    router = APIRouter(prefix="/v1/vreason", tags=["reasoning"])
    vr = AsyncVReason(engine)  # one client for every request: the engine's media policy, as the chat route has
    deadline = {} if request_timeout_s is None else {"timeout_s": request_timeout_s}  # per engine request

    @router.post("/reason", response_model=ReasonResponse)
    async def reason(body: ReasonRequest) -> dict:
        trace = await arun_chain(
            vr, body.images, body.steps, vote=body.vote, cot=body.cot, system=body.system, **body.sampling(),
            **deadline,
        )
        return trace.to_dict()

    @router.post("/ground", response_model=GroundResponse, response_model_exclude_none=True)
    async def ground(body: GroundRequest) -> dict:
        return await _ground(vr, body, deadline)

    @router.post("/tile", response_model=TileResponse)
    async def tile(body: TileRequest) -> dict:
        result = await aask_tiled(
            vr, body.image, body.question, grid=parse_grid(body.grid), overlap=body.overlap,
            max_tiles=body.max_tiles, overview=body.overview, skip_blank=body.skip_blank, **body.sampling(),
            **deadline,
        )
        return result.to_dict()

    @router.post("/when", response_model=WhenResponse)
    async def when(body: WhenRequest) -> dict:
        try:
            found = await awhen_in_video(
                vr, body.video, body.target, every_s=body.every_s, max_checks=body.max_checks, refine=body.refine,
                question=body.question, **body.sampling(), **deadline,
            )
        except MediaError as err:  # named by this route's field, not the chat route's "messages"
            code = "invalid_video" if isinstance(err, VideoError) else "invalid_image"
            raise ApiError(400, str(err), param="video", code=code) from None
        return found.to_dict()

    return router


async def _ground(vr: AsyncVReason, body: GroundRequest, deadline: dict[str, float]) -> dict:
    image = await vr.prepare_image(body.image)
    if body.tiles:
        result = await alocate_tiled(
            vr, image, body.target, kind=body.kind, grid=parse_grid(body.tiles), **body.sampling(), **deadline
        )
        detections = result.detections
        data = {"target": body.target, "kind": body.kind, "image_size": list(result.image_size),
                "detections": [d.to_dict() for d in detections], "tiles": [t.to_dict() for t in result.tiles]}
    else:
        found = await alocate(vr, image, body.target, kind=body.kind, **body.sampling(), **deadline)
        detections = found.detections
        data = found.to_dict()
    if body.annotate:
        data["annotated_image"] = await asyncio.to_thread(_annotated_png, image.image, detections)
    return data


def _annotated_png(image: Image.Image, detections: list[Detection]) -> str:
    """`image` with `detections` drawn, as a PNG data URI."""
    buffer = io.BytesIO()
    draw_detections(image, detections).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
