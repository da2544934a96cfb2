"""Open questions in more words: training rows that ask for a picture's shapes (the "describe" answer, "a red
circle and two blue stars") in wordings beyond shapes_world.DESCRIBE_QUESTIONS, some without a closing mark.

Why: run 52 listed the shapes every time it was asked the training data's "what is in the image?" about the
independent renderer's pictures, but answered "what shapes are there?", a wording no training question uses, with
a number every time, and "describe the image" (the training's "describe the image." without its full stop) with
"1" for some pictures: it had learnt six wordings, not the request. The evaluation family "describe-reworded"
(vreason.eval.shapes_independent_qa) measures it: a list 0.79 of the time and every shape right 0.25, against
1.00 and 0.52 in the training wording.

The wordings here are the training side's own. The evaluation's (REWORDED_DESCRIBE) stay apart, case and
closing marks aside (a test checks it), so that family keeps saying whether the request is understood. Each row
depends only on the rng it is given.
"""

from __future__ import annotations

import random

from vreason.train.demo_data import image_rows
from vreason.train.shapes_world import Shape, describe_answer

OPEN_WORDINGS = ("describe the picture", "what is in this picture?", "what can you see in the image?",
                 "which shapes are in the image?", "what shapes do you see?", "what does the image show?",
                 "tell me what you see", "list what is in the image", "what is in the picture?",
                 "what's in the picture?", "describe what you see", "what objects are in the image?",
                 "which shapes do you see?", "what shapes can you see in the picture?",
                 "give a short description of the image", "what shapes are in this image?", "describe the shapes",
                 "what is on the picture?", "which objects can you see?", "say what is in the image")
UNMARKED_SHARE = 0.4  # of the rows, those whose question lost its closing mark, as people often type it


def open_rows(image: str, shapes: list[Shape], rng: random.Random) -> list[dict]:
    """One row asking for `shapes` of picture `image` (relative path) in one of OPEN_WORDINGS."""
    question = rng.choice(OPEN_WORDINGS)
    if rng.random() < UNMARKED_SHARE:
        question = question.rstrip("?.")
    elif question[-1] not in "?.":
        question += "."
    return list(image_rows(image, [(question, describe_answer(shapes))], rng, 0.0))
