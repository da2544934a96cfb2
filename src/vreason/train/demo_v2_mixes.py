"""Follow-up runs of the second stage: each trains from where the last ended on its own mix of data, drawn
for it and sampled from the second stage's files, to teach what the mixed runs left unlearnt.

Why mixes rather than more steps on the whole file: on a CPU a run is a few hundred steps, and the families still
wrong after the second stage's runs (appear/disappear, the start/end questions, counting small shapes) were a small
share of its sequences. A mix puts them in front without dropping the rest: every mix keeps a sample of the second
stage's media groups (a picture or clip with all its questions) as rehearsal.

What each mix draws new and samples is in `MIXES` below, in words in demo_v2_mix_words.py (the card's list of
runs); the comment at each entry says why it followed the one before and what the run after it measured.

`write_mix` writes mix `name` into `folder` (beside all_train.jsonl, paths relative to it) and returns the file; new
media go to `folder/mixes/<name>/`. A mix is drawn from all_train.jsonl and the varied format of its day:
`demo_v2.write_data` drops every mix (`drop_mixes`) whenever it rewrites all_train.jsonl. Deterministic per seed
(the new media are drawn by demo_v2_draw.draw_new in worker processes, each from its own seed and index).
"""

from __future__ import annotations

import json
import random
import shutil
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from vreason.train.demo_v2_draw import MIX_FOLDER, draw_new


@dataclass(frozen=True)
class Mix:
    # what is drawn for the run (demo_v2_draw.draw_new): a clip kind of draw.CLIP_KINDS, "count(-weighted)", "plain-
    # count-weighted/-memory", "turned-varied", "repeat-count-varied", "tally-varied/-mixed/-focus", "boxes-varied",
    # "square-varied", "hexagon-varied", "styled-varied/-plain(-boxes, -memory, -open(-2))", "bev-scenes/-scans" or ""
    new: str
    new_items: int
    sources: tuple[str, ...]  # files whose media groups are sampled: "all" (all_train.jsonl) or a mix's name
    # group kind -> how many: "clip", "varied" (pictures of the varied part), "view" (a bird's-eye view a mix
    # drew), "other" (other pictures), "picture" (any picture), "any"; -1 takes them all
    sample: dict[str, int] = field(default_factory=dict)
    square: bool = False  # pictures stretched to square from this run on (finetune's square_pictures)


def _where_round(after: str, new: str = "move-where-clips") -> Mix:
    """3,000 new where-question clips after mix `after`, with 5,500 groups of it and the last scans mix's."""
    return Mix(new, 3000, (after, "scans3d-more"), {"clip": 1500, "view": 2500, "other": 1000, "varied": 500})


def _boxes_change_round(after: str, new: str = "change-missing-clips") -> Mix:
    """3,000 new change clips after mix `after`, with 7,500 groups of it, the second boxes and last scans mixes."""
    return Mix(new, 3000, (after, "boxes-varied-2", "scans3d-more"),
               {"clip": 2500, "view": 2000, "other": 2500, "varied": 500})


def _stills_round(after: str, other: int = 3000) -> Mix:
    """3,000 new change clips with stills after mix `after`, rehearsed as "stills-rehearsed" says."""
    return Mix("change-missing-still-clips", 3000, (after, "boxes-rehearsed", "boxes-varied-2", "scans3d-more"),
               {"clip": 2500, "view": 2000, "other": other, "varied": 500})


_STYLED, _PLAIN = dict(clip=3500, view=2000, other=2000, varied=500), dict(clip=3000, view=1000, other=2500)
_TURNED = dict(clip=3000, view=2000, other=3000, varied=500)
MIXES = {
    # clips where one shape appears or disappears: the families at chance after the second stage's runs
    "changes": Mix("change-clips", 4000, ("all",), {"clip": 2400, "varied": 4000, "other": 1000}),
    "clips": Mix("", 0, ("all", "changes"), {"clip": -1, "picture": 2500}),
    # count-only scenes 4 in 14 (the second stage's 1 in 11), a count question in 60% of scenes (45%)
    "count": Mix("count-weighted", 9000, ("all",), {"clip": 1500, "picture": 3000}),
    "count-focus": Mix("count", 4000, ("count",), {"any": 6000}),
    # the first stage's kind of picture as a count run's rehearsal (without it the seed-1001 count fell 0.925 -> 0.81)
    "count-plain": Mix("plain-count-weighted", 4000, ("count",), {"any": 6000}),
    "scenes3d": Mix("bev-scenes", 3000, ("all",), {"picture": 3000, "clip": 500}),
    "scenes3d-plain": Mix("plain-count-weighted", 3000, ("scenes3d",), {"any": 4000}),  # after 3D: count 0.905 -> 0.835
    "scans3d": Mix("bev-scans", 3000, ("all",), {"picture": 3000, "clip": 500}),
    "scans3d-plain": Mix("plain-count-weighted", 3000, ("scans3d",), {"any": 4000}),
    "scans3d-more": Mix("bev-scans", 4000, ("scans3d-plain",), {"any": 5000}),  # scans counted 0.84: underfit
    "scans3d-more-plain": Mix("plain-count-weighted", 3000, ("scans3d-more",), {"any": 4000}),  # count 0.865 after it
    # clips without unlearning 3D: "changes" and "clips" after the 3D mixes took the held-out 3D count 0.90 -> 0.81
    "clips-rehearsed": Mix("", 0, ("clips", "scans3d-more-plain"),
                           {"clip": 3500, "view": 2000, "other": 1200, "varied": 800}),
    # the families furthest from their bars after "clips-rehearsed": move 0.32, clip count 0.59
    "moves": Mix("move-clips", 3000, ("clips-rehearsed",), {"clip": 1500, "view": 1500, "other": 1000, "varied": 500}),
    # more views than "moves" sampled, from the last scans mix too: after "moves", the scans counted 0.855 -> 0.830
    "moves-where": _where_round("moves"),
    "moves-where-more": _where_round("moves-where"),  # a second round: direction 0.45 -> 0.58 after one
    # a third round: direction on held-out clips rose 0.32 -> 0.40 -> 0.46 -> 0.50 over the three before
    "moves-where-3": _where_round("moves-where-more"),
    "moves-where-4": _where_round("moves-where-3"),  # a fourth: the third took direction 0.50 -> 0.71
    "moves-where-5": _where_round("moves-where-4"),  # a fifth: the fourth took direction 0.71 -> 0.80
    # the move rounds' clips with the change clips' trivial third out: a shape appears or disappears beside 1-2
    # still ones (after five rounds appear/disappear 0.59/0.64 held out, near chance beside others: it named a still)
    "moves-changes-where": _where_round("moves-where-5", "move-change-where-clips"),
    # a second such round: the first took held-out direction 0.86 -> 0.93 (with count 0.88 -> 0.90) and left
    # appear/disappear beside still shapes at chance (benchmarks/clip_changes_eval.py). Tried as run 19, not
    # shipped: direction 0.97, clip count 0.88, beside still shapes still at chance (benchmarks/RESULTS.md)
    "moves-changes-where-2": _where_round("moves-changes-where", "move-change-where-clips"),
    # then plain pictures weighted to counting, as after the 3D mixes (run 19: clip count 0.90 -> 0.88, seed-1001
    # boxes 0.90 -> 0.88; run 20, not shipped: seed-1001 count 0.90, clip count 0.86, "when" 0.64 on 300 clips)
    "moves-plain": Mix("plain-count-weighted", 3000, ("moves-changes-where-2",), {"any": 4000}),
    # change clips (4 in 5: a shape appears or disappears beside 1-2 still ones) whose every shape is asked where
    # it is at the start and at the end, "not there" where it is not drawn (clips_train.where_qas every_shape):
    # the presence of each named shape at each end, the step the change questions build on
    "changes-presence": _where_round("moves-plain", "change-presence-clips"),
    # a second round: the first (run 21) taught "not there" at 0.62-0.63 on held-out clips beside still shapes
    "changes-presence-2": _where_round("changes-presence", "change-presence-clips"),
    "changes-presence-3": _where_round("changes-presence-2", "change-presence-clips"),  # run 22: 0.90 / 0.82, ends
    # such clips also asked which shape is not there at the start / end (clips_train.missing_qas): the third
    # (run 23) took "not there" to 0.97 / 0.93 with still shapes near 0, yet the changing colours beside still
    # shapes only to 0.42 (appear) and 0.68 (disappear): presence is learnt, picking the shape it differs for is not
    "changes-missing": _where_round("changes-presence-3", "change-missing-clips"),
    # a second round: the first (run 24) named the missing shape at the end 0.28 of the time and at the start
    # never ("none" every time: three in five clips lack nothing at the start), yet took the changing colours
    # beside still shapes to 0.50 (appear) and 0.73 (disappear), and held-out appear / disappear to 0.67 / 0.78
    "changes-missing-2": _where_round("changes-missing", "change-missing-clips"),
    # a third: the second (run 25, shipped) took the changing colours beside still shapes to 0.55 / 0.80 and the
    # leaving shape's name at the end to 0.43, held-out appear / disappear to 0.71 / 0.82 on 300 clips
    "changes-missing-3": _where_round("changes-missing-2", "change-missing-clips"),
    # such clips also asked which shapes are there at the change's marker second, the one before and one other
    # (clips_train.timeline_qas; clips that move: two seconds drawn at random): "when" stayed at 0.65-0.68 within
    # 1 s on 300 held-out clips from run 22 to run 25 while appear / disappear rose 0.63 -> 0.71 / 0.74 -> 0.82
    "changes-timeline": _where_round("changes-missing-3", "change-timeline-clips"),
    # a second round: the first (run 27, not shipped) answered them with the shapes there the whole clip (right at the
    # second before an appearance 0.53, at its second 0.17) and left "when" where it was (0.64 within 1 s on 300)
    "changes-timeline-2": _where_round("changes-timeline", "change-timeline-clips"),
    # after run 26, such clips asked instead whether a named shape is there at a marker's second, the changing
    # shape at every marker (clips_train.marker_qas): run 27 answered the timeline's lists with the shapes there
    # the whole clip, which fits every second but the change's; a yes/no that flips at the change fits no such way
    "changes-marker": _where_round("changes-missing-3", "change-marker-clips"),
    # a second round, for when the first teaches the yes / no but not yet "when"
    "changes-marker-2": _where_round("changes-marker", "change-marker-clips"),
    # varied pictures whose every shape is turned 8-30 degrees, weighted to naming shapes, with 4,000 groups of
    # the previous mix: of 9 shapes the training generator drew turned 15 / 20 / 25 degrees run 26 named
    # triangles 2 / 0 / 0, rectangles 7 / 1 / 0, hexagons 1 / 0 / 0 (3 at 10 already; stars held, 7 / 8 / 6),
    # though 60% of the varied data's shapes are turned within 25 degrees; on the independent renderer (turned
    # within 15) 12 of 33 hexagons were named wrong, 12 of the 21 shape errors in 150 questions
    "turned": Mix("turned-varied", 3000, ("changes-missing-3", "scans3d-more"),
                  {"clip": 1500, "view": 1500, "other": 500, "varied": 500}),
    # a second round: run 27 named the training generator's shapes turned 20 / 25 degrees 17 / 7 times in 36 (26: 9 / 6)
    "turned-2": Mix("turned-varied", 3000, ("turned", "scans3d-more"),
                    {"clip": 1500, "view": 1500, "other": 500, "varied": 500}),
    # after it, plain pictures weighted to counting, as "moves-plain" after its clips: the first turned round took
    # independent shapes 0.8625 -> 0.8925, count 0.785 -> 0.8125, seed 1001's down (shape 0.965 -> 0.92, count 0.865)
    "turned-plain": Mix("plain-count-weighted", 3000, ("turned",), {"any": 4000}),
    # a clip round after the turned line with twice a clip round's other pictures, sampled from "turned-plain"
    # (its plain pictures and the turned ones it kept): a picture round took held-out appear / disappear down 4-5 on
    # 300 clips (run 28), a clip round with 1,000 other pictures up as much, pictures down (24-26): can one keep both
    "changes-rehearsed": Mix("change-missing-clips", 3000, ("turned-plain", "scans3d-more"),
                             {"clip": 1500, "view": 2000, "other": 2000, "varied": 500}),
    # after run 29 (shipped): varied pictures whose colours and kinds repeat (demo_v2_draw.REPEATED), weighted to
    # counting, with twice a picture round's clips. On 300 independent count questions run 29 answered "how many
    # {colour} shapes" 0.25 of the time when two were there (21 of 28 wrong, 21 of them "1"), 0.95 when one was:
    # in its training a colour is counted 2 or more a quarter of the time, and it learnt "1"
    "count-repeated": Mix("repeat-count-varied", 3000, ("changes-rehearsed", "scans3d-more"),
                          {"clip": 3000, "view": 1500, "other": 1000, "varied": 500}),
    # (run 30 count, not shipped: the clips held, but the independent count stayed 0.80 -> 0.79, "2" right more
    # often only as "1" was right less often, and the seed-1001 count fell 0.91 -> 0.84)
    # After run 29 instead, a second round as run 29's, sampling it: run 29 took held-out appear / disappear 0.697
    # -> 0.740 / 0.787 -> 0.837 on 300 clips with every picture family within noise and all of run 28's bars held
    "changes-rehearsed-2": Mix("change-missing-clips", 3000, ("changes-rehearsed", "scans3d-more"),
                               {"clip": 1500, "view": 2000, "other": 2000, "varied": 500}),
    # (run 30, not shipped: all in noise of run 29's, appear / disappear 0.81 / 0.83 on 100 clips: no gain of a second)
    # After run 29 instead, counting beside the boxes it counts (shapes_tally.py): 4,000 varied pictures of the
    # repeated kind, 3 in 5 asked for every box of one colour and one kind and for their numbers; with 2,500
    # other pictures, "turned-plain" (its plain ones) a source too, as run 30 count's 1,000 let the seed-1001
    # count fall 0.91 -> 0.84. On its own generator's held-out pictures run 29 counts a colour that comes twice
    # 0.21-0.23 and boxes "every {kind}" where one is there 0.01: both answered from a prior
    "count-tallied": Mix("tally-varied", 4000, ("changes-rehearsed", "scans3d-more", "turned-plain"),
                         {"clip": 2500, "view": 1500, "other": 2500, "varied": 500}),
    # (run 30 tally, not shipped: on its own generator's held-out plain pictures a colour that comes twice counted
    # 0.25 -> 0.45, on the independent renderer's 0.25 -> 0.29; boxes of every red shape where two are there: one
    # box nearly always; the seed-1001 count fell 0.91 -> 0.86.) A second round after it, to see whether the count
    # grows over rounds as the direction of a move did (0.32 -> 0.71 over four): 2 in 5 tallied pictures plain (the
    # seed-1001 card's kind), the kind counted any of five ("how many stars" 0 as often as the card), 3,000 others
    "count-tallied-2": Mix("tally-mixed", 4000, ("count-tallied", "scans3d-more", "turned-plain"),
                           {"clip": 2500, "view": 1500, "other": 3000, "varied": 500}),
    # (run 31 tally, not shipped: colour counts of two 0.30 on the training generator's pictures, 0.32 on the
    # independent renderer's; the seed-1001 count 0.88.) The two rounds tallied 2,424 and 2,377 pictures: this
    # round is almost all tally (5,000 pictures, every one tallied, 2 in 5 plain; 2,000 groups of the previous
    # mix), to see whether more of it teaches the count. A round to train the rest back would follow it
    "count-tallied-focus": Mix("tally-focus", 5000, ("count-tallied-2",), {"any": 2000}),
    # (run 32, not shipped: colour counts of two 0.45 / 0.43 on the training generator's / independent pictures, of
    # one 0.975 / 0.89; the seed-1001 count 0.855, boxes 0.89; as many colour counts of 2+ as the first round)
    # After run 29 instead, boxes on pictures that are not square: 4,000 varied pictures, of those of shapes 4 in 5
    # not square (demo_v2_draw.BOXES_SQUARE_SHARE), 4 in 9 asked only for boxes, with count-tallied's rehearsal.
    # Run 29 boxed the independent renderer's shapes at IoU >= 0.5 0.79 of the time on pictures within 1.2:1 of
    # square (n 127) and 0.55 on wider or taller ones (n 73); its own generator's held-out varied ones 0.64 / 0.27
    # (tall, n 33) / 0.39 (wide, n 36) (benchmarks/box_aspect_eval.py): it scales both axes of a box alike, so a
    # tall picture's boxes come out too narrow and too far left, a wide one's too short and too high
    "boxes-varied": Mix("boxes-varied", 4000, ("changes-rehearsed", "scans3d-more", "turned-plain"),
                        {"clip": 2500, "view": 1500, "other": 2500, "varied": 500}),
    # a second round: the first (run 30 boxes) took boxes at IoU >= 0.5 on 200 independent pictures 0.700 -> 0.730
    # (within noise: about 6 points either side at n 200; on the card's 400, 0.7025 -> 0.725), the tall ones' width
    # ratio 0.80 -> 0.90 (n 33), and its own generator's varied ones 0.535 -> 0.565 (benchmarks/RESULTS.md)
    "boxes-varied-2": Mix("boxes-varied", 4000, ("boxes-varied", "scans3d-more", "turned-plain"),
                          {"clip": 2500, "view": 1500, "other": 2500, "varied": 500}),
    # then plain pictures weighted to counting, as after the turned rounds (boxes round 1: seed-1001 count 0.91 -> 0.89)
    "boxes-plain": Mix("plain-count-weighted", 3000, ("boxes-varied-2",), {"any": 4000}),
    # (run 32 boxes, not shipped: the seed-1001 count 0.865 -> 0.89, clip count 0.92 -> 0.83, independent boxes
    # 0.75 -> 0.72.) Instead after run 31, plain counting pictures with clips kept in the rehearsal: 2,500 clip,
    # 1,000 view and 2,500 other groups of the second boxes mix, the last clip mix and the last scans mix
    "boxes-rehearsed": Mix("plain-count-weighted", 3000, ("boxes-varied-2", "changes-rehearsed", "scans3d-more"),
                           {"clip": 2500, "view": 1000, "other": 2500}),
    # (run 33 boxes, not shipped alone: seed-1001 count / boxes 0.90 / 0.93, independent boxes 0.7475, clips 0.93->0.87)
    # after it, a clip round as run 29's after "turned-plain" (a picture line, plain counting, then clips with
    # twice a clip round's other pictures), the second boxes mix a source too so its non-square pictures stay in
    # the rehearsal: on 300 held-out clips run 33 counted 0.893 (run 29: 0.927), appear / disappear 0.777 / 0.890
    "boxes-changes": Mix("change-missing-clips", 3000, ("boxes-rehearsed", "boxes-varied-2", "scans3d-more"),
                         {"clip": 1500, "view": 2000, "other": 2500, "varied": 500}),
    # (run 34: disappear 0.913, count 0.877 on 300 clips.) Then clips where 1-3 shapes appear ("moves": 2 in 5)
    "boxes-moves": Mix("move-clips", 3000, ("boxes-changes", "scans3d-more"),
                       {"clip": 1500, "view": 2000, "other": 2500, "varied": 500}),
    # (run 35, shipped: clip count 0.877 -> 0.970 on 300 held-out clips, independent boxes 0.7025 -> 0.745)
    # After run 35, the change clips again with half as many more clips sampled, from "boxes-moves" (its clips where
    # 1-3 shapes appear) first: run 34's round took disappear on 300 held-out clips 0.890 -> 0.913 and the clip
    # count 0.893 -> 0.877 (the clips where 2-3 appear), which run 35 took back to 0.970 with disappear 0.877
    "boxes-changes-2": _boxes_change_round("boxes-moves"),
    # a second round: run 36 took appear / disappear (300 held-out clips) 0.793 -> 0.833 / 0.877 -> 0.923, count 0.95
    "boxes-changes-3": _boxes_change_round("boxes-changes-2"),
    # (run 37, shipped after run 36: appear / disappear 0.847 / 0.937, "when" 0.770, clip count 0.943 on 300 clips)
    # a third round (the two took appear 0.793 -> 0.833 -> 0.847 on 300 held-out clips), with a still frame of
    # half the new clips asked about shapes named by colour and shape ("is there a red circle?"): the question of
    # `vreason when`'s frame scan, which run 37 answered well by colour alone (clip_stills.py)
    "boxes-changes-stills": _boxes_change_round("boxes-changes-3", "change-missing-still-clips"),
    # (run 38: appear 0.847 -> 0.887, disappear 0.950, clip count 0.923 on 300 held-out clips, but the seed-1001
    # count 0.905 -> 0.895, 2 pictures in 200.) A short plain-counting run after it, as "boxes-rehearsed"
    "stills-count": Mix("plain-count-weighted", 3000, ("boxes-changes-stills", "boxes-varied-2", "scans3d-more"),
                        {"clip": 2500, "view": 1000, "other": 2500}),
    # (run 39, 100 steps of 5e-5, not shipped: count 0.895, boxes 0.89, appear 0.863; RESULTS.md, "Stills asked ...")
    # The stills round again with "boxes-rehearsed" (plain counting) a source: its pictures were 2,928 rows of
    # "boxes-changes" but 55 of "boxes-changes-3", and run 38 lost the seed-1001 count. (Run 40, shipped: appear 0.877
    # on 300 held-out clips; the seed-1001 count / boxes 0.902 / 0.904 on 1,000 pictures, run 37's 0.897 / 0.885)
    "stills-rehearsed": _stills_round("boxes-changes-3"),
    # a second round (run 41: appear 0.877 -> 0.907) and a third, a third more pictures (42; neither shipped: RESULTS)
    "stills-rehearsed-2": _stills_round("stills-rehearsed"),
    "stills-pictures": _stills_round("stills-rehearsed-2", other=4000),
    # after run 40 instead, pictures with more, wider and lighter borders and outlines (shapes_varied.Styling says why;
    # run 43, not shipped: independent colour 0.9675, the seed-1001 count 0.885), then plain counting with its clips
    "styles": Mix("styled-varied", 2500, ("stills-rehearsed", "boxes-rehearsed", "boxes-varied-2", "scans3d-more"),
                  {"clip": 3500, "view": 2000, "other": 2500, "varied": 500}),
    "styles-plain": Mix("plain-count-weighted", 3000, ("styles", "stills-rehearsed", "scans3d-more"), _PLAIN),
    # (run 44: colour 0.95; shipped with 43, withdrawn for memory_rows.py's reason.) Both kinds in one round (draw.
    # STYLED_PLAIN; run 45, not shipped: independent colour 0.9725, over its bar, but the seed-1001 boxes 0.896)
    "styles-mixed": Mix("styled-plain", 5000, ("styles-plain", "stills-rehearsed", "scans3d-more"), _STYLED),
    # a short round after it, its plain pictures weighted to boxes (draw.STYLED_PLAIN "styled-plain-boxes")
    "styles-boxes": Mix("styled-plain-boxes", 3000, ("styles-mixed", "stills-rehearsed", "scans3d-more"),
                        {"clip": 3000, "view": 2000, "other": 2000, "varied": 500}),
    # "styles-mixed" with 4 in 5 pictures also asked in memory's recalled form (memory_rows.py says why; run 47:
    # the seed-1001 count 0.895), then plain counting as "styles-plain", those pictures asked so too
    "styles-memory": Mix("styled-plain-memory", 5000, ("styles-plain", "stills-rehearsed", "scans3d-more"), _STYLED),
    "styles-memory-plain": Mix("plain-count-memory", 3000, ("styles-memory", "stills-rehearsed", "scans3d-more"),
                               {"clip": 3000, "view": 1000, "other": 2500}),
    "styles-memory-2": Mix("styled-plain-memory", 5000, ("styles-memory-plain", "stills-rehearsed", "scans3d-more"),
                           {"clip": 3500, "view": 2000, "other": 2000, "varied": 500}),  # a second round, run 49
    "styles-stills": _stills_round("styles-memory-2"),  # after run 49 (the stills round took run 41's appear to 0.907)
    "styles-stills-2": _stills_round("styles-stills"),  # a second (run 50 took appear 0.863 -> 0.897), run 51
    "styles-stills-3": _stills_round("styles-stills-2"),  # a third draw; run 52 (run 50's again) took "when" to 0.883
    # open wordings (open_wordings.py says why); a second round, half its rows short requests (SHORT_WORDINGS)
    "styles-open": Mix("styled-plain-open", 5000, ("styles-memory-2", "styles-stills", "scans3d-more"), _STYLED),
    "styles-open-2": Mix("styled-plain-open-2", 5000, ("styles-open", "styles-stills", "scans3d-more"), _STYLED),
    "styles-open-stills": _stills_round("styles-open-2"),  # the stills round again: run 55, appear 0.873 -> 0.903
    # turned pictures, the stills mix's clips rehearsed: 24 of run 55's 32 wrong independent shapes were hexagons
    "turned-stills": Mix("turned-varied", 3000, _stills_round("styles-open-stills").sources, _TURNED),
    # a second round: run 56 took independent shapes 0.9225 -> 0.95, boxes 0.8025 -> 0.8175, appear held (0.907)
    "turned-stills-2": Mix("turned-varied", 3000, _stills_round("turned-stills").sources, _TURNED),
    # pictures seen square (pixel_budget.py): run 56 boxed 0.60 of wide independent pictures (IoU >= 0.5), 0.89 square
    "square-stills": Mix("square-varied", 3000, _stills_round("turned-stills").sources, _TURNED, square=True),
    # turned pictures seen square after it: run 58 took boxes 0.8175 -> 0.8875, named shapes 0.95 -> 0.925 (hexagons)
    "square-turned": Mix("turned-varied", 3000, _stills_round("square-stills").sources, _TURNED),  # run 59: RESULTS
    # instead of it, hexagons beside circles (draw.HEXAGON_KINDS): 15 of run 58's 30 wrong independent shapes
    "hexagons": Mix("hexagon-varied", 3000, _stills_round("square-stills").sources, _TURNED),  # run 60 (shapes 0.9275)
    "hexagons-2": Mix("hexagon-varied", 3000, _stills_round("hexagons").sources, _TURNED),  # runs 61, 62 (grown)
    # a third draw, the grown model's second round (run 63: its new layers moved little in one; shape 0.945, count
    # 0.86, seed-1001 boxes 0.898: not shipped)
    "hexagons-3": Mix("hexagon-varied", 3000, _stills_round("hexagons-2").sources, _TURNED),
    # plain pictures weighted to counting after it, asked in memory's form too (as "styles-memory-plain"), the hexagons
    # mix's clips and pictures rehearsed: to win the seed-1001 boxes back without losing its shapes
    "hexagons-plain": Mix("plain-count-memory", 3000, ("hexagons-3", "boxes-rehearsed", "scans3d-more"), _PLAIN),
    # (run 64: seed-1001 count / boxes 0.915 / 0.91, but independent colour 0.955, shape 0.9225.) A fourth hexagons
    # draw after it, its plain pictures in the rehearsal (run 65: shape 0.94, colour 0.965, seed-1001 boxes 0.90: not
    # shipped)
    "hexagons-4": Mix("hexagon-varied", 3000, _stills_round("hexagons-plain").sources, _TURNED),
    # clips cut from a longer recording (0-9 s before; 1 in 10 none): run 28 never read the markers, placing a change
    "changes-lead": Mix("change-lead-clips", 3000, ("changes-rehearsed", "scans3d-more"),
                        {"clip": 1500, "view": 2000, "other": 2000, "varied": 500}),
    # such clips also asked which second the first and the last marker read (clips_train.clock_qas): the copy "when"
    # needs, alone; run 30 (changes-lead) answered "when" "1" or "10" whatever they read. After run 29, not run 30
    "changes-clock": Mix("change-clock-clips", 3000, ("changes-rehearsed", "scans3d-more"),
                         {"clip": 1500, "view": 2000, "other": 2000, "varied": 500}),
}


def mix_path(folder: Path, name: str) -> Path:
    return folder / f"mix_{name}.jsonl"


def mix_folder(folder: Path, name: str) -> Path:
    """Where mix `name` keeps its new media (and the recipe its stage record)."""
    return folder / MIX_FOLDER / name


def drop_mixes(folder: Path) -> None:
    """Every mix of `folder`: their files sample an all_train.jsonl that is being rewritten."""
    for stale in folder.glob("mix_*.jsonl"):
        stale.unlink()
    shutil.rmtree(folder / MIX_FOLDER, ignore_errors=True)


def write_mix(folder: Path, name: str, seed: int, workers: int = 1) -> Path:
    """Mix `name`'s training file in `folder` (which holds all_train.jsonl and any mix it samples)."""
    mix = MIXES[name]
    for source in mix.sources:
        if source != "all" and not mix_path(folder, source).is_file():
            raise ValueError(f"mix {name!r} samples mix {source!r}: write mix {source!r} first")
    new = draw_new(folder, name, mix.new, mix.new_items, seed, max(1, workers))
    groups: dict[tuple[str, str], list[dict]] = defaultdict(list)
    seen: set[str] = set()
    for source in mix.sources:
        path = folder / "all_train.jsonl" if source == "all" else mix_path(folder, source)
        for line in path.read_text().splitlines():
            if line in seen:  # a mix repeats rows of all_train: each row once per group
                continue
            seen.add(line)
            row = json.loads(line)
            groups[(_kind(row), _media(row) or line)].append(row)
    rng = random.Random(seed)
    keys = sorted(groups)
    kept: list[tuple[str, str]] = []
    for kind, wanted in mix.sample.items():
        pool = [k for k in keys if _sampled_as(kind, *k)]
        kept += pool if wanted < 0 else rng.sample(pool, min(wanted, len(pool)))
    rows = [row for key in kept for row in groups[key]] + new
    rng.shuffle(rows)
    target = mix_path(folder, name)
    partial = target.with_suffix(".partial")
    partial.write_text("".join(json.dumps(row) + "\n" for row in rows))
    partial.replace(target)  # a file that exists is whole
    return target


def _media(row: dict) -> str | None:
    if "video" in row or "image" in row:
        return row.get("video") or row.get("image")
    for message in row.get("messages", []):
        for part in message.get("content", []) if isinstance(message.get("content"), list) else []:
            if "video" in part or "image" in part:
                return part.get("video") or part.get("image")
    return None


def _sampled_as(wanted: str, kind: str, media: str) -> bool:
    # a view is kept apart from "other" here, not in _kind: the groups' order (and so every earlier mix's
    # sample for its seed) stays what it was before views were a kind
    view = media.startswith(f"{MIX_FOLDER}/") and Path(media).name.startswith("v")  # as demo_v2_draw names views
    if wanted in ("any", "picture"):
        return wanted == "any" or kind != "clip"
    if wanted == "view":
        return view
    return kind == wanted and not view


def _kind(row: dict) -> str:
    media = str(_media(row) or "")
    if media.endswith(".mp4") or "video" in row:
        return "clip"
    return "varied" if media.startswith("varied/") else "other"
