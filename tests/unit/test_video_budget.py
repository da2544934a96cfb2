"""Frame planning and frame sizes (media/video_budget.py): Qwen3-VL's arithmetic, all options usable together,
the fps lowered to fit max_frames, variable frame rates sampled evenly in time, clear errors."""

from __future__ import annotations

import pytest

from vreason.errors import InvalidRequestError, MediaError
from vreason.media.video_budget import VideoBudget, plan_frames
from vreason.media.video_types import VideoSampling

BUDGET = VideoBudget()
CFR_30 = tuple(i / 30 for i in range(300))  # 10 s at 30 fps


def plan(times=CFR_30, limit=768, **options):
    return plan_frames(times, VideoSampling(**options), BUDGET, limit, "clip.mp4")


def test_default_is_two_frames_a_second_spread_over_the_clip():
    picks = plan()
    assert len(picks) == 20
    assert picks[0] == 0
    assert picks[-1] == 299
    gaps = {b - a for a, b in zip(picks, picks[1:], strict=False)}
    assert gaps <= {15, 16}


def test_fps_and_max_frames_together_lower_the_rate_instead_of_failing():
    assert len(plan(fps=8.0, max_frames=16)) == 16
    assert len(plan(fps=8.0)) == 80


def test_num_frames_min_frames_and_an_even_count():
    assert len(plan(num_frames=7)) == 6  # a temporal patch is two frames
    assert len(plan(times=CFR_30[:30], fps=1.0)) == 4  # 1 s at 1 fps is raised to min_frames 4
    assert len(plan(times=CFR_30[:30], fps=1.0, min_frames=8)) == 8


def test_start_and_end_cut_the_clip_and_keep_clip_times():
    picks = plan(start=2.0, end=4.0)
    times = [CFR_30[i] for i in picks]
    assert len(picks) == 4
    assert times[0] == pytest.approx(2.0)
    assert times[-1] <= 4.0


def test_variable_frame_rate_is_sampled_evenly_in_time_not_in_frames():
    # 100 frames crammed into the first second, then one frame a second up to 9 s
    times = tuple(i / 100 for i in range(100)) + tuple(float(s) for s in range(1, 10))
    picked = [times[i] for i in plan(times=times, num_frames=10)]
    assert picked[-1] == 9.0
    assert sum(t < 1.0 for t in picked) <= 2  # an even spread, not 10 frames from the dense second


def test_a_single_frame_is_repeated_to_make_a_temporal_patch():
    assert plan(times=(0.0,)) == [0, 0]


def test_limits_and_bad_ranges_are_named():
    with pytest.raises(InvalidRequestError, match="num_frames .1000. is over the limit of 768"):
        plan(num_frames=1000)
    with pytest.raises(InvalidRequestError, match="start .20.0 s. is past the clip's last frame"):
        plan(start=20.0)
    with pytest.raises(InvalidRequestError, match="no video frame between"):
        plan(times=(0.0, 5.0), start=1.0, end=2.0)
    with pytest.raises(MediaError, match="no video frames"):
        plan(times=())
    assert len(plan(fps=100.0, limit=32)) == 32  # the policy's frame limit also just lowers the rate


def test_a_frame_list_is_taken_whole_unless_options_thin_it():
    times = tuple(i / 10 for i in range(50))
    whole = plan_frames(times, VideoSampling(), BUDGET, 768, "frames", all_by_default=True)
    assert whole == list(range(50))
    assert len(plan_frames(times, VideoSampling(fps=2.0), BUDGET, 768, "frames", all_by_default=True)) == 10
    with pytest.raises(InvalidRequestError, match="50 frames is over the limit of 40"):
        plan_frames(times, VideoSampling(), BUDGET, 40, "frames", all_by_default=True)


def test_frame_size_follows_qwen_with_the_per_frame_cap():
    from transformers.models.qwen3_vl.video_processing_qwen3_vl import smart_resize

    budget = VideoBudget(min_pixels=131072, max_pixels=786432)
    for frames, (w, h) in [(4, (96, 64)), (20, (1280, 720)), (120, (640, 360)), (2, (4000, 100))]:
        per_frame = max(min(768 * 32 * 32, 786432 // frames), int(131072 * 1.05))
        expected_h, expected_w = smart_resize(frames, h, w, 2, 32, 131072, per_frame * frames)
        assert budget.frame_size(frames, w, h) == (expected_w, expected_h)
    # a caller's total budget is shared by the frames (above the per-frame floor of 1.05x the minimum)
    width, height = VideoBudget().frame_size(20, 1280, 720, max_pixels=20 * 64 * 64)
    assert width * height <= 64 * 64 * 1.05
    assert width % 32 == 0
    assert height % 32 == 0


def test_budget_from_a_checkpoint_video_processor():
    from transformers import Qwen3VLVideoProcessor

    budget = VideoBudget.from_processor(type("P", (), {"video_processor": Qwen3VLVideoProcessor()})())
    assert (budget.min_pixels, budget.max_pixels) == (131072, 786432)
    assert (budget.fps, budget.min_frames, budget.max_frames, budget.factor) == (2.0, 4, 768, 32)
    big = Qwen3VLVideoProcessor(size={"shortest_edge": 4096, "longest_edge": 25165824})
    assert VideoBudget.from_processor(type("P", (), {"video_processor": big})()).max_pixels == 4096 * 32 * 32 * 2
