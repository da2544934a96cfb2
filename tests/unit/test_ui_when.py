"""The When tab's words, evidence and timeline for a scan result: what a user reads of each kind of answer."""

from __future__ import annotations

from vreason.reasoning.video_when import FrameCheck, VideoWhen
from vreason.ui.when_tab import (
    MAX_EVIDENCE_CHANGES,
    chat_tip,
    check_rows,
    evidence_captions,
    evidence_size,
    when_line,
)
from vreason.ui.when_timeline import BAR_BOTTOM, BAR_TOP, HEIGHT, INK, PAD, SHOWN, WIDTH, timeline


def scan(*present: bool | None, every: float = 1.0, fps: int = 8) -> VideoWhen:
    """Checks one every `every` seconds of a clip at `fps` whose last frame is the last check."""
    step = round(every * fps)
    checks = [FrameCheck(i * step, i * every, p, {True: "yes", False: "no", None: "3"}[p])
              for i, p in enumerate(present)]
    last = (len(present) - 1) * every
    return VideoWhen("red circle", "is there a red circle in the image?", "clip.mp4", last + 1 / fps, every,
                     (len(present) - 1) * step + 1, checks)


def test_the_line_says_when_it_is_on_screen_and_how_the_scan_looked():
    line = when_line(scan(False, True, True, False, None))
    assert line.startswith("**“red circle” on screen** 1.00–3.00 s · 5 of 33 frames checked (one every 1.00 s, "
                           "then each change narrowed to the frame)")
    assert line.endswith("1 unclear answer (counted as not there)")
    assert when_line(scan(False, True)).startswith("**“red circle” on screen** from 1.00 s to the end")
    assert when_line(scan(False, False)).startswith("**Not seen**: “red circle” is in none of the frames checked")
    assert when_line(scan(True, True)).startswith("**On screen throughout**")
    assert "unclear" not in when_line(scan(True, False))
    # narrowing is said only when it ran and had a change to narrow
    assert "narrowed" not in when_line(scan(False, True), refined=False)
    assert "narrowed" not in when_line(scan(False, False))
    # one frame, no checks: still a line
    assert when_line(scan(True)).startswith("**On screen throughout**")
    assert "1 of 1 frame checked" in when_line(scan(True))
    assert when_line(scan()).startswith("**Not seen**")


def test_a_flickering_target_lists_its_first_stretches_and_points_to_the_rest():
    flicker = scan(*([False, True] * 9))  # 9 stretches
    line = when_line(flicker)
    assert "1.00–2.00 s, 3.00–4.00 s, 5.00–6.00 s, 7.00–8.00 s, 9.00–10.00 s and 4 more" in line
    assert f"frames shown for the first {MAX_EVIDENCE_CHANGES} of 17 changes" in line


def test_the_evidence_is_the_frames_either_side_of_each_change():
    captions = evidence_captions(scan(False, True, True, False))
    assert captions == {0: "0.00 s: no", 8: "1.00 s: yes", 16: "2.00 s: yes", 24: "3.00 s: no"}
    assert evidence_captions(scan(True, True)) == {}
    # two changes a check apart share their middle frame, shown once
    assert evidence_captions(scan(False, True, False)) == {0: "0.00 s: no", 8: "1.00 s: yes", 16: "2.00 s: no"}
    # a long flicker: only the first changes, each whole (its before and after frame)
    many = evidence_captions(scan(*([False, True] * 9)))
    assert len(many) == MAX_EVIDENCE_CHANGES + 1
    assert list(many)[-1] == MAX_EVIDENCE_CHANGES * 8  # the sixth change's after frame, at 6 s


def test_every_check_is_a_row_with_the_models_words():
    assert check_rows(scan(False, True, None)) == [[0.0, 0, "no", "no"], [1.0, 8, "yes", "yes"],
                                                  [2.0, 16, "unclear", "3"]]


def _shaded(picture, seconds: float, end: float) -> bool:
    x = round(PAD + (WIDTH - 2 * PAD) * seconds / end)
    return picture.getpixel((x, (BAR_TOP + BAR_BOTTOM) // 2)) == SHOWN


def test_the_timeline_shades_the_time_on_screen():
    result = scan(False, False, True, True, False)  # on screen from 2 s to 4 s of a 4.125 s clip
    picture = timeline(result)
    assert picture.size == (WIDTH, HEIGHT)
    assert [_shaded(picture, s, result.duration_s) for s in (0.5, 1.5, 2.5, 3.5, 4.1)] == [False, False, True, True,
                                                                                          False]
    # on screen to the end: shaded up to the bar's end
    to_end = scan(False, True)
    assert _shaded(timeline(to_end), to_end.duration_s - 0.01, to_end.duration_s)
    # a scan where it never shows has no shaded stretch at all
    never = timeline(scan(False, False))
    assert SHOWN not in {colour for _, colour in never.crop((0, BAR_TOP, WIDTH, BAR_BOTTOM)).getcolors(1 << 16)}


def test_a_long_clips_labels_stay_inside_the_picture():
    long = scan(*([False] * 60 + [True] * 60 + [False]), every=120.0)  # a four-hour clip
    picture = timeline(long)
    inked = [x for x in range(WIDTH) for y in range(HEIGHT) if picture.getpixel((x, y)) == INK]
    # the end label ("14400.1 s") ends inside the picture, not cut at its edge
    assert max(inked) < WIDTH - PAD // 2
    assert min(inked) >= PAD // 2


def test_the_chat_points_a_when_question_about_its_one_clip_at_the_when_tab():
    tip = chat_tip("When does the red circle disappear?", clips=1)
    assert "**When** tab" in tip
    assert "“red circle” disappears" in tip
    assert chat_tip("When does the red circle disappear?", clips=0) == ""  # a picture: nothing to scan
    assert chat_tip("When does the red circle disappear?", clips=2) == ""  # which clip is not said
    assert chat_tip("What color is the circle?", clips=1) == ""


def test_evidence_frames_keep_the_clips_shape_where_the_model_saw_them_square():
    from vreason.media.pixel_budget import PixelBudget

    budget = PixelBudget(min_pixels=32 * 32, max_pixels=256 * 256, factor=32)
    square = PixelBudget(min_pixels=32 * 32, max_pixels=256 * 256, factor=32, square=True)
    assert square.target_size(320, 160) == (224, 224)  # what the scan asked about: a stretched square
    width, height = evidence_size(square, 320, 160)
    assert width == 2 * height  # shown as the clip is: twice as wide as tall
    assert abs(width * height - 224 * 224) < 0.3 * 224 * 224  # about as many pixels as the model saw
    assert evidence_size(budget, 320, 160) == budget.target_size(320, 160)  # a model that keeps shapes: its size
