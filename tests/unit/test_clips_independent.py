"""The independent clip renderer (eval/clips_independent.py): its answers are what its frames show, the same seed
gives the same clips, its files decode, and it shares no code with the training clips."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import av
import numpy as np
import pytest

from vreason.eval import clips_independent as ci
from vreason.eval.clips_independent import IndependentClipMaker, direction_of, frames, questions


def _frame_at(clip, t: float) -> np.ndarray:
    return list(frames(clip))[round(t * clip.fps)].astype(float)


def _shown_at(clip, mover, t: float) -> bool:
    """Whether the pixels at the mover's centre differ from the background by more than the noise."""
    x, y = (round(v) for v in mover.center(t))
    patch = _frame_at(clip, t)[y - 1:y + 2, x - 1:x + 2] - clip.background[y - 1:y + 2, x - 1:x + 2]
    return float(np.abs(patch).mean()) > 12


@pytest.mark.parametrize("event", ["appear", "appear1", "disappear"])
def test_a_shape_is_on_screen_exactly_from_or_until_its_second(event):
    maker = IndependentClipMaker(11)
    for _ in range(4):
        clip = maker.clip(event)
        changing = [m for m in clip.movers if m.shown != (0.0, float("inf"))]
        assert changing
        for mover in changing:
            if mover.style == "outline":  # the centre of an outline is background
                continue
            second = mover.shown[0] if event.startswith("appear") else mover.shown[1]
            before, after = second - 1 / clip.fps, second
            assert _shown_at(clip, mover, before) == (not event.startswith("appear"))
            assert _shown_at(clip, mover, after) == event.startswith("appear")
        when = [(q, a) for k, q, a in questions(clip) if k == "clip_when"]
        assert sorted(int(a) for _, a in when) == sorted(
            int(m.shown[0] if event.startswith("appear") else m.shown[1]) for m in changing)


def test_the_count_and_appear_answers_name_what_appears():
    maker = IndependentClipMaker(12)
    for event in ("appear", "appear1", "none", "move"):
        clip = maker.clip(event)
        appearing = [m for m in clip.movers if m.shown[0] > 0]
        assert len({m.color for m in clip.movers}) == len(clip.movers) <= 4  # every name is one shape's
        qas = {(k, q): a for k, q, a in questions(clip)}
        assert qas[("clip_count", "how many shapes appear in the video?")] == str(len(appearing))
        if event == "appear1":
            assert qas[("clip_appear", "what color is the shape that appears?")] == appearing[0].color
            assert qas[("clip_appear", "what shape appears?")] == appearing[0].kind


def test_a_moving_shape_goes_the_way_the_answer_says():
    maker = IndependentClipMaker(13)
    for _ in range(6):
        clip = maker.clip("move")
        (mover,) = [m for m in clip.movers if m.start != m.end]
        (answer,) = [a for k, q, a in questions(clip) if k == "clip_move"]
        assert answer == direction_of(mover)
        # where only the first frame shows a shape, and where only the last does: the moving one's two ends
        first, last = (np.abs(_frame_at(clip, t) - clip.background).sum(axis=2) > 60 for t in (0.0, clip.seconds))
        (y0, x0), (y1, x1) = (np.argwhere(only).mean(axis=0) for only in (first & ~last, last & ~first))
        step = {"left": (-1, 0), "right": (1, 0), "up": (0, -1), "down": (0, 1)}[answer]
        along, across = (x1 - x0, y1 - y0) if step[0] else (y1 - y0, x1 - x0)
        assert along * sum(step) > ci.MIN_MOVE * (clip.width if step[0] else clip.height) * 0.5
        assert abs(across) < abs(along)


def test_same_seed_same_rows_and_the_files_decode(tmp_path):
    one = ci.write_independent_clips(tmp_path / "a", 2, seed=5, kinds=("clip_move", "clip_when"))
    two = ci.write_independent_clips(tmp_path / "b", 2, seed=5, kinds=("clip_move", "clip_when"))
    rows = [json.loads(line) for line in one.read_text().splitlines()]
    assert rows == [json.loads(line) for line in two.read_text().splitlines()]
    assert [r["kind"] for r in rows] == ["clip_move"] * 2 + ["clip_when"] * 2
    assert {r["answer_type"] for r in rows if r["kind"] == "clip_when"} == {"time"}
    for row in rows:
        with av.open(str(tmp_path / "a" / row["video"])) as container:
            decoded = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
        assert len(decoded) > 4 * 4  # at least 4 s at 4 fps
        assert decoded[0].shape[1] in {w for w, _ in ci.SIDES}
    with pytest.raises(ValueError, match="unknown kinds"):
        ci.write_independent_clips(tmp_path / "c", 1, seed=5, kinds=("clip_colour",))


def test_it_imports_nothing_from_the_training_code():
    tree = ast.parse(Path(ci.__file__).read_text())
    modules = [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    modules += [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    assert not [m for m in modules if m and m.startswith("vreason.train")]
