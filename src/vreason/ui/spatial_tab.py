"""The 3D tab: a point cloud in, questions about it and oriented 3D boxes out.

Upload a cloud (PLY, PCD, XYZ/TXT, NPY/NPZ, LAS/LAZ: whatever `spatial.readers.read_cloud` reads), pick the
views it is rendered from, then

- **Find** a target ("red box"): `spatial.questions.alocate_3d` grounds it on each view and lifts the 2D boxes
  into the cloud's coordinates. The page shows every view with the model's 2D boxes (thin) and the lifted 3D
  boxes as wireframes (thick, `spatial.annotate.draw_boxes_3d`), a table of the boxes (their full JSON one
  click away), and the boxes as a PLY line set to download and open over the cloud in any point-cloud viewer.
- **Ask** a question: `spatial.questions.aask_3d` sends the views as the images of one request; the answer and
  the views it saw are shown.

Reading and drawing run in worker threads (a cloud of millions of points takes a noticeable fraction of a
second). Every error reads as one line in the status and as a toast; the file is named as the user knows it,
not by Gradio's upload folder.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gradio as gr

from vreason.errors import InvalidRequestError
from vreason.ui.feedback import answer_summary, error_message

if TYPE_CHECKING:
    from vreason.async_api import AsyncVReason
    from vreason.spatial.questions import Grounding3D
    from vreason.spatial.readers import PointCloud

VIEWS = [("bird's-eye (bev)", "bev"), ("front", "front"), ("side", "side"), ("perspective", "persp")]
DEFAULT_TARGET = "red box"
DEFAULT_QUESTION = "How many objects are there?"
# The box answers of a dozen objects fit; a rambling model stops here.
MAX_NEW_TOKENS = 256
TABLE_HEADERS = ["label", "x", "y", "z", "length", "width", "height", "yaw °", "points", "view"]


class SpatialTab:
    def __init__(self, vr: AsyncVReason):
        self.vr = vr

    def build(self) -> None:
        with gr.Row():
            with gr.Column():
                cloud = gr.File(
                    label="Point cloud (.ply .pcd .xyz .txt .npy .npz .las .laz)",
                    elem_id="space-cloud",
                    file_count="single",
                    type="filepath",
                )
                views = gr.CheckboxGroup(VIEWS, value=["bev"], label="Views the model sees", elem_id="space-views")
                target = gr.Textbox(label="What to find", value=DEFAULT_TARGET, elem_id="space-target")
                find = gr.Button("Find", variant="primary", elem_id="space-find")
                question = gr.Textbox(label="Question", value=DEFAULT_QUESTION, elem_id="space-question")
                ask = gr.Button("Ask", elem_id="space-ask")
            with gr.Column():
                status = gr.Markdown(elem_id="space-status")
                answer = gr.Markdown(elem_id="space-answer")
                gallery = gr.Gallery(
                    label="Views (3D boxes drawn as wireframes)",
                    elem_id="space-gallery",
                    columns=2,
                    height="auto",
                    format="png",
                    interactive=False,
                )
                table = gr.Dataframe(
                    headers=TABLE_HEADERS,
                    label="3D boxes (centre and size in the cloud's units; yaw about +z)",
                    elem_id="space-table",
                    interactive=False,
                )
                with gr.Accordion("Boxes as JSON", open=False):
                    boxes = gr.JSON(elem_id="space-boxes")
                download = gr.File(label="Boxes as PLY line sets", elem_id="space-download", interactive=False)
        outputs = [gallery, table, boxes, download, answer, status]
        find.click(self.find, inputs=[cloud, target, views], outputs=outputs, concurrency_id="model")
        target.submit(self.find, inputs=[cloud, target, views], outputs=outputs, concurrency_id="model")
        ask.click(self.ask, inputs=[cloud, question, views], outputs=outputs, concurrency_id="model")
        question.submit(self.ask, inputs=[cloud, question, views], outputs=outputs, concurrency_id="model")

    async def find(self, cloud_path: str | None, target: str, views: list[str] | None) -> AsyncIterator[tuple]:
        """Yields (views, table rows, boxes, PLY file, answer, status): cleared, then the result."""
        yield [], [], None, None, "", "⏳ Looking…"
        yield await self._find(cloud_path, target, views)

    async def ask(self, cloud_path: str | None, question: str, views: list[str] | None) -> AsyncIterator[tuple]:
        """Yields (views, table rows, boxes, PLY file, answer, status): cleared, then the answer."""
        yield [], [], None, None, "", "⏳ Asking…"
        yield await self._ask(cloud_path, question, views)

    async def _find(self, cloud_path: str | None, target: str, views: list[str] | None) -> tuple:
        from vreason.spatial.questions import alocate_3d

        try:
            if not (target or "").strip():
                raise InvalidRequestError("say what to find, e.g. “red box”", param="target")
            cloud = await _read(cloud_path)
            result = await alocate_3d(
                self.vr, cloud, target.strip(), views=_views(views), max_new_tokens=MAX_NEW_TOKENS
            )
            pictures = await asyncio.to_thread(_annotated, result)
            ply = await asyncio.to_thread(_boxes_file, result, Path(cloud_path or "cloud").stem)
        except Exception as err:  # VReasonError, or a bug: one line, and the page keeps working
            return _failed(err, cloud_path)
        boxes = [box.to_dict() for box in result.boxes]
        rows = [box_row(box) for box in boxes]
        if not rows:
            return pictures, [], [], None, "", f"**Nothing found** for “{target.strip()}” on {_named(result.views)}"
        return pictures, rows, boxes, ply, "", f"**{len(rows)} found** for “{target.strip()}” on {_named(result.views)}"

    async def _ask(self, cloud_path: str | None, question: str, views: list[str] | None) -> tuple:
        from vreason.spatial.questions import aask_3d

        try:
            if not (question or "").strip():
                raise InvalidRequestError("the question is empty", param="question")
            cloud = await _read(cloud_path)
            answer, rendered = await aask_3d(self.vr, cloud, question.strip(), views=_views(views))
        except Exception as err:
            return _failed(err, cloud_path)
        pictures = [(view.image, view.name) for view in rendered]
        return pictures, [], None, None, answer.text or "(empty answer)", answer_summary(answer)


def box_row(box: dict) -> list:
    """A table row of one box's `to_dict()`: centre and size to 3 decimals, yaw in degrees."""
    return [
        box["label"],
        *(round(v, 3) for v in box["center"]),
        *(round(v, 3) for v in box["size"]),
        round(box["yaw_deg"], 1),
        box["points"],
        box.get("view", ""),
    ]


async def _read(cloud_path: str | None) -> PointCloud:
    from vreason.spatial.readers import read_cloud

    if not cloud_path:
        raise InvalidRequestError("upload a point cloud first", param="cloud")
    return await asyncio.to_thread(read_cloud, cloud_path)


def _views(chosen: list[str] | None) -> tuple[str, ...]:
    if not chosen:
        raise InvalidRequestError("pick at least one view", param="views")
    return tuple(chosen)


def _annotated(result: Grounding3D) -> list[tuple[Any, str]]:
    from vreason.spatial.annotate import draw_boxes_3d
    from vreason.spatial.questions import detections_on

    return [(draw_boxes_3d(view, result.boxes, detections_on(view, result)), view.name) for view in result.views]


def _boxes_file(result: Grounding3D, stem: str) -> str | None:
    """The boxes as a PLY line set in a fresh folder (Gradio serves it, and its cache deletes it after a day)."""
    from vreason.spatial.boxes3d import write_boxes_ply

    if not result.boxes:
        return None
    path = Path(tempfile.mkdtemp(prefix="vreason-3d-")) / f"{stem}-boxes.ply"
    write_boxes_ply(path, result.boxes)
    return str(path)


def _named(views: list) -> str:
    return ", ".join(view.name for view in views)


def _failed(err: BaseException, cloud_path: str | None) -> tuple:
    """The one line for `err` (the upload named by its own file name), as the status and as a toast."""
    # a bad file, target or choice of views: the reader's own sentence, not "Invalid setting"
    line = f"⚠️ {err}" if isinstance(err, InvalidRequestError) else error_message(err)
    if cloud_path:
        line = line.replace(str(cloud_path), Path(cloud_path).name)
    gr.Warning(line.removeprefix("⚠️ ").replace("**", ""))
    return [], [], None, None, "", line


__all__ = ["SpatialTab"]
