"""The Grounding tab: name what to find, get the boxes (or points) drawn on the image and a table of labels and
pixel coordinates.

`reasoning.locate.alocate` asks with Qwen3-VL's grounding prompt and maps the answer onto the original image;
with tiling on, `reasoning.tile_runner.alocate_tiled` asks tile by tile and merges the boxes with NMS. The tab
only lays out and draws (`reasoning.draw`, in a worker thread: drawing on a large image is CPU work that would
stall Gradio's event loop).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

import gradio as gr

from vreason.reasoning.draw import draw_detections
from vreason.reasoning.grounding import Detection
from vreason.reasoning.locate import alocate
from vreason.reasoning.tile_runner import alocate_tiled
from vreason.reasoning.tiling import parse_grid
from vreason.ui.feedback import answer_summary, error_message

if TYPE_CHECKING:
    from vreason.async_api import AsyncVReason

TABLE_HEADERS = ["label", "x1", "y1", "x2", "y2", "point x", "point y"]
# Boxes take ~20 tokens each; enough for a dozen objects without letting a rambling model run long.
DEFAULT_MAX_NEW_TOKENS = 256
GRIDS = ["auto", "2x2", "3x3", "4x4"]


def detection_rows(detections: list[Detection]) -> list[list]:
    """One table row per detection, pixel coordinates rounded to whole pixels ('' where absent)."""
    rows = []
    for det in detections:
        box = [round(v) for v in det.box] if det.box else ["", "", "", ""]
        point = [round(v) for v in det.point] if det.point else ["", ""]
        rows.append([det.label, *box, *point])
    return rows


class GroundingTab:
    def __init__(self, vr: AsyncVReason):
        self.vr = vr

    def build(self) -> None:
        with gr.Row():
            with gr.Column():
                image = gr.Image(type="filepath", label="Image", elem_id="ground-image",
                                 sources=["upload", "clipboard"])
                target = gr.Textbox(label="What to find", placeholder="e.g. circle, red star, every person",
                                    value="shape", elem_id="ground-target")
                kind = gr.Radio(["box", "point"], value="box", label="Answer as", elem_id="ground-kind")
                with gr.Accordion("Options", open=False):
                    tiled = gr.Checkbox(False, label="High-resolution tiling",
                                        info="Ask tile by tile (finds small objects in large images)",
                                        elem_id="ground-tiled")
                    grid = gr.Dropdown(GRIDS, value="auto", label="Tile grid (rows x columns)")
                    max_new_tokens = gr.Slider(16, 2048, value=DEFAULT_MAX_NEW_TOKENS, step=16,
                                               label="Max new tokens")
                find = gr.Button("Find", variant="primary", elem_id="ground-find")
            with gr.Column():
                annotated = gr.Image(type="pil", label="Found", elem_id="ground-result", interactive=False,
                                     format="png")
                table = gr.Dataframe(headers=TABLE_HEADERS, label="Detections (pixels of the original image)",
                                     elem_id="ground-table", interactive=False)
                status = gr.Markdown(elem_id="ground-status")
                with gr.Accordion("Model output", open=False):
                    raw = gr.Code(label="Raw answer", language="json", elem_id="ground-raw")
        inputs = [image, target, kind, tiled, grid, max_new_tokens]
        outputs = [annotated, table, raw, status]
        find.click(self.find, inputs=inputs, outputs=outputs, concurrency_id="model")
        target.submit(self.find, inputs=inputs, outputs=outputs, concurrency_id="model")

    async def find(self, image_path: str | None, target: str, kind: str, tiled: bool, grid: str,
                   max_new_tokens: float) -> AsyncIterator[tuple]:
        """Yields (annotated image, table rows, raw answer, status): cleared, then the result."""
        yield None, [], "", "⏳ Looking…"
        yield await self._find(image_path, target, kind, tiled, grid, max_new_tokens)

    async def _find(self, image_path: str | None, target: str, kind: str, tiled: bool, grid: str,
                    max_new_tokens: float) -> tuple:
        if not image_path:
            return None, [], "", "⚠️ Upload an image first."
        if not (target or "").strip():
            return None, [], "", "⚠️ Say what to find, e.g. “circle” or “every person”."
        try:
            prepared = await self.vr.prepare_image(Path(image_path))
            if tiled:
                result = await alocate_tiled(self.vr, prepared, target, kind=kind, grid=parse_grid(grid),
                                             max_new_tokens=int(max_new_tokens))
                detections, raw = result.detections, _tiled_raw(result)
                summary = (f"{result.grid[0]}x{result.grid[1]} tiles · {result.completion_tokens} tokens · "
                           f"{result.time_s:.2f} s")
            else:
                found = await alocate(self.vr, prepared, target, kind=kind, max_new_tokens=int(max_new_tokens))
                detections, raw = found.detections, found.raw_output
                summary = answer_summary(found.answer) if found.answer else ""
        except Exception as err:  # VReasonError, or a bug: the page says so and keeps working
            return None, [], "", error_message(err)
        picture = await asyncio.to_thread(draw_detections, prepared.image, detections)
        if not detections:
            return picture, [], raw, f"**Nothing found** for “{target.strip()}” · {summary}"
        return picture, detection_rows(detections), raw, f"**{len(detections)} found** · {summary}"


def _tiled_raw(result) -> str:
    """Every tile's answer, labelled, so a missed or doubled object can be traced to its tile."""
    parts = [f"// {t.name}: {'(blank, skipped)' if t.text is None else t.text}" for t in result.tiles]
    if result.overview is not None:
        parts.append(f"// overview: {result.overview.text}")
    return "\n".join(parts)
