"""A contact sheet of the frames the model saw from a clip: thumbnails in a grid, each with its `<t s>` time
written under it, as the model's prompt marks it.

The Chat tab shows it next to the question a clip came with, so the user sees which moments the answer can be
about (2 frames a second by default; a long clip is sampled more sparsely to fit the video budget). Drawn with
Pillow from `PreparedVideo.frames` and `.timestamps`, nothing decoded again.
"""

from __future__ import annotations

import math

from PIL import Image, ImageDraw, ImageFont

from vreason.media.video_types import PreparedVideo

THUMB = 128  # the longer side of one thumbnail, in pixels
MAX_COLUMNS = 6
GAP = 6
LABEL_H = 20
BACKGROUND = (245, 245, 245)
INK = (30, 30, 30)


def time_label(seconds: float) -> str:
    """The marker the model's prompt puts before a frame: `<1.5 s>`."""
    return f"<{seconds:.1f} s>"


def contact_sheet(video: PreparedVideo, thumb: int = THUMB, max_columns: int = MAX_COLUMNS) -> Image.Image:
    """Every sampled frame of `video` as a thumbnail (longer side `thumb`), left to right then top to bottom in
    time order, its time under it."""
    count = video.num_frames
    width, height = video.size
    scale = thumb / max(width, height)
    tw, th = max(1, round(width * scale)), max(1, round(height * scale))
    # a few frames in one row; more in a grid a bit wider than tall, which reads better in a chat bubble
    columns = count if count <= 4 else min(max_columns, math.ceil(math.sqrt(count * 1.5)))
    rows = math.ceil(count / columns)
    sheet = Image.new("RGB", (GAP + columns * (tw + GAP), GAP + rows * (th + LABEL_H + GAP)), BACKGROUND)
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default(size=13)
    for i, (frame, seconds) in enumerate(zip(video.frames, video.timestamps, strict=True)):
        x = GAP + (i % columns) * (tw + GAP)
        y = GAP + (i // columns) * (th + LABEL_H + GAP)
        sheet.paste(Image.fromarray(frame).resize((tw, th), Image.Resampling.BILINEAR), (x, y))
        draw.text((x + tw / 2, y + th + LABEL_H / 2), time_label(seconds), fill=INK, font=font, anchor="mm")
    return sheet


def caption(video: PreparedVideo, name: str) -> str:
    """One line for the sheet: how many frames, over which span, from which file."""
    first, last = video.timestamps[0], video.timestamps[-1]
    return f"{video.num_frames} frames sampled from {name} at {first:.1f}–{last:.1f} s"


__all__ = ["caption", "contact_sheet", "time_label"]
