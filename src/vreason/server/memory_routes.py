"""A user's memory over HTTP, under /v1/vreason/memory: the operations of `vreason memory` and `vr.memory()`.

    POST   /items               remember a fact (JSON `{"text", "images": [url | data URI | base64], "kind",
                                "session"}`, or multipart with `text`, `kind`, `session` fields and `image` files)
    GET    /items               list, newest first (`?kind=&session=&limit=&offset=`)
    GET    /items/{id}          one item
    GET    /items/{id}/image    its picture (`?thumbnail=true`: the 256 px JPEG)
    DELETE /items/{id}          forget one item (hard delete)
    POST   /search              recall: `{"query", "images", "k"}` -> hits with score and the signals that found them
    POST   /forget              `{"ids": [...]}`, `{"query": "..."}` or `{"everything": true}` -> how many went
    GET    /export              everything the user has: a ZIP of memory.jsonl and images/
    POST   /import              such a ZIP (or a bare memory.jsonl) as the body or a multipart `file`
    GET    /stats               items, images, bytes, oldest, newest

Every handler acts for the user of the request's API key (server/memory_access.py), so another user's id is a
404 like an unknown one and no listing, search, export or picture ever holds another user's items.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, model_validator

from vreason.errors import MediaError
from vreason.server.errors import ERROR_STATUS_DESCRIPTIONS, ApiError, ErrorResponse
from vreason.server.memory_access import ServerMemory
from vreason.server.memory_transfer import pack, unpack
from vreason.server.protocol import reject_lone_surrogates
from vreason.server.request_bodies import content_type, json_object, validated

MAX_K = 100
MAX_LIST = 1000
MAX_OFFSET = 2**40  # beyond any store's row count; larger numbers overflow SQLite's integers
_IMAGE_TYPES = {b"\x89PNG": "image/png", b"\xff\xd8\xff": "image/jpeg", b"GIF8": "image/gif", b"BM": "image/bmp"}


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _valid_unicode(cls, data: Any) -> Any:
        return reject_lone_surrogates(data)


class AddRequest(_Body):
    text: str | None = Field(default=None, max_length=20_000)
    images: list[str] = Field(default_factory=list, max_length=16)  # URLs, data URIs or base64
    kind: Literal["fact", "correction", "note"] = "fact"
    session: str | None = Field(default=None, max_length=128)

    @model_validator(mode="after")
    def _something(self) -> AddRequest:
        if not (self.text or "").strip() and not self.images:
            raise ValueError("give `text`, `images` or both: there is nothing to remember")
        return self


class SearchRequest(_Body):
    query: str = Field(default="", max_length=20_000)
    images: list[str] = Field(default_factory=list, max_length=16)
    k: int = Field(default=5, ge=1, le=MAX_K)

    @model_validator(mode="after")
    def _something(self) -> SearchRequest:
        if not self.query.strip() and not self.images:
            raise ValueError("give a `query`, `images` or both")
        return self


class ForgetRequest(_Body):
    ids: list[str] | None = Field(default=None, max_length=10_000)
    query: str | None = Field(default=None, max_length=20_000)
    everything: bool = False

    @model_validator(mode="after")
    def _one(self) -> ForgetRequest:
        if sum([bool(self.ids), bool((self.query or "").strip()), self.everything]) != 1:
            raise ValueError("give exactly one of `ids`, `query` or `everything: true`")
        return self


class MemoryItemOut(BaseModel):
    id: str
    user: str
    session: str
    kind: str
    text: str
    created_at: str
    source: str
    image_sha256: str | None = None  # absent when the item has no picture
    facts: dict[str, Any]
    bytes: int
    score: float | None = None  # search hits only
    why: list[str] | None = None


class ItemList(BaseModel):
    object: Literal["list"] = "list"
    data: list[MemoryItemOut]


class Forgotten(BaseModel):
    forgotten: int


class Imported(BaseModel):
    imported: int


def memory_router(memory: ServerMemory) -> APIRouter:
    router = APIRouter(prefix="/v1/vreason/memory", tags=["memory"])

    @router.post(
        "/items", response_model=ItemList, response_model_exclude_none=True, openapi_extra={"requestBody": _add_body()}
    )
    async def add(request: Request) -> dict:
        body = await _add_request(request)
        mem = memory.for_request(request, session=body.session)
        images = await _images(memory, body.images)
        text = (body.text or "").strip()
        if text:
            items = await mem.remember(text, images=images, kind=body.kind)
        else:
            items = [await mem.remember_image(image) for image in images]
        return _listed(items)

    @router.get("/items", response_model=ItemList, response_model_exclude_none=True)
    async def list_items(
        request: Request,
        kind: Literal["image", "fact", "correction", "note"] | None = None,
        session: str | None = None,
        limit: int = Query(50, ge=1, le=MAX_LIST),
        offset: int = Query(0, ge=0, le=MAX_OFFSET),
    ) -> dict:
        mem = memory.for_request(request)
        return _listed(await mem.list(kind=kind, session=session, limit=limit, offset=offset))

    @router.get("/items/{item_id}", response_model=MemoryItemOut, response_model_exclude_none=True)
    async def show(request: Request, item_id: str) -> dict:
        return (await _item(memory, request, item_id)).to_dict()

    @router.get(
        "/items/{item_id}/image",
        response_class=Response,
        responses={200: {"content": {"image/png": {}, "image/jpeg": {}}, "description": "The picture."}},
    )
    async def picture(request: Request, item_id: str, thumbnail: bool = False) -> Response:
        item = await _item(memory, request, item_id)
        if not item.image_sha256:
            raise _not_found(item_id, "has no picture")
        data = await memory.for_request(request).image(item.image_sha256, thumbnail=thumbnail)
        return Response(data, media_type=_image_type(data), headers={"Cache-Control": "private, no-store"})

    @router.delete("/items/{item_id}", response_model=Forgotten)
    async def forget_one(request: Request, item_id: str) -> dict:
        item = await _item(memory, request, item_id)
        return {"forgotten": await memory.for_request(request).forget(ids=[item.id])}

    @router.post("/search", response_model=ItemList, response_model_exclude_none=True)
    async def search(request: Request, body: SearchRequest) -> dict:
        mem = memory.for_request(request)
        hits = await mem.recall(body.query, images=await _images(memory, body.images), k=body.k)
        return {"object": "list", "data": [hit.to_dict() for hit in hits]}

    @router.post("/forget", response_model=Forgotten)
    async def forget(request: Request, body: ForgetRequest) -> dict:
        mem = memory.for_request(request)
        return {"forgotten": await mem.forget(ids=body.ids, query=body.query, everything=body.everything)}

    @router.get(
        "/export",
        response_class=Response,
        responses={200: {"content": {"application/zip": {}}, "description": "memory.jsonl and images/"}},
    )
    async def export(request: Request) -> Response:
        mem = memory.for_request(request)
        with tempfile.TemporaryDirectory(prefix="vreason-memory-export-") as folder:
            written = Path(await mem.export(Path(folder) / "export"))
            data = pack(written if written.is_dir() else written.parent)
        return Response(
            data,
            media_type="application/zip",
            headers={"Content-Disposition": 'attachment; filename="vreason-memory.zip"'},
        )

    @router.post("/import", response_model=Imported, openapi_extra={"requestBody": _import_body()})
    async def import_(request: Request) -> dict:
        mem = memory.for_request(request)
        data = await _upload(request)
        with tempfile.TemporaryDirectory(prefix="vreason-memory-import-") as folder:
            jsonl = unpack(data, Path(folder))
            return {"imported": await mem.import_(jsonl.parent)}

    @router.get("/stats")
    async def stats(request: Request) -> dict:
        return (await memory.for_request(request).stats()).to_dict()

    return router


def memory_responses(*statuses: int) -> dict[int | str, dict]:
    """OpenAPI error entries of the memory routes: 404 is an item (or memory itself) this key cannot reach."""
    described = {
        **ERROR_STATUS_DESCRIPTIONS,
        404: "No such item in this key's user's memory (unknown, forgotten or "
        "another user's), or the server keeps no memory (`memory_disabled`).",
    }
    return {status: {"model": ErrorResponse, "description": described[status]} for status in statuses}


def _listed(items: list) -> dict:
    return {"object": "list", "data": [item.to_dict() for item in items]}


async def _item(memory: ServerMemory, request: Request, item_id: str):
    from vreason.memory.types import MemoryNotFoundError

    try:
        return await memory.for_request(request).get(item_id)
    except MemoryNotFoundError:
        raise _not_found(item_id) from None


def _not_found(item_id: str, why: str = "is not in your memory") -> ApiError:
    shown = item_id if len(item_id) <= 40 else item_id[:40] + "..."
    return ApiError(404, f"memory item {shown!r} {why}", param="id", code="memory_not_found")


async def _images(memory: ServerMemory, sources: list[str]) -> list[bytes]:
    try:
        return await memory.read_images(list(sources))
    except MediaError as err:
        raise ApiError(400, str(err), param="images", code="invalid_image") from None


def _image_type(data: bytes) -> str:
    for magic, mime in _IMAGE_TYPES.items():
        if data.startswith(magic):
            return mime
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return "application/octet-stream"


async def _add_request(request: Request) -> AddRequest:
    kind = content_type(request)
    if kind != "multipart/form-data":
        return validated(AddRequest, await json_object(request))
    fields: dict[str, Any] = {"images": []}
    async with request.form(max_files=16, max_fields=8) as form:
        for key, value in form.multi_items():
            if key == "image" and not isinstance(value, str):
                fields["images"].append(await value.read())
            elif isinstance(value, str) and key in ("text", "kind", "session"):
                fields[key] = value
            else:
                raise ApiError(
                    400,
                    f"{key}: unknown form field (text, kind, session, image files)",
                    param=key,
                    code="invalid_value",
                )
    uploads = fields.pop("images")
    fields["images"] = ["upload"] * len(uploads)  # validated for count; the bytes replace them below
    body = validated(AddRequest, fields)
    body.images = uploads  # type: ignore[assignment]  (bytes are a source the media step reads as they are)
    return body


async def _upload(request: Request) -> bytes:
    kind = content_type(request)
    if kind == "multipart/form-data":
        async with request.form(max_files=1, max_fields=2) as form:
            upload = form.get("file")
            if upload is None or isinstance(upload, str):
                raise ApiError(400, "upload the export as the form field `file`", param="file", code="invalid_value")
            data = await upload.read()
    else:
        data = await request.body()
    if not data:
        raise ApiError(
            400,
            "the body is empty; send the ZIP from GET /v1/vreason/memory/export",
            param="file",
            code="invalid_value",
        )
    return data


def _add_body() -> dict:
    multipart = {
        "type": "object",
        "properties": {
            "text": {"type": "string"},
            "kind": {"type": "string", "enum": ["fact", "correction", "note"]},
            "session": {"type": "string"},
            "image": {"type": "array", "items": {"type": "string", "format": "binary"}},
        },
    }
    return {
        "required": True,
        "content": {
            "application/json": {"schema": AddRequest.model_json_schema()},
            "multipart/form-data": {"schema": multipart},
        },
    }


def _import_body() -> dict:
    binary = {"schema": {"type": "string", "format": "binary"}}
    form = {
        "schema": {
            "type": "object",
            "properties": {"file": {"type": "string", "format": "binary"}},
            "required": ["file"],
        }
    }
    return {
        "required": True,
        "content": {"application/zip": binary, "application/x-ndjson": binary, "multipart/form-data": form},
    }
