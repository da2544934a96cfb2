"""The When tab's words and timeline for a scan result: what a user reads of each kind of answer."""

from __future__ import annotations

from vreason.reasoning.video_when import FrameCheck, VideoWhen
from vreason.ui.when_tab import check_rows, when_line
from vreason.ui.when_timeline import BAR_BOTTOM, BAR_TOP, HEIGHT, PAD, SHOWN, WIDTH, timeline


def scan(*present: bool | None, every: float = 1.0) -> VideoWhen:
    checks = [FrameCheck(i * 8, i * every, p, {True: "yes", False: "no", None: "3"}[p]) for i, p in enumerate(present)]
    return VideoWhen("red circle", "is there a red circle in the image?", "clip.mp4", (len(present) - 1) * every,
                     every, len(present) * 8, checks)


def test_the_line_says_when_it_is_on_screen_and_how_the_scan_looked():
    line = when_line(scan(False, True, True, False, None))
    assert line.startswith("**“red circle” on screen** 1.00–3.00 s · 5 of 40 frames checked (one every 1.00 s")
    assert line.endswith("1 unclear answers (counted as not there)")
    assert when_line(scan(False, True)).startswith("**“red circle” on screen** 1.00–end s")
    assert when_line(scan(False, False)).startswith("**Not seen**: “red circle” is in none of the frames checked")
    assert when_line(scan(True, True)).startswith("**On screen throughout**")
    assert "unclear" not in when_line(scan(True, False))


def test_every_check_is_a_row_with_the_models_words():
    assert check_rows(scan(False, True, None)) == [[0.0, 0, "no", "no"], [1.0, 8, "yes", "yes"],
                                                  [2.0, 16, "unclear", "3"]]


def test_the_timeline_shades_the_time_on_screen():
    picture = timeline(scan(False, False, True, True, False))  # on screen from 2 s to 4 s of a 4 s clip
    assert picture.size == (WIDTH, HEIGHT)
    y = (BAR_TOP + BAR_BOTTOM) // 2
    span = WIDTH - 2 * PAD

    def at(seconds: float) -> tuple:
        return picture.getpixel((round(PAD + span * seconds / 4), y))

    assert [at(s) == SHOWN for s in (0.5, 1.5, 2.5, 3.5)] == [False, False, True, True]
    # a scan where it never shows has no shaded stretch at all
    never = timeline(scan(False, False))
    assert SHOWN not in {colour for _, colour in never.crop((0, BAR_TOP, WIDTH, BAR_BOTTOM)).getcolors(1 << 16)}
