"""The reasoning layer over HTTP: POST /v1/vreason/reason, /v1/vreason/ground and /v1/vreason/tile.

JSON in, JSON out; the request models convert themselves into the keyword arguments of the same functions
the Python API and the CLI call (`run_chain`, `locate`, `locate_tiled`, `ask_tiled`), so the three surfaces
share one code path. Those functions are synchronous; they run on a worker thread while their engine requests
go to the server's own event loop (`LoopBridge`), the loop that drives the engine for chat completions too.
Images are URLs, data URIs or base64 text, loaded under the server's media policy.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import io
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field, model_validator

from vreason.engine.interface import Engine
from vreason.engine.sync_bridge import SyncBridge
from vreason.server.protocol import reject_lone_surrogates

MAX_IMAGES = 16
# Reasoning calls running at once; more wait their turn (each one already sends many requests to the engine).
REASONING_WORKERS = 8


class LoopBridge(SyncBridge):
    """`SyncBridge` over an event loop that already runs (the server's) instead of one of its own.

    Called from worker threads only: blocking on the loop's own thread would deadlock it.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop):  # no super().__init__: no thread, no new loop
        self.loop = loop

    def close(self) -> None:
        return None  # the server owns its loop


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


def reasoning_router(engine: Engine) -> APIRouter:
    from vreason.api import VReason

    router = APIRouter(prefix="/v1/vreason", tags=["reasoning"])
    clients: dict[asyncio.AbstractEventLoop, VReason] = {}
    pool = ThreadPoolExecutor(max_workers=REASONING_WORKERS, thread_name_prefix="vreason-reasoning")

    async def off_loop(function: Any, *args: Any, **kwargs: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(pool, functools.partial(function, *args, **kwargs))

    def client() -> VReason:
        loop = asyncio.get_running_loop()
        if loop not in clients:
            vr = VReason(engine=engine)
            vr.bridge.close()  # its own loop would drive the engine beside the server's; use the server's
            vr.bridge = LoopBridge(loop)
            clients[loop] = vr
        return clients[loop]

    @router.post("/reason", response_model=ReasonResponse)
    async def reason(body: ReasonRequest) -> dict:
        from vreason.reasoning.chains import run_chain

        vr = client()
        trace = await off_loop(
            run_chain, vr, body.images, body.steps, vote=body.vote, cot=body.cot, system=body.system,
            **body.sampling(),
        )
        return trace.to_dict()

    @router.post("/ground", response_model=GroundResponse, response_model_exclude_none=True)
    async def ground(body: GroundRequest) -> dict:
        vr = client()
        return await off_loop(_ground, vr, body)

    @router.post("/tile", response_model=TileResponse)
    async def tile(body: TileRequest) -> dict:
        from vreason.reasoning.tile_runner import ask_tiled
        from vreason.reasoning.tiling import parse_grid

        vr = client()
        result = await off_loop(
            ask_tiled, vr, body.image, body.question, grid=parse_grid(body.grid), overlap=body.overlap,
            max_tiles=body.max_tiles, overview=body.overview, skip_blank=body.skip_blank, **body.sampling(),
        )
        return result.to_dict()

    return router


def _ground(vr: Any, body: GroundRequest) -> dict:
    from vreason.reasoning.draw import draw_detections
    from vreason.reasoning.locate import locate
    from vreason.reasoning.tile_runner import locate_tiled
    from vreason.reasoning.tiling import parse_grid

    image = vr.prepare_image(body.image)
    if body.tiles:
        result = locate_tiled(vr, image, body.target, kind=body.kind, grid=parse_grid(body.tiles), **body.sampling())
        detections = result.detections
        data = {"target": body.target, "kind": body.kind, "image_size": list(result.image_size),
                "detections": [d.to_dict() for d in detections], "tiles": [t.to_dict() for t in result.tiles]}
    else:
        found = locate(vr, image, body.target, kind=body.kind, **body.sampling())
        detections = found.detections
        data = found.to_dict()
    if body.annotate:
        buffer = io.BytesIO()
        draw_detections(image.image, detections).save(buffer, format="PNG")
        data["annotated_image"] = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
    return data
