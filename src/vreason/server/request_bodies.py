"""Bodies that routes read themselves (JSON or multipart on one route), answered like FastAPI's own body errors.

`json_object` reads a JSON object body (400 for another content type, bad JSON or a non-object); `validated` checks
a dict against a pydantic model and fails as FastAPI does for a declared body (RequestValidationError: a 400 with
one line naming the field, server/errors.py), so a route that parses by hand answers the same as one that declares.
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

from vreason.server.errors import ApiError

Model = TypeVar("Model", bound=BaseModel)


def content_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


async def json_object(request: Request) -> dict[str, Any]:
    kind = content_type(request)
    if kind not in ("application/json", ""):
        raise ApiError(400, f"content type {kind!r}: send JSON or multipart/form-data", code="invalid_value")
    raw = await request.body()
    try:
        data = json.loads(raw) if raw else None
    except ValueError as err:
        raise ApiError(400, f"the request body is not valid JSON ({err})", code="invalid_value") from None
    if not isinstance(data, dict):
        raise ApiError(400, "the request body must be a JSON object", code="invalid_value")
    return data


def validated(model: type[Model], data: dict[str, Any]) -> Model:
    try:
        return model.model_validate(data)
    except ValidationError as err:  # answered like FastAPI's own body errors: 400, one line, the field named
        raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in err.errors()]) from None
