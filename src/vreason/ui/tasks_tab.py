"""The Task packs tab: pick a pack (medical, inspection, education), upload an image, get its structured result.

The request goes through the evaluation runner's `apredict_batch` (awaited on Gradio's event loop), the same
path as `vreason task run` and `vreason eval --task`: the pack's prompt, constrained JSON under its schema, its
lenient reader. The page shows the reading rendered per pack (`task_views`), boxes drawn on the image, the JSON,
and the pack's stated limits.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gradio as gr

from vreason.eval.datasets import EvalItem
from vreason.eval.runner import RunOptions, apredict_batch, sampling_for
from vreason.reasoning.draw import draw_detections
from vreason.tasks import get_task, task_names
from vreason.tasks.structured import find_boxes
from vreason.ui.feedback import error_message
from vreason.ui.task_views import render_result

if TYPE_CHECKING:
    from vreason.async_api import AsyncVReason

# Prompt fields a pack's template reads from the user, and the packs that read each one.
FIELDS = {"problem": ("education-math",), "topic": ("education-essay",), "text": ("education-essay",)}


class TasksTab:
    def __init__(self, vr: AsyncVReason):
        self.vr = vr

    def build(self) -> None:
        names = task_names()
        choices = [(f"{get_task(n).title}", n) for n in names]
        first = names[0]
        with gr.Row():
            with gr.Column():
                task = gr.Dropdown(choices, value=first, label="Task pack", elem_id="task-name")
                about = gr.Markdown(_about(first), elem_id="task-about")
                image = gr.Image(type="filepath", label="Image", elem_id="task-image",
                                 sources=["upload", "clipboard"])
                problem = gr.Textbox(label="Problem (题目)", lines=2, visible=False, elem_id="task-problem",
                                     placeholder="The word problem, if it is not in the photo")
                topic = gr.Textbox(label="Essay topic", visible=False, elem_id="task-topic")
                text = gr.Textbox(label="Essay text (instead of a photo)", lines=6, visible=False,
                                  elem_id="task-text")
                with gr.Accordion("Options", open=False):
                    constrained = gr.Checkbox(True, label="Constrained JSON (the pack's schema)")
                    max_new_tokens = gr.Slider(32, 2048, value=get_task(first).max_new_tokens, step=16,
                                               label="Max new tokens", elem_id="task-max-new-tokens")
                with gr.Accordion("Limits of this pack", open=False):
                    limits = gr.Markdown(get_task(first).limits, elem_id="task-limits")
                run = gr.Button("Run task", variant="primary", elem_id="task-run")
            with gr.Column():
                result = gr.Markdown(elem_id="task-result")
                status = gr.Markdown(elem_id="task-status")
                boxes = gr.Image(type="pil", label="Boxes", visible=False, interactive=False, format="png",
                                 elem_id="task-boxes")
                with gr.Accordion("JSON", open=False):
                    as_json = gr.JSON(elem_id="task-json")
                with gr.Accordion("Model output", open=False):
                    raw = gr.Code(label="Raw answer", elem_id="task-raw")
        task.change(self.select, inputs=[task], outputs=[about, limits, max_new_tokens, problem, topic, text],
                    queue=False).then(lambda: _failed(""), outputs=[result, boxes, as_json, raw, status], queue=False)
        run.click(self.run, inputs=[task, image, problem, topic, text, constrained, max_new_tokens],
                  outputs=[result, boxes, as_json, raw, status], concurrency_id="model")

    @staticmethod
    def select(name: str) -> tuple:
        pack = get_task(name)
        shown = [gr.update(visible=name in FIELDS[field]) for field in ("problem", "topic", "text")]
        return _about(name), pack.limits, gr.update(value=pack.max_new_tokens), *shown

    async def run(self, name: str, image_path: str | None, problem: str, topic: str, text: str, constrained: bool,
                  max_new_tokens: float) -> AsyncIterator[tuple]:
        """Yields (rendered result, boxes image update, parsed JSON, raw answer, status): cleared, then the result."""
        yield _failed("⏳ Running…")
        yield await self._run(name, image_path, problem, topic, text, constrained, max_new_tokens)

    async def _run(self, name: str, image_path: str | None, problem: str, topic: str, text: str, constrained: bool,
                   max_new_tokens: float) -> tuple:
        try:
            pack = get_task(name)
            fields = {k: v.strip() for k, v in (("problem", problem), ("topic", topic), ("text", text))
                      if v and v.strip() and name in FIELDS[k]}
            if not image_path and not (pack.all_images_one_item and fields.get("text")):
                return _failed("⚠️ Upload an image first" + (" (or type the essay)." if name in FIELDS["text"]
                                                            else "."))
            prepared = await self.vr.prepare_image(Path(image_path)) if image_path else None
            item = EvalItem(id="ui", images=[image_path] if image_path else [], question="", fields=fields)
            options = RunOptions(max_new_tokens=int(max_new_tokens), constrained=constrained, progress=False)
            record = (await apredict_batch(self.vr, [item], pack, sampling_for(pack, options)))[0]
        except Exception as err:  # VReasonError, or a bug: the page says so and keeps working
            return _failed(error_message(err))
        if record.error or record.parse_error or record.parsed is None:
            problem_text = record.error or record.parse_error or "no answer"
            return _failed(f"⚠️ **The answer could not be read as a {pack.title} result**: {problem_text}",
                           raw=record.prediction)
        picture = None
        if prepared is not None:
            detections = [d.to_pixels(prepared.original_size) for d in find_boxes(record.parsed)]
            # drawing on a large image is CPU work: off Gradio's event loop
            picture = await asyncio.to_thread(draw_detections, prepared.image, detections) if detections else None
        status = f"{record.completion_tokens} tokens · {record.latency_s:.2f} s"
        if record.finish_reason == "length":
            status += " · cut off at max new tokens: read up to its last complete value"
        elif record.schema_valid is False:
            status += " · the answer broke the schema in places; the reader repaired what it could"
        return (render_result(name, record.parsed), gr.update(value=picture, visible=picture is not None),
                record.parsed, record.prediction, status)


def _about(name: str) -> str:
    return f"*{get_task(name).summary}*"


def _failed(status: str, raw: str = "") -> tuple[Any, ...]:
    return "", gr.update(value=None, visible=False), None, raw, status
