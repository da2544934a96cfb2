"""Open questions in more words: training rows that ask for a picture's shapes (the "describe" answer, "a red
circle and two blue stars") in wordings beyond shapes_questions.DESCRIBE_QUESTIONS, some without a closing mark.

Why: run 52 listed the shapes every time it was asked the training data's "what is in the image?" about the
independent renderer's pictures, and for six of eight wordings no training question uses it mostly did (0.80-1.00),
but "what shapes are there?" and "tell me about this picture" got a bare number every time (the first one word
from the trained "how many shapes are there?"), and "describe the image" (the training's "describe the image."
without its full stop) got "1" for some pictures. Every shape was right 0.10-0.49 of the time in those wordings
against 0.52 in the trained one. The evaluation family "describe-reworded" (vreason.eval.shapes_independent_qa)
measures it; benchmarks/describe_wordings_eval.py splits it by wording.

The wordings here are the training side's own. The evaluation's (REWORDED_DESCRIBE) stay apart: two or more words
from each of these, neither holding the other, no run of four words shared (a test checks it), so that family
keeps saying whether the request is understood. Each row depends only on the rng it is given.

SHORT_WORDINGS (a second round's, "styles-open-2"): run 53, trained on OPEN_WORDINGS, listed the shapes for 0.80 of
the reworded requests, but "what shapes are there?" still got a number every time, and so did "what shapes are
present?" and mostly "what objects are there?" (neither in any set), while "what shapes are there in the image?"
got a list: a short request with no "image" or "picture" in it, ending as "how many ... are there?" ends, is what
it reads as a count. These are short requests of that kind, under the same rule. Run 54, trained on them, listed
the shapes for "what objects are there?" 0.73 of the time (0.30) and "tell me about this picture" every time, but
"what shapes are there?" and "what shapes are present?" still got a number every time: with "shapes" in it and no
"image", the request still reads as "how many shapes are there?" (benchmarks/RESULTS.md, "Short open requests").
"""

from __future__ import annotations

import random

from vreason.train.demo_data import image_rows
from vreason.train.shapes_questions import Shape, describe_answer

OPEN_WORDINGS = ("describe the scene", "what objects are in the image?", "what does the image show?",
                 "list what is in the image", "what is in the picture?", "describe what you see",
                 "tell me what you see", "what shapes do you see?", "what can you see in the image?",
                 "give a short description of the image", "describe the shapes", "what is on the picture?",
                 "say what is in the image", "which shapes are in the image?", "what is drawn in the image?",
                 "what kinds of shapes are in the image?", "what is pictured?", "summarize the image",
                 "give a list of the shapes", "what do you notice in the image?")
SHORT_WORDINGS = ("what do you see?", "which objects are visible?", "what things are present?",
                  "what items are shown?", "name every shape", "what's there?", "what figures can be seen?",
                  "which shapes exist?", "identify the shapes", "which figures are drawn?",
                  "what objects do you notice?", "what objects are visible here?", "list everything visible",
                  "what is drawn?", "which things are drawn here?", "what can be seen?")
UNMARKED_SHARE = 0.4  # of the rows, those whose question lost its closing mark, as people often type it


def open_rows(image: str, shapes: list[Shape], rng: random.Random, short_share: float = 0.0) -> list[dict]:
    """One row asking for `shapes` of picture `image` (relative path) in one of OPEN_WORDINGS, or with chance
    `short_share` one of SHORT_WORDINGS (0 draws no extra number: the first round's rows stay as they were)."""
    short = short_share > 0 and rng.random() < short_share
    question = rng.choice(SHORT_WORDINGS if short else OPEN_WORDINGS)
    if rng.random() < UNMARKED_SHARE:
        question = question.rstrip("?.")
    elif question[-1] not in "?.":
        question += "."
    return list(image_rows(image, [(question, describe_answer(shapes))], rng, 0.0))
