"""The Grounding tab: name what to find, get the boxes drawn on the image and a table of labels and pixels.

The model answers in Qwen3-VL's grounding JSON (0-1000 relative coordinates); `reasoning.grounding` parses it
tolerantly and maps it onto the original image, which is what the drawing and the table show.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import gradio as gr

from vreason.reasoning.grounding import Detection, parse_detections
from vreason.ui.drawing import draw_detections
from vreason.ui.feedback import answer_summary, error_message

if TYPE_CHECKING:
    from PIL import Image

    from vreason.api import VReason

TABLE_HEADERS = ["label", "x1", "y1", "x2", "y2", "point x", "point y"]
# Boxes take ~20 tokens each; enough for a dozen objects without letting a rambling model run long.
DEFAULT_MAX_NEW_TOKENS = 256


def grounding_prompt(target: str) -> str:
    """Qwen3-VL's box prompt: it answers `[{"bbox_2d": [x1, y1, x2, y2], "label": ...}]` on 0-1000."""
    return f"Locate every {target} in the image and output bbox_2d in JSON."


def detection_rows(detections: list[Detection]) -> list[list]:
    """One table row per detection, pixel coordinates rounded to whole pixels ('' where absent)."""
    rows = []
    for det in detections:
        box = [round(v) for v in det.box] if det.box else ["", "", "", ""]
        point = [round(v) for v in det.point] if det.point else ["", ""]
        rows.append([det.label, *box, *point])
    return rows


class GroundingTab:
    def __init__(self, vr: VReason):
        self.vr = vr

    def build(self) -> None:
        with gr.Row():
            with gr.Column():
                image = gr.Image(type="filepath", label="Image", elem_id="ground-image",
                                 sources=["upload", "clipboard"])
                target = gr.Textbox(label="What to find", placeholder="e.g. shape, red circle, every person",
                                    value="shape", elem_id="ground-target")
                with gr.Accordion("Options", open=False):
                    max_new_tokens = gr.Slider(16, 2048, value=DEFAULT_MAX_NEW_TOKENS, step=16,
                                               label="Max new tokens")
                find = gr.Button("Find boxes", variant="primary", elem_id="ground-find")
            with gr.Column():
                annotated = gr.Image(type="pil", label="Boxes", elem_id="ground-result", interactive=False,
                                     format="png")
                table = gr.Dataframe(headers=TABLE_HEADERS, label="Detections (pixels of the original image)",
                                     elem_id="ground-table", interactive=False)
                status = gr.Markdown(elem_id="ground-status")
                with gr.Accordion("Model output", open=False):
                    raw = gr.Code(label="Raw answer", language="json", elem_id="ground-raw")
        inputs = [image, target, max_new_tokens]
        outputs = [annotated, table, raw, status]
        find.click(self.find, inputs=inputs, outputs=outputs, concurrency_id="model")
        target.submit(self.find, inputs=inputs, outputs=outputs, concurrency_id="model")

    def find(self, image_path: str | None, target: str, max_new_tokens: float) -> tuple:
        """(annotated image, table rows, raw answer, status) for one grounding request."""
        if not image_path:
            return None, [], "", "⚠️ Upload an image first."
        target = (target or "").strip() or "object"
        try:
            prepared = self.vr.prepare_image(Path(image_path))
            # Greedy: boxes should not change between two clicks on the same image.
            answer = self.vr.ask([prepared], grounding_prompt(target), temperature=0.0,
                                 max_new_tokens=int(max_new_tokens))
        except Exception as err:  # VReasonError, or a bug: the page says so and keeps working
            return None, [], "", error_message(err)
        detections = [d.to_pixels(prepared.original_size) for d in parse_detections(answer.text)]
        picture: Image.Image = draw_detections(prepared.image, detections)
        if not detections:
            return picture, [], answer.text, f"**No boxes** in the answer for “{target}” · {answer_summary(answer)}"
        found = f"**{len(detections)} found** · {answer_summary(answer)}"
        return picture, detection_rows(detections), answer.text, found
