"""3D grounding over HTTP: POST /v1/vreason/ground3d finds a target in a point cloud as oriented 3D boxes.

The cloud comes as a multipart upload (`cloud` file part, the other fields as form fields, `views` comma
separated) or in a JSON body (`cloud`: URL, data URI, or a path where the server allows local media), read by
server/cloud_input.py under the engine's media policy, at most `MAX_POINTS` points (a request may lower it).
The route awaits the same function the CLI's `vreason ground3d` and the Python API call
(spatial/questions.py:`alocate_3d`, or `method: bbox_3d`), on one `AsyncVReason(engine)`; reading and
drawing run on worker threads. The answer: boxes in the cloud's coordinates (`label`, `center`, `size`,
`yaw` in radians, `yaw_deg`, `points` inside, `view`), the views' cameras, the model's 2D detections per view
and, with `annotate`, each view with the boxes drawn as a PNG data URI. A bad cloud, too many points, an
empty cloud, unknown fields: 400 with the OpenAI error body (`param` names the field, `code` invalid_cloud
for the cloud itself).
"""

from __future__ import annotations

import asyncio
import base64
import io
from typing import Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from vreason.async_api import AsyncVReason
from vreason.engine.interface import Engine
from vreason.server.cloud_input import FORMATS, CloudInputError, read_cloud_source
from vreason.server.errors import ApiError
from vreason.server.reasoning_routes import _Request
from vreason.server.request_bodies import content_type, json_object, validated
from vreason.spatial.views import DEFAULT_SIZE, MAX_SIZE, VIEW_NAMES

# Points one request may send: a 10M-point cloud is ~150 MB of float32 xyz + rgb, rendered from a down-sampled
# copy; beyond that, down-sample before sending.
MAX_POINTS = 10_000_000
ViewName = Literal["bev", "front", "side", "persp"]


class Ground3DOptions(_Request):
    """Everything but the cloud (the fields of a multipart request besides its `cloud` file)."""

    target: str = Field(min_length=1, max_length=1000)
    views: list[ViewName] = Field(default=["bev"], min_length=1, max_length=len(VIEW_NAMES))
    size: int = Field(default=DEFAULT_SIZE, ge=16, le=MAX_SIZE)  # longer side of each view, pixels
    method: Literal["lift", "bbox_3d"] = "lift"
    angle_unit: Literal["rad", "pi", "deg"] = "pi"  # how a real Qwen3-VL's bbox_3d angles are read (cookbook: pi)
    view_words: bool = True  # ask in the words of the view ("red box" from above: "red rectangle")
    focus: bool = False  # frame the views on what stands on the ground (room-sized scans)
    format: str | None = Field(default=None, description=f"The cloud's format: {', '.join(FORMATS)}.")
    max_points: int = Field(default=MAX_POINTS, ge=1, le=MAX_POINTS)
    drop_invalid: bool = False  # drop NaN/inf points instead of refusing the cloud
    annotate: bool = False  # also return each view with the boxes drawn, as PNG data URIs


class Ground3DRequest(Ground3DOptions):
    cloud: str = Field(min_length=1, description="URL, data URI, or a path where the server allows local media.")


class Ground3DResponse(BaseModel):
    target: str
    method: str
    points: int  # points read from the cloud
    boxes: list[dict[str, Any]]  # Box3D.to_dict(): label, center, size, yaw, yaw_deg, points, view
    views: list[dict[str, Any]]  # name, size, camera
    detections_2d: dict[str, list[dict[str, Any]]]  # the model's 2D boxes on each view
    ground: dict[str, Any] | None
    raw_outputs: list[str]
    annotated_views: dict[str, str] | None = None  # view name -> PNG data URI


def _multipart_schema() -> dict[str, Any]:
    schema = Ground3DOptions.model_json_schema()
    properties = dict(schema["properties"])
    properties["views"] = {"type": "string", "default": "bev", "description": "Comma separated: bev,front,side,persp."}
    properties["cloud"] = {"type": "string", "format": "binary", "description": "The point-cloud file."}
    return {"type": "object", "properties": properties, "required": ["cloud", "target"]}


REQUEST_BODY = {
    "required": True,
    "content": {
        "application/json": {"schema": Ground3DRequest.model_json_schema()},
        "multipart/form-data": {"schema": _multipart_schema()},
    },
}


def spatial_router(engine: Engine, request_timeout_s: float | None = None) -> APIRouter:
    router = APIRouter(prefix="/v1/vreason", tags=["3d"])
    vr = AsyncVReason(engine)
    deadline = {} if request_timeout_s is None else {"timeout_s": request_timeout_s}

    @router.post(
        "/ground3d",
        response_model=Ground3DResponse,
        response_model_exclude_none=True,
        openapi_extra={"requestBody": REQUEST_BODY},
    )
    async def ground3d(request: Request) -> dict:
        try:
            options, source, upload, filename = await _parse(request)
            cloud = await asyncio.to_thread(
                read_cloud_source,
                source,
                data=upload,
                filename=filename,
                fmt=options.format,
                policy=engine.policy,
                max_points=options.max_points,
                drop_invalid=options.drop_invalid,
            )
        except CloudInputError as err:
            raise ApiError(400, str(err), param="cloud", code="invalid_cloud") from None
        return await _ground3d(vr, cloud, options, deadline)

    return router


async def _parse(request: Request) -> tuple[Ground3DOptions, str | None, bytes | None, str | None]:
    """(options, cloud source, uploaded bytes, upload name) from a JSON or multipart body."""
    kind = content_type(request)
    if kind == "multipart/form-data":
        async with request.form(max_files=1, max_fields=40) as form:
            fields: dict[str, Any] = {}
            upload = filename = None
            for key, value in form.multi_items():
                if key == "cloud" and not isinstance(value, str):
                    upload, filename = await value.read(), value.filename or None
                elif key == "views":
                    fields.setdefault("views", []).extend(v.strip() for v in str(value).split(",") if v.strip())
                elif isinstance(value, str):
                    fields[key] = value
                else:
                    raise ApiError(400, f"{key}: only `cloud` may be a file", param=key, code="invalid_value")
        if upload is None:
            raise CloudInputError("no cloud given: upload the file as the form field `cloud`")
        return validated(Ground3DOptions, fields), None, upload, filename
    request_ = validated(Ground3DRequest, await json_object(request))
    return request_, request_.cloud, None, None


async def _ground3d(vr: AsyncVReason, cloud, options: Ground3DOptions, deadline: dict[str, float]) -> dict:
    from vreason.spatial.questions import alocate_3d

    result = await alocate_3d(
        vr,
        cloud,
        options.target,
        views=tuple(options.views),
        size=options.size,
        method=options.method,
        angle_unit=options.angle_unit,
        view_words=options.view_words,
        focus=options.focus,
        **options.sampling(),
        **deadline,
    )
    data = {**result.to_dict(), "points": len(cloud)}
    if options.annotate:
        data["annotated_views"] = await asyncio.to_thread(_annotated, result)
    return data


def _annotated(result) -> dict[str, str]:
    """Each view with the boxes (and the model's 2D boxes) drawn, as PNG data URIs."""
    from vreason.spatial.annotate import draw_boxes_3d
    from vreason.spatial.questions import detections_on

    out = {}
    for view in result.views:
        buffer = io.BytesIO()
        draw_boxes_3d(view, result.boxes, detections_on(view, result)).save(buffer, format="PNG")
        out[view.name] = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
    return out
