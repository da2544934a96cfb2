"""A picture of a `vreason when` scan: the clip as a bar from its first frame to its last, the stretches where the
target is on screen filled in, one tick under the bar per checked frame (yes, no, or an unclear answer), and the
time of every change written above it.

The When tab shows it over the table of checks, so a user sees at a glance where the thing is on screen and how
densely the scan looked (a long clip is checked less often than asked: `VideoWhen.every_s` says how often).
Drawn with Pillow from the scan's result alone; nothing is decoded.
"""

from __future__ import annotations

from PIL import Image, ImageDraw, ImageFont

from vreason.reasoning.video_when import VideoWhen

WIDTH, HEIGHT = 720, 88
PAD = 12
BAR_TOP, BAR_BOTTOM = 24, 50
TICK_BOTTOM = 60
LABEL_TOP = 64  # the clip's first and last time, under the ticks
BACKGROUND = (255, 255, 255)
BAR = (226, 229, 234)
SHOWN = (46, 150, 90)
INK = (30, 30, 30)
TICKS = {True: SHOWN, False: (150, 150, 150), None: (230, 140, 20)}  # the check's `present`


def timeline(result: VideoWhen, width: int = WIDTH) -> Image.Image:
    """The scan `result` as a `width` x HEIGHT picture (module docstring)."""
    picture = Image.new("RGB", (width, HEIGHT), BACKGROUND)
    draw = ImageDraw.Draw(picture)
    font = ImageFont.load_default(size=12)
    left, right = PAD, width - PAD
    # the bar spans the clip's frames' times; a one-frame clip still gets a bar
    end = max([c.time_s for c in result.checks] + [result.duration_s, 1e-6])

    def x_of(seconds: float) -> float:
        return left + (right - left) * min(max(seconds / end, 0.0), 1.0)

    draw.rectangle((left, BAR_TOP, right, BAR_BOTTOM), fill=BAR)
    for span in result.spans:
        draw.rectangle((x_of(span.start_s), BAR_TOP, x_of(end if span.end_s is None else span.end_s), BAR_BOTTOM),
                       fill=SHOWN)
    for check in result.checks:
        x = round(x_of(check.time_s))
        draw.line((x, BAR_BOTTOM + 2, x, TICK_BOTTOM), fill=TICKS[check.present], width=1)
    draw.text((left, LABEL_TOP), "0 s", fill=INK, font=font, anchor="lt")
    draw.text((right, LABEL_TOP), f"{end:.1f} s", fill=INK, font=font, anchor="rt")
    taken: list[tuple[float, float]] = []  # label extents drawn so far: close changes are all in the table
    for seconds in sorted(result.appears_s + result.disappears_s):
        x = x_of(seconds)
        draw.line((x, BAR_TOP - 4, x, BAR_BOTTOM), fill=INK, width=1)
        text = f"{seconds:.2f} s"
        half = draw.textlength(text, font=font) / 2
        centre = min(max(x, left + half), right - half)  # a change at either end keeps its label in the picture
        extent = (centre - half - 4, centre + half + 4)
        if all(extent[1] <= a or extent[0] >= b for a, b in taken):
            draw.text((centre, BAR_TOP - 6), text, fill=INK, font=font, anchor="md")
            taken.append(extent)
    return picture


__all__ = ["timeline"]
