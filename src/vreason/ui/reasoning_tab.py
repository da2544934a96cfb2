"""The Reasoning tab: a sequence of questions about one image, each step's answer and trace, optional tiling.

Steps run through `reasoning.chains.arun_chain` (one conversation; `{previous}`, `{stepN}` and `{stepN_boxes}`
name earlier results; chain-of-thought and self-consistency votes on request). With high-resolution tiling on,
each step is asked tile by tile instead (`reasoning.tile_runner.aask_tiled`), its answer being the union of what
the tiles found; the trace keeps the same shape either way, so the page renders one kind of result. The handler
is an async generator awaiting them on Gradio's event loop.
"""

from __future__ import annotations

import asyncio
import html
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gradio as gr

from vreason.reasoning.answer_extraction import cot_instruction
from vreason.reasoning.chains import arun_chain, fill_placeholders
from vreason.reasoning.draw import draw_detections
from vreason.reasoning.tile_runner import TiledResult, aask_tiled
from vreason.reasoning.tiling import parse_grid
from vreason.reasoning.trace import ChainTrace, StepTrace
from vreason.ui.controls import SamplingControls, to_sampling
from vreason.ui.feedback import error_message

if TYPE_CHECKING:
    from vreason.async_api import AsyncVReason
    from vreason.media import PreparedImage

EXAMPLE_STEPS = "What shape is in the image?\nWhat color is the {previous}?"
GRIDS = ["auto", "2x2", "3x3", "4x4"]
MAX_VOTES = 8
# A step's answer is a word or a sentence; chain-of-thought needs more room, set in the controls.
DEFAULT_MAX_NEW_TOKENS = 128


class ReasoningTab:
    def __init__(self, vr: AsyncVReason):
        self.vr = vr

    def build(self) -> None:
        with gr.Row():
            with gr.Column():
                image = gr.Image(type="filepath", label="Image", elem_id="reason-image",
                                 sources=["upload", "clipboard"])
                steps = gr.Textbox(label="Questions, one per line", lines=4, value=EXAMPLE_STEPS,
                                   elem_id="reason-steps",
                                   info="{previous} or {step1} insert an earlier answer, {step1_boxes} its boxes")
                with gr.Row():
                    cot = gr.Checkbox(False, label="Step-by-step reasoning (chain of thought)", elem_id="reason-cot")
                    tiled = gr.Checkbox(False, label="High-resolution tiling", elem_id="reason-tiled")
                with gr.Accordion("Options", open=False):
                    votes = gr.Slider(1, MAX_VOTES, value=1, step=1, label="Samples per step (self-consistency)",
                                      info="More than 1: majority vote with its agreement")
                    grid = gr.Dropdown(GRIDS, value="auto", label="Tile grid (rows x columns)",
                                       elem_id="reason-grid")
                    controls = SamplingControls.build(self.vr.default_sampling, prefix="reason",
                                                      max_new_tokens=DEFAULT_MAX_NEW_TOKENS)
                run = gr.Button("Run steps", variant="primary", elem_id="reason-run")
            with gr.Column():
                answer = gr.Markdown(elem_id="reason-answer")
                status = gr.Markdown(elem_id="reason-status")
                steps_view = gr.Markdown(elem_id="reason-trace-steps", sanitize_html=False)
                annotated = gr.Image(type="pil", label="Boxes of the last step that found any", visible=False,
                                     interactive=False, elem_id="reason-boxes", format="png")
                with gr.Accordion("Full trace (JSON)", open=False):
                    trace_json = gr.JSON(elem_id="reason-trace-json")
        run.click(
            self.run, inputs=[image, steps, cot, votes, tiled, grid, *controls.inputs],
            outputs=[answer, steps_view, annotated, trace_json, status], concurrency_id="model",
        )

    async def run(self, image_path: str | None, steps_text: str, cot: bool, votes: float, tiled: bool, grid: str,
                  *sampling_values: Any) -> AsyncIterator[tuple]:
        """Yields (final answer, steps Markdown, annotated image update, trace dict, status): cleared, then the
        result."""
        yield _empty("⏳ Running the steps…")
        yield await self._run(image_path, steps_text, cot, votes, tiled, grid, *sampling_values)

    async def _run(self, image_path: str | None, steps_text: str, cot: bool, votes: float, tiled: bool, grid: str,
                   *sampling_values: Any) -> tuple:
        steps = [line.strip() for line in (steps_text or "").splitlines() if line.strip()]
        if not image_path:
            return _empty("⚠️ Upload an image first.")
        if not steps:
            return _empty("⚠️ Write at least one question, one per line.")
        try:
            sampling = to_sampling(*sampling_values)
            prepared = await self.vr.prepare_image(Path(image_path))
            if tiled:
                trace, tiles = await arun_tiled_steps(self.vr, prepared, steps, parse_grid(grid), **sampling)
            else:
                trace = await arun_chain(self.vr, [prepared], steps, vote=int(votes), cot=cot, **sampling)
                tiles = []
        except Exception as err:  # VReasonError, or a bug: the page says so and keeps working
            return _empty(error_message(err))
        boxed = [s for s in trace.steps if s.detections and s.coordinates == "pixels"]
        # drawing on a large image is CPU work: off Gradio's event loop
        picture = await asyncio.to_thread(draw_detections, prepared.image, boxed[-1].detections) if boxed else None
        tokens = sum(s.completion_tokens for s in trace.steps)
        note = " · chain of thought and votes apply without tiling only" if tiled and (cot or votes > 1) else ""
        return (
            f"### Answer: {trace.answer or '(empty)'}",
            render_steps(trace, tiles),
            gr.update(value=picture, visible=picture is not None),
            trace.to_dict(),
            f"{len(trace.steps)} steps · {tokens} tokens · {trace.time_s:.2f} s{note}",
        )


async def arun_tiled_steps(vr: AsyncVReason, image: PreparedImage, steps: list[str], grid: tuple[int, int] | None,
                           **sampling: Any) -> tuple[ChainTrace, list[TiledResult]]:
    """Each step asked tile by tile; its answer is the union of the tiles' findings (most reported first).

    Placeholders are filled from earlier steps as in a chain; the tiles of one step see no history, since each
    tile is a different picture."""
    started = time.perf_counter()
    trace = ChainTrace(model=vr.model_name, images=[image.label])
    relative, results = [], []
    for index, question in enumerate(steps, start=1):
        prompt = fill_placeholders(question, trace.steps, relative)
        result = await aask_tiled(vr, image, prompt, grid=grid, **sampling)
        results.append(result)
        answer = ", ".join(result.answers) or (result.vote.answer if result.vote else "")
        raw = "\n".join(f"{t.name}: {t.text}" for t in [*result.tiles, result.overview] if t and t.text is not None)
        trace.steps.append(StepTrace(
            index=index, question=question, prompt=prompt, raw_output=raw, thinking=None, answer=answer,
            prompt_tokens=result.prompt_tokens, completion_tokens=result.completion_tokens, time_s=result.time_s,
            finish_reason="stop", detections=result.detections, coordinates="pixels",
        ))
        relative.append([d.to_relative(result.image_size) for d in result.detections])
    trace.time_s = time.perf_counter() - started
    return trace, results


def render_steps(trace: ChainTrace, tiles: list[TiledResult]) -> str:
    """Each step as a readable block: question as asked, answer, numbers, votes, boxes, and the prompt/output on
    demand."""
    blocks = []
    for step in trace.steps:
        lines = [f"#### Step {step.index}: {_escape(asked_question(step))}",
                 f"**{_escape(step.answer) or '(empty answer)'}**",
                 f"<small>{step.completion_tokens} tokens · {step.time_s:.2f} s"
                 + (" · cut off at max new tokens" if step.finish_reason == "length" else "") + "</small>"]
        if step.vote is not None:
            counts = ", ".join(f"{_escape(a)} ×{n}" for a, n in step.vote.counts.items())
            lines.append(f"Vote: **{_escape(step.vote.answer)}** with {step.vote.agreement:.0%} agreement ({counts})")
        if step.index <= len(tiles):
            result = tiles[step.index - 1]
            asked = sum(1 for t in result.tiles if t.text is not None)
            found = "; ".join(f"{_escape(f.answer)} ({', '.join(f.sources)})" for f in result.findings) or "nothing"
            lines.append(f"Tiles: {result.grid[0]}x{result.grid[1]}, {asked} asked (blank ones skipped) · "
                         f"found: {found}")
        if step.detections:
            where = "px" if step.coordinates == "pixels" else "0-1000"
            boxes = "; ".join(_describe(d) for d in step.detections)
            lines.append(f"Boxes ({where}): {_escape(boxes)}")
        details = [f"<b>Prompt</b><pre>{_escape(step.prompt)}</pre>",
                   f"<b>Raw output</b><pre>{_escape(step.raw_output)}</pre>"]
        if step.thinking:
            details.append(f"<b>Thinking</b><pre>{_escape(step.thinking)}</pre>")
        lines.append("<details><summary>Prompt and raw output</summary>" + "".join(details) + "</details>")
        blocks.append("\n\n".join(lines))
    return "\n\n---\n\n".join(blocks)


def asked_question(step: StepTrace) -> str:
    """The question the step asked: its placeholders filled with the earlier answers, without the chain-of-thought
    request (the trace keeps the template as `question` and the full user text as `prompt`)."""
    return step.prompt.removesuffix(cot_instruction(""))


def _describe(detection) -> str:
    if detection.box is not None:
        return f"{detection.label} [{', '.join(str(round(v)) for v in detection.box)}]"
    return f"{detection.label} ({', '.join(str(round(v)) for v in detection.point)})"


def _escape(text: str) -> str:
    return html.escape(text or "", quote=False)


def _empty(status: str) -> tuple:
    return "", "", gr.update(value=None, visible=False), None, status
