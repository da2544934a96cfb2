"""Training rows in the form memory sends a recalled question: the notes in the system message (written by the
memory layer's own `recalled_notes`), the recalled picture attached, and a question about the part the user
named ("what colour was part #17?") answered with the picture's colour, shape or count.

Why: the built-in model answers memory's recalled questions only as well as it carries its picture skills past
a system message it never saw in training. Runs 43-46 answered the README's "what colour was part #17?" (the red
circle attached) "red" for 5-15 users in 30 and "treree red circle" for the rest: the answer turned on the
notes' session ids and dates, which differ every time (run 40: 30 in 30; benchmarks/memory_example_eval.py).

The notes stand for what a right model would have stored: the description and facts memory.describe asks the
demo model for, taken from the scene; dates, session names, ids and part names drawn at random; some rows carry
other facts of the user beside them. Each row depends only on the rng it is given.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

from vreason.memory.describe import SHAPES_QUESTIONS, facts_description
from vreason.memory.prompt import recalled_notes
from vreason.memory.types import MemoryItem, RecallHit
from vreason.train.shapes_questions import SHAPES, Shape

PART_NAMES = ("part #{n}", "part {n}", "sample #{n}", "item #{n}", "piece #{n}", "part no. {n}")
COLOUR_QUESTIONS = ("what colour was {part}?", "what color was {part}?", "what colour is {part}?",
                    "which color was {part}?", "what was the colour of {part}?")
SHAPE_QUESTIONS = ("what shape was {part}?", "what shape is {part}?", "which shape was {part}?")
COUNT_QUESTIONS = ("how many shapes were in {part}?", "how many shapes did {part} have?",
                   "how many shapes are in {part}?")
KIND_QUESTIONS = ("how many {kind}s did {part} have?", "how many {kind}s were in {part}?")
# facts of the user that are not about the picture asked: recalled beside it, as a real memory recalls them
OTHER_FACTS = ("the order for {part} ships on friday", "{part} goes in the left drawer", "{part} was checked by ana",
               "{part} came back from the client", "the supplier of {part} is new", "{part} is for the prototype",
               "{part} was scanned twice", "{part} needs a second look")
FACTS_SHARE = 0.85  # of the notes, those whose picture line carries the facts (the rest: the description only)


def scene_facts(shapes: list[Shape]) -> dict[str, str]:
    """The facts memory.describe stores for a picture of `shapes` when every answer is right, in the order it asks
    them (SHAPES_QUESTIONS): of several shapes, "What is the shape?" and "What color is the shape?" get one."""
    truth = {"shape": shapes[0].kind, "color": shapes[0].color, "count": str(len(shapes)),
             **{f"{kind}s": str(sum(s.kind == kind for s in shapes)) for kind in SHAPES}}
    return {name: truth[name] for name in SHAPES_QUESTIONS if name != "description"}


def memory_rows(image: str, shapes: list[Shape], rng: random.Random) -> list[dict]:
    """One recalled question about the picture `image` of `shapes`, as a `messages` row; none for a picture
    without shapes."""
    if not shapes:
        return []
    facts = scene_facts(shapes)
    number = rng.randint(1, 99)
    part = rng.choice(PART_NAMES).format(n=number)
    if len(shapes) == 1 and rng.random() < 0.8:
        if rng.random() < 0.7:
            question, answer = rng.choice(COLOUR_QUESTIONS), facts["color"]
        else:
            question, answer = rng.choice(SHAPE_QUESTIONS), facts["shape"]
    elif rng.random() < 0.6:
        question, answer = rng.choice(COUNT_QUESTIONS), facts["count"]
    else:
        kind = rng.choice([s.kind for s in shapes] if rng.random() < 0.7 else SHAPES)
        question, answer = rng.choice(KIND_QUESTIONS).replace("{kind}", kind), facts[f"{kind}s"]
    ids = rng.sample(range(1, 500), 4)
    start = datetime(2025, 1, 1, tzinfo=timezone.utc)
    when = start + timedelta(days=rng.randint(0, 900), seconds=rng.randint(0, 86399))
    session = _session(rng)
    picture = MemoryItem(f"m{ids[0]}", "u", session, "image", facts_description(facts), when, "cli", "sha",
                         {"facts": facts} if rng.random() < FACTS_SHARE else {})
    fact = MemoryItem(f"m{ids[1]}", "u", session, "fact", f"this is {part}", when, "cli", "sha")
    hits = [RecallHit(fact, 1.0, ("text",))]
    for other_id in ids[2 : 2 + rng.choice((0, 0, 1, 2))]:
        other = rng.choice(PART_NAMES).format(n=rng.randint(1, 99))
        later = when + timedelta(days=rng.randint(-60, 60))
        text = rng.choice(OTHER_FACTS).format(part=other)
        hits.insert(rng.randint(0, len(hits)), RecallHit(MemoryItem(f"m{other_id}", "u", _session(rng), "fact", text,
                                                                    later, "cli"), 0.5, ("text",)))
    related = [picture]
    if rng.random() < 0.3:  # recalled by the picture's own words too, not only through the fact about it
        hits.append(RecallHit(picture, 0.6, ("text",)))
        related = []
    system = recalled_notes(hits, related, [picture.id])
    asked = question.format(part=part)
    return [{"messages": [
        {"role": "system", "content": system},
        {"role": "user", "content": [{"type": "image", "image": image}, {"type": "text", "text": asked}]},
        {"role": "assistant", "content": answer},
    ]}]


def _session(rng: random.Random) -> str:
    """A session's name as memory writes it: a uuid's first 8 hex digits mostly, else a number or a word."""
    pick = rng.random()
    if pick < 0.7:
        return f"{rng.getrandbits(32):08x}"
    if pick < 0.85:
        return str(rng.randint(1, 40))
    return rng.choice(("monday", "friday", "lab", "morning", "review", "two"))
