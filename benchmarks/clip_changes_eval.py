"""The built-in demo model on what appears and disappears in held-out clips, split by whether the changing shape
is alone on screen or has still shapes beside it.

    .venv/bin/python benchmarks/clip_changes_eval.py [--clips 60] [--seed 7] [--model DIR] [--json F] [--where]
        [--missing] [--timeline] [--marker] [--clock] [--lead S]

`make eval-demo`'s clip families draw appear/disappear clips as training does: a third of them show the changing
shape alone, and naming the one shape on screen answers them. This asks the same questions (the colour and the
shape that appear, the colour that disappears) on held-out clips (shapes_clips.HELD_OUT) of both kinds: "alone"
(events appear1/disappear with no still shape: drawn until `--clips` of them) and "beside still shapes"
(`appear1+` / `disappear+`: 1-2 still shapes beside the one that changes). Against the second, naming any shape
on screen is right about one time in 2.5. Scored as the card scores clips (clips_eval.evaluate_clips: greedy,
exact match after normalising). Each row prints its 95% Wilson interval.

`--where` adds, on the clips beside still shapes, the training-only questions of `clips_train.where_qas` with
`every_shape` ("where is the {colour} {shape} at the start / end of the video?") for every shape: rows "absent"
(the shape is not drawn at that end: right if the model says "not there") and "present" (right if it names the
third of the frame), each with the share of answers that are "not there" (on "present" rows: shapes the model
misses). They say whether the model tells, shape by shape, what each end of the clip shows.

`--missing` adds, on the same clips, `clips_train.missing_qas` ("which shape is not there at the start / end of
the video?"): rows "a shape" (the answer names the shape that changes) and "none", each with the share of
answers that are "none". The step from presence to the change questions: which shape an end lacks.

`--timeline` adds, on the same clips, the "when" question (exact second, and within 1 s) and
`clips_train.timeline_qas` ("which shapes are there at N seconds?", the whole list left to right, exact): rows "at
the change's second", "the second before" and "another second". Whether the model reads the `<N.x seconds>`
markers "when" is answered from.

`--marker` adds, on the same clips, `clips_train.marker_qas` ("is the {colour} {shape} there at N seconds?",
yes / no): for the shape that changes, rows "at the change's second", "the second before" and "other seconds";
for the still shapes, one row "a still shape". Whether the model tells, second by second, if a named shape is
drawn: the step from the markers to "when".

`--clock` adds, on the same clips, `clips_train.clock_qas` ("what second does the video start / end at?"): the
floored first and last marker, a copy of the marker's digits with no search; with `--lead`, not 0 and the clip's
length less one.

`--lead S` shows every clip as the last part of a recording S seconds longer (`shapes_clips.lead`: the shapes
as at the clip's first frame before it, the rows sampling from S on, as a user asks about a segment of a longer
video): the same frames, every marker and "when" answer S seconds later. A model that reads the markers answers
"when" as well as without it; one that counts frames answers S seconds early.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
from pathlib import Path

from vreason.models.placement import SYSTEM_FLAGS, cpu_summary
from vreason.train.clips_eval import evaluate_clips
from vreason.train.clips_train import (
    ABSENT,
    CLOCK,
    NONE_MISSING,
    clock_qas,
    marker_qas,
    missing_qas,
    timeline_qas,
    where_qas,
)
from vreason.train.shapes_clips import HELD_OUT, ClipWorld, encode, lead

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pointcloud_demo_eval import wilson  # noqa: E402

FAMILIES = {"appear": "clip_appear", "disappear": "clip_disappear"}
# (setting, event) -> ClipWorld event name; "alone" keeps only the clips with one shape in them
EVENTS = {("alone", "appear"): "appear1", ("alone", "disappear"): "disappear",
          ("beside", "appear"): "appear1+", ("beside", "disappear"): "disappear+"}


def draw(out: Path, clips: int, seed: int, where: bool = False, missing: bool = False, timeline: bool = False,
         marker: bool = False, lead_seconds: int = 0, clock: bool = False) -> list[dict]:
    """`clips` clips per setting and event, with their family questions (one row each), encoded under `out`;
    with `where`, the every-shape where questions of the clips beside still shapes too; with `missing`, their
    which-shape-is-not-there questions; with `timeline`, their "when" and which-shapes-at-N-seconds questions;
    with `marker`, their is-the-shape-there-at-N-seconds questions. `lead_seconds`: every clip is the end of a
    recording that much longer (shapes_clips.lead), its rows sampled from there: the markers read later times;
    with `clock`, the clips beside still shapes are asked which second the first and the last marker read."""
    world = ClipWorld(seed, HELD_OUT)
    rows = []
    for (setting, event), name in EVENTS.items():
        index = kept = 0
        while kept < clips:
            clip = world.clip(index, name)
            index += 1
            if setting == "alone" and len(clip.tracks) != 1:
                continue
            kept += 1
            clip = lead(clip, lead_seconds) if lead_seconds else clip
            path = f"{setting}_{event}_{index - 1:04d}.mp4"
            encode(clip, out / path)
            media = {"video": path, **clip.sampling.to_dict()}
            rows += [{**media, "question": question, "answer": answer,
                      "kind": f"{setting}/{event}/{'colour' if 'color' in question else 'shape'}"}
                     for kind, question, answer in clip.qas if kind == FAMILIES[event]]
            if where and setting == "beside":
                rows += [{**media, "question": question, "answer": answer, "said": ABSENT,
                          "kind": f"beside/{event}/where at the {kind.rsplit('_', 1)[1]}: "
                                  f"{'absent' if answer == ABSENT else 'present'}"}
                         for kind, question, answer in where_qas(clip, every_shape=True)]
            if missing and setting == "beside":
                rows += [{**media, "question": question, "answer": answer, "said": NONE_MISSING,
                          "kind": f"beside/{event}/not there at the {kind.rsplit('_', 1)[1]}: "
                                  f"{'none' if answer == NONE_MISSING else 'a shape'}"}
                         for kind, question, answer in missing_qas(clip)]
            if timeline and setting == "beside":
                rows += [{**media, "question": question, "answer": answer, "kind": f"beside/{event}/when"}
                         for kind, question, answer in clip.qas if kind == "clip_when"]
                when = int(next(answer for kind, _, answer in clip.qas if kind == "clip_when"))
                at = {when: "the change's second", when - 1: "the second before"}
                rows += [{**media, "question": question, "answer": answer, "max_new_tokens": 32,
                          "kind": f"beside/{event}/shapes at {at.get(int(question.split()[-2]), 'another second')}"}
                         for _, question, answer in timeline_qas(clip, random.Random(path))]
            if marker and setting == "beside":
                rows += [{**media, "question": question, "answer": answer, "said": "yes",
                          "kind": f"beside/{event}/there at N s: {_marker_row(clip, question)}"}
                         for _, question, answer in marker_qas(clip, random.Random(path))]
            if clock and setting == "beside":
                rows += [{**media, "question": question, "answer": answer,
                          "kind": f"beside/{event}/clock: {'start' if question == CLOCK[0] else 'end'}"}
                         for _, question, answer in clock_qas(clip)]
    return rows


def _marker_row(clip, question: str) -> str:
    """Which marker row a question of marker_qas is: about the changing shape (by its second) or a still one."""
    words = question.split()
    name, second = " ".join(words[2:4]), int(words[-2])
    when = next((int(a) for k, q, a in clip.qas if k == "clip_when" and f" the {name} " in q), None)
    if when is None:
        return "a still shape"
    return {when: "the change's second", when - 1: "the second before"}.get(second, "other seconds")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clips", type=int, default=60, help="clips per event (appear, disappear) and setting")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--model", help="default: the built-in demo model")
    parser.add_argument("--json", type=Path, help="also write the report here")
    parser.add_argument("--where", action="store_true",
                        help="also ask where each shape is at the start and at the end (clips beside still shapes)")
    parser.add_argument("--missing", action="store_true",
                        help="also ask which shape is not there at the start and at the end (beside still shapes)")
    parser.add_argument("--timeline", action="store_true",
                        help="also ask when the shape changes and which shapes are there at seconds around it")
    parser.add_argument("--marker", action="store_true",
                        help="also ask whether each shape is there at given seconds (yes / no)")
    parser.add_argument("--clock", action="store_true",
                        help="also ask which second the first and the last marker read (beside still shapes)")
    parser.add_argument("--lead", type=int, default=0, metavar="S",
                        help="show each clip as the last part of a recording S seconds longer (markers read later)")
    args = parser.parse_args()

    from vreason.api import VReason

    print(f"machine: {cpu_summary(SYSTEM_FLAGS)}; model: {args.model or 'built-in demo model'}")
    with tempfile.TemporaryDirectory() as folder:
        rows = draw(Path(folder), args.clips, args.seed, args.where, args.missing, args.timeline, args.marker,
                    args.lead, args.clock)
        report = evaluate_clips(VReason(model=args.model), rows, Path(folder))
    print('| setting / family / asked | n | exact | 95% interval | said "not there" / "none" / "yes" |')
    print("|---|---:|---:|---|---:|")
    for kind, row in report.items():
        if kind.startswith("_"):
            continue
        low, high = wilson(row["exact_match"], row["count"])
        shares = row.get("said", {})
        said = next((shares[word] for word in (ABSENT, NONE_MISSING, "yes") if word in shares), None)
        print(f"| {kind} | {row['count']} | {row['exact_match']:.3f} | {low:.2f}-{high:.2f} | "
              f"{'-' if said is None else f'{said:.3f}'} |")
    for kind, row in report.items():
        if not kind.startswith("_") and "within_1s" in row:
            print(f"{kind} within 1 s: {row['within_1s']:.3f} of {row['count']}")
    print(f"{report['_seconds']} s")
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
