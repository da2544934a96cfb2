"""The When tab: upload a clip, name what to look for, and see when it is on screen, each time a frame's own.

`reasoning.video_when.awhen_in_video` does the scan (a yes/no question of one frame every `every_s` seconds,
then each change narrowed to the frame); this tab lays it out: one line saying when ("on screen 2.00–4.50 s"),
a timeline of the clip with the stretches shaded and every checked frame ticked (`when_timeline`), the frames
either side of each change as evidence, and the table of every check with the model's words. The evidence frames
are decoded again in a worker thread, about as large as the scan saw them but in the clip's shape (`evidence_size`):
the scan keeps answers, not pictures.

Bad input (no clip, no target, a file that is not a video, a setting out of range) reads as one line in the
status; nothing is asked of the model then.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import gradio as gr

from vreason.reasoning.video_when import (
    DEFAULT_EVERY_S,
    DEFAULT_MAX_CHECKS,
    MAX_CHECKS,
    VideoWhen,
    awhen_in_video,
    changes,
    parse_when_question,
)
from vreason.ui.feedback import error_message
from vreason.ui.when_timeline import timeline

if TYPE_CHECKING:
    from PIL import Image

    from vreason.async_api import AsyncVReason
    from vreason.media.pixel_budget import PixelBudget

TABLE_HEADERS = ["time (s)", "frame", "on screen", "model said"]
DEFAULT_TARGET = "red circle"
MAX_EVIDENCE_CHANGES = 6  # changes whose frames the gallery shows (two each); the table has every check
MAX_SPANS_SAID = 5  # stretches the status line lists; a flickering target's others are in the table
PRESENT_WORDS = {True: "yes", False: "no", None: "unclear"}
# the live demo's clip (a red circle on screen 4-9 s and 14-18 s), offered in a source checkout
EXAMPLE_CLIP = Path(__file__).resolve().parents[3] / "examples" / "live_shapes.mp4"


def chat_tip(question: str, clips: int) -> str:
    """The Chat tab's status after an answer to when a named thing comes or goes in its one clip: this tab finds it
    frame by frame (a model asked directly writes the second it guesses). "" for any other question."""
    asked = parse_when_question(question) if clips == 1 else None
    if not asked:
        return ""
    return f"Tip: the **When** tab finds when the “{asked[0]}” {asked[1]}, frame by frame (each time a frame's own)."


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" + ("" if count == 1 else "s")


def _stretch(start_s: float, end_s: float | None) -> str:
    return f"from {start_s:.2f} s to the end" if end_s is None else f"{start_s:.2f}–{end_s:.2f} s"


def when_line(result: VideoWhen, refined: bool = True) -> str:
    """One Markdown line: when the target is on screen, and how the scan looked (`refined`: it narrowed changes)."""
    spans = result.spans
    what = f"“{result.target}”"
    if not spans:
        head = f"**Not seen**: {what} is in none of the frames checked"
    elif len(spans) == 1 and spans[0].start_s <= result.checks[0].time_s and spans[0].end_s is None:
        head = f"**On screen throughout**: {what} is in every frame checked"
    else:
        said = ", ".join(_stretch(s.start_s, s.end_s) for s in spans[:MAX_SPANS_SAID])
        rest = len(spans) - MAX_SPANS_SAID
        more = f" and {rest} more (see every frame checked)" if rest > 0 else ""
        head = f"**{what} on screen** {said}{more}"
    count = len(changes(result.checks))
    narrowed = ", then each change narrowed to the frame" if refined and count else ""
    how = (f"{len(result.checks)} of {_plural(result.frames, 'frame')} checked "
           f"(one every {result.every_s:.2f} s{narrowed})")
    unclear = f" · {_plural(len(result.unclear), 'unclear answer')} (counted as not there)" if result.unclear else ""
    shown = f" · frames shown for the first {MAX_EVIDENCE_CHANGES} of {count} changes" if (
        count > MAX_EVIDENCE_CHANGES) else ""
    return f"{head} · {how}{unclear}{shown}"


def check_rows(result: VideoWhen) -> list[list]:
    return [[round(c.time_s, 3), c.index, PRESENT_WORDS[c.present], c.answer] for c in result.checks]


def evidence_captions(result: VideoWhen) -> dict[int, str]:
    """Frame position -> caption ("1.62 s: yes") for the frames either side of the first MAX_EVIDENCE_CHANGES
    changes (a frame between two close changes is shown once)."""
    wanted: dict[int, str] = {}
    for before, after in changes(result.checks)[:MAX_EVIDENCE_CHANGES]:
        # short (a gallery caption is one line under a thumbnail): the pairs show the change
        for check in (before, after):
            wanted[check.index] = f"{check.time_s:.2f} s: {PRESENT_WORDS[check.present]}"
    return dict(sorted(wanted.items()))


class WhenTab:
    def __init__(self, vr: AsyncVReason):
        self.vr = vr

    def build(self) -> None:
        with gr.Row():
            with gr.Column():
                # format=None: the clip is passed as uploaded (no conversion); the media layer reads any container
                video = gr.Video(label="Clip", sources=["upload"], format=None, elem_id="when-video")
                target = gr.Textbox(label="What to look for", value=DEFAULT_TARGET, elem_id="when-target",
                                    placeholder="e.g. red circle, a person, the forklift")
                with gr.Accordion("Options", open=False, elem_id="when-options"):
                    every = gr.Slider(0.1, 10, value=DEFAULT_EVERY_S, step=0.1, label="Check a frame every (s)",
                                      info="A long clip is checked less often so that at most 'Most checks' frames "
                                           "are asked about", elem_id="when-every")
                    max_checks = gr.Slider(2, MAX_CHECKS, value=DEFAULT_MAX_CHECKS, step=1, label="Most checks",
                                           elem_id="when-max-checks")
                    refine = gr.Checkbox(True, label="Narrow each change to the frame", elem_id="when-refine")
                scan = gr.Button("Find when", variant="primary", elem_id="when-find")
                if EXAMPLE_CLIP.is_file():
                    gr.Examples([[str(EXAMPLE_CLIP), "red circle"], [str(EXAMPLE_CLIP), "green triangle"]],
                                inputs=[video, target], label="Try", elem_id="when-examples")
            with gr.Column():
                status = gr.Markdown(elem_id="when-status")
                picture = gr.Image(type="pil", label="Timeline", elem_id="when-timeline", interactive=False,
                                   show_label=False, format="png")
                evidence = gr.Gallery(label="Either side of each change", elem_id="when-evidence", columns=4,
                                      height=200, interactive=False)
                with gr.Accordion("Every frame checked", open=False):
                    table = gr.Dataframe(headers=TABLE_HEADERS, elem_id="when-table", interactive=False)
        inputs = [video, target, every, max_checks, refine]
        outputs = [status, picture, evidence, table]
        scan.click(self.scan, inputs=inputs, outputs=outputs, concurrency_id="model")
        target.submit(self.scan, inputs=inputs, outputs=outputs, concurrency_id="model")

    async def scan(self, video_path: str | None, target: str, every_s: float, max_checks: float,
                   refine: bool) -> AsyncIterator[tuple]:
        """Yields (status, timeline, evidence, table rows): cleared with a note, then the result."""
        yield "⏳ Checking frames…", None, [], []
        yield await self._scan(video_path, target, every_s, max_checks, refine)

    async def _scan(self, video_path: str | None, target: str, every_s: float, max_checks: float,
                    refine: bool) -> tuple:
        if not video_path:
            return "⚠️ Upload a clip first.", None, [], []
        if not (target or "").strip():
            return "⚠️ Say what to look for, e.g. “red circle”.", None, [], []
        try:
            result = await awhen_in_video(self.vr, Path(video_path), target, every_s=float(every_s),
                                          max_checks=int(max_checks), refine=bool(refine))
            picture = await asyncio.to_thread(timeline, result)
        except Exception as err:  # VReasonError, or a bug: the page says so and keeps working
            return error_message(err), None, [], []
        line = when_line(result, bool(refine))
        try:  # the answer stands without its pictures
            frames = await asyncio.to_thread(_evidence, self.vr, Path(video_path), result)
        except Exception as err:
            frames = []
            line += f"\n\nThe frames either side of each change could not be shown: {error_message(err)}"
        return line, picture, frames, check_rows(result)


def _evidence(vr: AsyncVReason, path: Path, result: VideoWhen) -> list[tuple[Image.Image, str]]:
    """The frames `evidence_captions` picks, captioned, decoded at `evidence_size`. The clip is
    read and indexed again: the scan keeps answers, not pictures, and a pass costs little beside its questions."""
    from PIL import Image

    from vreason.media.video_decode import decode_frames, index_clip
    from vreason.media.video_input import read_video

    wanted = evidence_captions(result)
    if not wanted:
        return []
    policy = vr.engine.policy
    clip = read_video(path, policy)
    index = index_clip(clip.data, clip.label, policy)
    size = evidence_size(vr.engine.budget, index.width, index.height)
    pixels = decode_frames(clip.data, index, list(wanted), size, clip.label)
    return [(Image.fromarray(frame), caption) for frame, caption in zip(pixels, wanted.values(), strict=True)]


def evidence_size(budget: PixelBudget, width: int, height: int) -> tuple[int, int]:
    """(width, height) to show a frame at: the size the scan's budget fits it to, in the clip's own shape. A
    square-pictures model (media/pixel_budget.py) saw each frame stretched square; people check the evidence
    against the clip they uploaded, so it is shown unstretched."""
    return replace(budget, square=False).target_size(width, height)


__all__ = ["WhenTab", "check_rows", "evidence_captions", "evidence_size", "when_line"]
