"""Training rows of shapes-world clips: each clip's questions (shapes_clips.ClipWorld) and the training-only
questions that teach the steps under them, never evaluated (their kinds are not in clips_eval.EVAL_KINDS):
- `scaffold_qas`: which shapes are there in the first and in the last frame the model takes;
- `where_qas`: where a shape is (a third of the frame across and down) in those frames; of every shape with
  `every_shape`, "not there" (`ABSENT`) where it is not drawn;
- `missing_qas`: which shapes are not there in those frames, by name;
- `timeline_qas`: which shapes are there at a `<t seconds>` marker's second, around the change;
- `marker_qas`: whether one named shape is there at a marker's second, the changing shape at every marker;
- `clock_qas`: the second the first and the last marker read (a marker's digits, copied).

The frames are those the engine takes under `DEMO_VIDEO_BUDGET`, so each answer is what the model can see; a
clip cut from a longer recording (`shapes_clips.lead`) has rows that sample it from its `start`.
Same seed, same rows: the mixes of demo_v2_mixes.py and `write_clips_train` depend on it.

    write_clips_train(out, clips=3000, seed=0)   # out/clips_train.jsonl + out/clips/*.mp4
    python -m vreason.train.clips_train --out data/clips --clips 3000 [--workers 4]
"""

from __future__ import annotations

import json
import random
import time
from pathlib import Path

from vreason.media.video_budget import VideoBudget
from vreason.train.demo_data import _vary_case
from vreason.train.shapes_clips import (
    DEMO_VIDEO_BUDGET,
    TRAIN,
    Clip,
    ClipWorld,
    Track,
    encode,
    marker_seconds,
    seen_times,
)
from vreason.train.shapes_questions import spoken_list

TRAIN_EVENTS = ("appear", "appear", "disappear", "move", "move")


# Training-only questions (never evaluated) about what is on screen in the first and in the last frame the model
# sees. Naming the shape that appears or disappears means noticing which shape the first (or last) frames lack:
# without these, 1,400 clip-weighted steps left those families where naming any shape on screen gets them.
SCAFFOLDS = ("which shapes are there at the start of the video?", "which shapes are there at the end of the video?")


def scaffold_qas(clip: Clip, budget: VideoBudget = DEMO_VIDEO_BUDGET) -> list[tuple[str, str, str]]:
    """("clip_start", ...) and ("clip_end", ...): the shapes in the first and the last frame the model takes."""
    seen = seen_times(clip, budget)
    return [("clip_start", SCAFFOLDS[0], on_screen(clip, seen[0])),
            ("clip_end", SCAFFOLDS[1], on_screen(clip, seen[-1]))]


# Training-only questions about the shape that moves: which one it is, and where it is in the first and in the
# last frame the model takes. Direction is the difference of two places at two times; these ask for each part
# (run 12's 300 steps on clips three in five of which move left held-out direction at 0.38-0.43, near chance).
WHERE = ("which shape moves?", "where is the {} at the start of the video?", "where is the {} at the end of the video?")
# The where-answer of a shape not on screen then. Asked of every shape of a change clip (`every_shape`), the
# start and end questions name, shape by shape, what appearing or disappearing is: there at one end, not at the
# other (after two rounds of change-beside-still clips the model named a still shape: it listed the same shapes
# for both ends of a clip, so it had not learnt which frames are the start).
ABSENT = "not there"


def where_qas(clip: Clip, budget: VideoBudget = DEMO_VIDEO_BUDGET, every_shape: bool = False,
              ) -> list[tuple[str, str, str]]:
    """("clip_moves", ...), ("clip_where_start", ...), ("clip_where_end", ...) for each shape that moves: its
    name, and its place ("top left", "centre", "bottom", ...: the third of the frame its centre is in, across and
    down) in the first and the last frame the model takes. With `every_shape`, the start and end questions of
    the shapes that do not move too, answered `ABSENT` where the shape is not drawn in that frame."""
    seen = seen_times(clip, budget)
    qas = []
    for track in clip.tracks:
        moves = track.start != track.end
        if moves:
            qas.append(("clip_moves", WHERE[0], track.name))
        elif not every_shape:
            continue
        qas += [("clip_where_start", WHERE[1].format(track.name), place(clip, track, seen[0])),
                ("clip_where_end", WHERE[2].format(track.name), place(clip, track, seen[-1]))]
    return qas


def place(clip: Clip, track: Track, t: float) -> str:
    """The third of the frame, down and across, that `track`'s centre is in at `t`: "top left" ... "centre";
    `ABSENT` if it is not drawn at `t`."""
    if not track.visible(t):
        return ABSENT
    x0, y0, x1, y1 = track.box(t)
    across = ("left", "", "right")[min(2, int(3 * (x0 + x1) / 2 / clip.width))]
    down = ("top", "", "bottom")[min(2, int(3 * (y0 + y1) / 2 / clip.height))]
    return " ".join(part for part in (down, across) if part) or "centre"


def on_screen(clip: Clip, t: float) -> str:
    """"a red circle and a blue star": the shapes drawn at time `t`, left to right by centre ("no shapes")."""
    shown = sorted((tr for tr in clip.tracks if tr.visible(t)),
                   key=lambda tr: (sum(tr.box(t)[::2]), sum(tr.box(t)[1::2])))  # centre x, then y (doubled)
    parts = [f"{'an' if tr.color[0] in 'aeiou' else 'a'} {tr.name}" for tr in shown]
    return spoken_list(parts) if parts else "no shapes"


# Training-only: the shapes missing from the first / the last frame the model takes, by name ("none" if none).
# A change question is two hops: each shape's presence at each end (where_qas with every_shape: "not there"
# learnt to 0.90-0.97 in three rounds), then the shape whose presence differs, which rose only 2-5 points a
# round on presence alone; these ask the second hop directly. Worded apart from the evaluated "what shape
# appears?" (a shape word), so their name answers do not carry over to it.
MISSING = ("which shape is not there at the start of the video?", "which shape is not there at the end of the video?")
NONE_MISSING = "none"


def missing_qas(clip: Clip, budget: VideoBudget = DEMO_VIDEO_BUDGET) -> list[tuple[str, str, str]]:
    """("clip_missing_start", ...) and ("clip_missing_end", ...): the names ("green triangle") of the shapes not
    drawn in the first and in the last frame the model takes, or `NONE_MISSING`."""
    seen = seen_times(clip, budget)
    qas = []
    for kind, question, t in (("clip_missing_start", MISSING[0], seen[0]), ("clip_missing_end", MISSING[1], seen[-1])):
        names = [track.name for track in clip.tracks if not track.visible(t)]
        qas.append((kind, question, spoken_list(names) if names else NONE_MISSING))
    return qas


# Training-only: which shapes are there at a marker's second. A "when" answer is the second of the `<t seconds>`
# marker of the first patch whose frames show the change; the start/end questions never ask the model to read a
# marker, and after them "when" stayed at 0.65-0.68 within 1 s on held-out clips while appear/disappear rose.
# Asked at the change's marker and the one before it (what differs) and at one other (what does not), worded as
# the marker reads ("at 1 seconds" like `<1.0 seconds>`).
TIMELINE = "which shapes are there at {} seconds?"


def _marked_patches(clip: Clip, budget: VideoBudget) -> list[tuple[int, float, set[str]]]:
    """(marker second, first frame's time, names drawn) of each temporal patch that has one answer: only
    patches whose floored marker no other patch shares and whose frames all show the same shapes (none differ
    while events sit on whole seconds: see shapes_clips' `_aligned`)."""
    seen = seen_times(clip, budget)
    patch = budget.temporal_patch
    markers = marker_seconds(seen, patch)
    drawn = [{track.name for track in clip.tracks if track.visible(t)} for t in seen]
    return [(m, seen[j * patch], drawn[j * patch]) for j, m in enumerate(markers) if markers.count(m) == 1
            and all(d == drawn[j * patch] for d in drawn[j * patch:(j + 1) * patch])]


def timeline_qas(clip: Clip, rng: random.Random, budget: VideoBudget = DEMO_VIDEO_BUDGET,
                 ) -> list[tuple[str, str, str]]:
    """("clip_timeline", "which shapes are there at 3 seconds?", "a red circle and a blue star"): the shapes in
    the first frame of the temporal patch marked `<3.x seconds>`, for the patch where the set of shapes drawn
    first differs from the patch before, that one, and one other patch drawn by `rng` (two patches drawn by
    `rng` where nothing appears or leaves). Only patches with one answer (`_marked_patches`)."""
    seen = seen_times(clip, budget)
    patch = budget.temporal_patch
    markers = marker_seconds(seen, patch)
    firsts = seen[::patch]
    unique = {m for m, _, _ in _marked_patches(clip, budget)}
    unique = [j for j, m in enumerate(markers) if m in unique]
    drawn = [{track.name for track in clip.tracks if track.visible(t)} for t in firsts]
    change = next((j for j in range(1, len(firsts)) if drawn[j] != drawn[j - 1]), None)
    picks = [j for j in (change - 1, change) if j in unique] if change is not None else []
    others = [j for j in unique if j not in picks]
    picks += rng.sample(others, min(len(others), 1 if change is not None else 2))
    return [("clip_timeline", TIMELINE.format(markers[j]), on_screen(clip, firsts[j])) for j in sorted(picks)]


# Training-only: is one named shape there at a marker's second, "yes" / "no". One round of timeline_qas (mix
# changes-timeline, not shipped) was answered with the shapes there the whole clip: one list fits every second
# but the change's. Asked of the shape that appears or disappears at every marker, the answer flips at the change
# and no one answer fits the clip; each still shape is asked at one marker (so the named shape is not always the
# changing one), the moving shape at two.
MARKER = "is the {} there at {} seconds?"


def marker_qas(clip: Clip, rng: random.Random, budget: VideoBudget = DEMO_VIDEO_BUDGET,
               ) -> list[tuple[str, str, str]]:
    """("clip_marker", "is the red circle there at 3 seconds?", "yes" / "no") over the patches with one answer
    (`_marked_patches`): every one of them for each shape not drawn in all of them, one (two for a shape that
    moves) drawn by `rng` for the others."""
    patches = _marked_patches(clip, budget)
    qas = []
    for track in clip.tracks:
        if all(track.name in drawn for _, _, drawn in patches):
            picks = rng.sample(patches, min(len(patches), 2 if track.start != track.end else 1))
        else:
            picks = patches
        qas += [("clip_marker", MARKER.format(track.name, m), "yes" if track.name in drawn else "no")
                for m, _, drawn in sorted(picks, key=lambda p: p[0])]
    return qas


# Training-only: the seconds the first and the last marker read. "When" is a copy of the marker before the first
# patch that shows the change; moving every held-out marker 20 s on left run 28's answers at 1-6 (it counts
# patches), and a round of clips cut from a longer recording (run 30, markers from 0.x to 16.x s) taught it the
# answers' spread, not the copy. These ask the copy alone, at the two places that need no search.
CLOCK = ("what second does the video start at?", "what second does the video end at?")


def clock_qas(clip: Clip, budget: VideoBudget = DEMO_VIDEO_BUDGET) -> list[tuple[str, str, str]]:
    """("clip_clock", CLOCK[0], "6") and ("clip_clock", CLOCK[1], "12"): the first and the last `<t seconds>`
    marker of the frames the model takes, floored as "when" answers are."""
    markers = marker_seconds(seen_times(clip, budget), budget.temporal_patch)
    return [("clip_clock", CLOCK[0], str(markers[0])), ("clip_clock", CLOCK[1], str(markers[-1]))]


def clip_rows(clip: Clip, name: str, rng: random.Random, where: str = "", missing: bool = False,
              timeline: bool = False, marker: bool = False, clock: bool = False) -> list[dict]:
    """A training clip's rows: its questions and the scaffolds (with `where` "moving", also where_qas; with
    "every", where_qas of every shape; with `missing`, missing_qas; with `timeline` / `marker`, timeline_qas /
    marker_qas drawn by generators of the clip's `name`; with `clock`, clock_qas), each question's case varied by
    `rng`."""
    if where not in ("", "moving", "every"):
        raise ValueError(f"where must be '', 'moving' or 'every', not {where!r}")
    scaffolds = scaffold_qas(clip) + (where_qas(clip, every_shape=where == "every") if where else [])
    scaffolds += missing_qas(clip) if missing else []
    # its own generator: `rng`'s draws, and so the case of every earlier kind's rows, stay as they were
    scaffolds += timeline_qas(clip, random.Random(f"{name}:timeline")) if timeline else []
    scaffolds += marker_qas(clip, random.Random(f"{name}:marker")) if marker else []
    scaffolds += clock_qas(clip) if clock else []
    media = {"video": name, **clip.sampling.to_dict()}  # a lead clip's rows sample from its `start`
    return [{**media, "question": _vary_case(q, rng), "answer": answer} for _, q, answer in clip.qas + scaffolds]


def _train_clip(job: tuple[Path, int, int]) -> list[dict]:
    """Clip `index` of the training world encoded under out/clips/, and its rows."""
    out, seed, index = job
    clip = ClipWorld(seed, TRAIN).clip(index, TRAIN_EVENTS[index % len(TRAIN_EVENTS)])
    name = f"clips/t{seed}_{index:06d}.mp4"
    encode(clip, out / name)
    return clip_rows(clip, name, random.Random(f"{seed}:{index}:case"))


def write_clips_train(out: Path, clips: int, seed: int, workers: int = 1) -> int:
    """`clips` training clips (events in TRAIN_EVENTS' mix) into out/clips/, every question about each as a
    short-form row of out/clips_train.jsonl; returns rows written. `workers` > 1 encodes in that many
    processes (the same files and rows: each clip depends only on the seed and its index)."""
    out = Path(out)
    (out / "clips").mkdir(parents=True, exist_ok=True)
    jobs = [(out, seed, index) for index in range(clips)]
    rows = 0
    with (out / "clips_train.jsonl").open("w") as handle:
        if workers > 1:
            from multiprocessing import get_context

            with get_context("spawn").Pool(workers) as pool:
                results = list(pool.imap(_train_clip, jobs, chunksize=16))
        else:
            results = map(_train_clip, jobs)
        for rows_of_clip in results:
            for row in rows_of_clip:
                handle.write(json.dumps(row) + "\n")
                rows += 1
    return rows


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description="Write shapes-world training clips and their rows.")
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--clips", type=int, required=True, help="training clips (out/clips_train.jsonl)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    started = time.perf_counter()
    rows = write_clips_train(args.out, args.clips, args.seed, args.workers)
    print(f"{rows} training rows from {args.clips} clips in {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
