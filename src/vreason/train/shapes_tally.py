"""Counting taught beside the boxes it counts: a scene's "tally" questions (training only).

The shipped model answers "how many {colour} shapes are there?" with "1" whatever it sees: on its own
generator's held-out pictures it is right 0.93-0.97 when one is there and 0.21-0.23 when two are, and a round of
pictures whose colours repeat moved that prior without teaching the count (run 30 count). Its boxes for "locate
every {kind}" are a prior too: two boxes nearly always (right 0.89 when two are there, 0.01 when one), because
the training generator asks "every" only when more than one is there or none is named once.

A tally asks, of one colour and one kind there (each drawn evenly among those present, not by shape, so that a
colour that comes twice is asked as often as one that comes once), for every box and for the number, and for
the number of all shapes:

    locate every red shape and output bbox_2d in JSON.   -> the red shapes' boxes, left to right
    how many red shapes are there?                       -> 2
    locate every circle and output bbox_2d in JSON.      -> the circles' boxes (one box where one is there)
    how many circles are there?                          -> 1
    how many shapes are there?                           -> 3

With `any_kind` the kind counted is any of the five, as the card asks it ("how many stars" is often 0; its boxes
are asked only where one is there): counted only among the kinds there, as the first tally round drew them, the
model learnt that a kind asked about is there (the training generator's "how many {kind}s" with none there:
1.00 -> 0.95 right).

Trained as separate questions (each sees only the picture and itself: train/grouping.py), the boxes are a
second task that needs every instance found, not an answer to copy the count from.

Measured (benchmarks/RESULTS.md, "Counting beside the boxes it counts"): three tally rounds took the count of a
colour that comes twice from 0.25 to 0.43-0.45 and the seed-1001 count under its bar; none was shipped.
"""

from __future__ import annotations

import random

from vreason.train.shapes_questions import QA, SHAPES, box_order, grounding_answer
from vreason.train.shapes_world import Scene


def tally_qas(scene: Scene, rng: random.Random, any_kind: bool = False) -> list[QA]:
    """The tally questions of `scene` (a picture of one or more shapes), in a shuffled order; `any_kind`: the
    kind counted drawn among all five, not only those there."""
    if not scene.shapes:
        raise ValueError("a tally needs a scene with shapes")
    size = scene.image.size
    color = rng.choice(sorted({s.color for s in scene.shapes}))
    kind = rng.choice(SHAPES if any_kind else sorted({s.kind for s in scene.shapes}))
    colored = box_order([s for s in scene.shapes if s.color == color])
    kinded = box_order([s for s in scene.shapes if s.kind == kind])
    qas = [
        QA("grounding", f"locate every {color} shape and output bbox_2d in JSON.", grounding_answer(colored, size)),
        QA("count", f"how many {color} shapes are there?", str(len(colored))),
        QA("grounding", f"locate every {kind} and output bbox_2d in JSON.", grounding_answer(kinded, size)),
        QA("count", f"how many {kind}s are there?", str(len(kinded))),
        QA("count", "how many shapes are there?", str(len(scene.shapes))),
    ]
    if not kinded:  # no boxes to find
        del qas[2]
    rng.shuffle(qas)
    return qas
