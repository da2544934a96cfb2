"""When something is on screen: frames checked yes/no, changes placed at the frames' own times and narrowed to
the frame — through `when_in_video` and `vreason when CLIP TARGET` on the built-in model, and the scan's rules
(questions, answers, which frames, spans) on their own."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from tests.cli_in_process import run_vreason
from tests.video_samples import circle_shown_clip, make_clip
from vreason.errors import InvalidRequestError
from vreason.media import MediaPolicy
from vreason.media.video_decode import index_clip
from vreason.reasoning.video_when import (
    FrameCheck,
    VideoWhen,
    first_pass_frames,
    parse_presence,
    presence_question,
)

FPS = 8
SHOWN = (13, 29)  # frames [13, 29) show the blue circle: from 1.625 s until 3.625 s of a 5 s clip


def blue_circle_clip(path: Path) -> Path:
    return circle_shown_clip(path, SHOWN, frames=5 * FPS, fps=FPS)


def test_the_question_names_the_target_with_its_article():
    assert presence_question("red circle") == "is there a red circle in the image?"
    assert presence_question(" orange star ") == "is there an orange star in the image?"
    assert presence_question("the dog", "is {a} {target} visible?") == "is the dog visible?"
    assert presence_question("2 cats", "are there {target}?") == "are there 2 cats?"
    assert presence_question("unicorn") == "is there a unicorn in the image?"
    assert presence_question("hour glass") == "is there an hour glass in the image?"
    assert presence_question("one red car") == "is there one red car in the image?"
    assert presence_question("{a:>9}") == "is there a {a:>9} in the image?"  # the target is text, never a template
    for target, template, message in (("", "is there {target}?", "say what to look for"),
                                      ("cat", "is it there?", "must contain {target}"),
                                      ("cat", "is {target} {where}?", "only {target} and {a}"),
                                      ("cat", "{target} {a:x>2000000000}", "only {target} and {a}")):
        with pytest.raises(InvalidRequestError, match=message):
            presence_question(target, template)


@pytest.mark.slow
def test_vreason_ask_points_a_when_question_at_vreason_when(tmp_path, tiny_model_dir):
    clip = blue_circle_clip(tmp_path / "blue clip.mp4")
    done = run_vreason("ask", str(clip), "when does the blue circle appear?", "--max-new-tokens", "4")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip()  # the model's own answer is still printed
    assert f"frame-accurate times: vreason when '{clip}' 'blue circle'\n" in done.stderr
    done = run_vreason("ask", str(clip), "Watch it. When did the blue circle vanish?", "--model", str(tiny_model_dir),
                       "--max-new-tokens", "2")
    assert done.returncode == 0, done.stderr
    assert f"vreason when '{clip}' 'blue circle' --model {tiny_model_dir}" in done.stderr  # the same model
    for other in (["what color is the circle?"], ["when does the blue circle appear?", "--json"]):
        done = run_vreason("ask", str(clip), *other, "--model", str(tiny_model_dir), "--max-new-tokens", "2")
        assert done.returncode == 0, done.stderr
        assert "vreason when" not in done.stderr, other
    json.loads(done.stdout)  # --json: stdout is the answer's object alone


def test_answers_are_read_as_yes_no_or_neither():
    assert parse_presence("Yes, a red circle.") is True
    assert parse_presence("no") is False
    assert parse_presence("No.") is False
    assert parse_presence("3") is None
    assert parse_presence("") is None
    assert parse_presence("nothing") is None  # "no..." is a word of its own, not a prefix


def test_first_pass_checks_a_frame_every_step_and_the_last(tmp_path):
    index = index_clip(make_clip(tmp_path / "bar.mp4", frames=40, fps=8), "bar", MediaPolicy())
    picks, every = first_pass_frames(index, 1.0, 240)
    assert every == 1.0
    assert [index.times[p] for p in picks] == pytest.approx([0, 1, 2, 3, 4, 4.875])
    picks, every = first_pass_frames(index, 0.1, 5)  # too many for the cap: spaced wider, never refused
    assert len(picks) <= 5
    assert every == pytest.approx(4.875 / 4)
    with pytest.raises(InvalidRequestError, match="> 0"):
        first_pass_frames(index, 0, 240)
    with pytest.raises(InvalidRequestError, match="from 2 to 1000"):
        first_pass_frames(index, 1.0, 5000)


def test_spans_appearances_and_disappearances_come_from_the_checks():
    def found(*present):
        checks = [FrameCheck(i, i * 0.5, p, {True: "yes", False: "no", None: "?"}[p]) for i, p in enumerate(present)]
        return VideoWhen("cat", "is there a cat?", "clip", len(present) * 0.5, 0.5, len(present), checks)

    result = found(False, True, True, None, True, False)
    assert [(s.start_s, s.end_s) for s in result.spans] == [(0.5, 1.5), (2.0, 2.5)]
    assert result.appears_s == [0.5, 2.0]
    assert result.disappears_s == [1.5, 2.5]
    assert [c.time_s for c in result.unclear] == [1.5]
    there = found(True, True, False)
    assert there.appears_s == []  # on screen from the first frame: no appearance
    assert there.disappears_s == [1.0]
    assert found(False, True).spans[0].end_s is None
    assert found(False, False).spans == []


@pytest.mark.slow
def test_the_scan_places_each_change_at_the_first_frame_that_shows_it(tmp_path):
    from vreason import VReason
    from vreason.reasoning.video_when import when_in_video

    clip = blue_circle_clip(tmp_path / "blue.mp4")
    vr = VReason()
    try:
        exact = when_in_video(vr, str(clip), "blue shape", every_s=1.0)
        coarse = when_in_video(vr, str(clip), "blue shape", every_s=1.0, refine=False)
        missing = when_in_video(vr, str(clip), "red shape", every_s=1.0)
    finally:
        vr.close()
    assert exact.appears_s == pytest.approx([SHOWN[0] / FPS])  # 1.625 s: the frame, not the second
    assert exact.disappears_s == pytest.approx([SHOWN[1] / FPS])
    assert len(exact.checks) > len(coarse.checks) == 6
    assert coarse.appears_s == [2.0]  # the first checked frames that differ
    assert coarse.disappears_s == [4.0]
    assert missing.spans == []
    assert all(c.present is False for c in missing.checks)


@pytest.mark.slow
def test_narrowing_follows_variable_frame_times_and_stays_within_max_checks(tmp_path):
    from vreason import VReason
    from vreason.reasoning.video_when import when_in_video

    # 12 frames at uneven times; frames 5-8 show the circle: from 1.3 s until 2.75 s
    times = [0.0, 0.2, 0.5, 0.9, 1.1, 1.3, 1.6, 2.2, 2.5, 2.75, 3.1, 3.5]
    clip = circle_shown_clip(tmp_path / "vfr.mkv", (5, 9), frames=12, fps=10, times=times)
    vr = VReason()
    try:
        found = when_in_video(vr, str(clip), "blue shape", every_s=1.0)
        capped = when_in_video(vr, str(clip), "blue shape", every_s=0.1, max_checks=2)
    finally:
        vr.close()
    assert found.appears_s == pytest.approx([1.3])
    assert found.disappears_s == pytest.approx([2.75])
    assert len(capped.checks) <= 4  # two in the first pass, at most two more narrowing
    assert capped.every_s == pytest.approx(3.5)


@pytest.mark.slow
def test_vreason_when_prints_the_stretch_and_json(tmp_path):
    clip = blue_circle_clip(tmp_path / "blue.mp4")
    done = run_vreason("when", str(clip), "blue shape", "--every", "1")
    assert done.returncode == 0, done.stderr
    assert "blue shape: 1.625 s to 3.625 s" in done.stdout
    assert "appears: 1.625 s; disappears: 3.625 s" in done.stdout
    done = run_vreason("when", str(clip), "blue shape", "--every", "1", "--no-refine", "--json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["spans"] == [{"start_s": 2.0, "end_s": 4.0}]
    assert data["question"] == "is there a blue shape in the image?"
    assert [c["time_s"] for c in data["checks"]] == [0.0, 1.0, 2.0, 3.0, 4.0, 4.875]
    assert [c["present"] for c in data["checks"]] == [False, False, True, True, False, False]


def test_vreason_when_refuses_bad_input_before_loading(tmp_path):
    clip = make_clip(tmp_path / "bar.mp4", frames=10, fps=10)
    still = tmp_path / "still.png"
    Image.new("RGB", (32, 32), "red").save(still)
    no_model = ["--model", str(tmp_path / "no-such-model")]  # were the model loaded first, it would fail on it
    for args, message in (
        ([str(still), "bar"], "is not a video"),
        ([str(tmp_path / "gone.mp4"), "bar"], "gone.mp4"),
        ([str(clip), "bar", "--question", "is it there?"], "must contain {target}"),
        ([str(clip), " "], "say what to look for"),
        ([str(clip), "bar", "--every", "0"], "> 0"),
        ([str(clip), "bar", "--max-checks", "1"], "from 2 to 1000"),
    ):
        done = run_vreason("when", *args, *no_model)
        assert done.returncode == 2, (args, done.stderr)
        assert message in done.stderr
        assert "no-such-model" not in done.stderr
