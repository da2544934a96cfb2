"""The multi-session memory benchmark: shapes-world users who show parts in early sessions and ask about them
later, written as one JSONL file plus its images (its rows and their reader: eval/memory_file.py).

    write_memory_data(Path("runs/memory-data"), users=20, seed=0)   # -> runs/memory-data/memory.jsonl
    data = memory_file.read_memory_data(Path("runs/memory-data/memory.jsonl"))  # users' events in order
    vreason eval --data memory:runs/memory-data/memory.jsonl --out runs/memory

Each user has sessions 1..k, one a day from Monday 2026-11-23. A `turn` row is something the user said in a
session, with an image or not: "Remember: this is part #17." (a single-shape scene), "Remember: this is the
box I got on Monday." (a single rectangle), a stated fact ("Remember: the patient is 64."), or small talk with
no request to remember (nothing is written for it). A `question` row, in a later session, asks about a part:

- color: "What colour was part #17?"; shape: "What shape was part #17?"; count: "How many shapes did part
  #31 have?" (`flow` attach: recall the part, put `ask` to its picture);
- which: "Which part had two triangles?" (select: put `ask` to each recalled picture, answer the name of the
  one whose answer is `select`);
- compare: "Was the box I showed on Monday bigger than today's?", today's box shown as the row's `image`
  (compare: find the rectangle with `ask`, a grounding question, in the recalled picture and today's, compare
  the areas).

`ask` is the question in the words the built-in demo model was trained on ("what color is the shape?"), for a
model that cannot read notes; `needs` lists the turn ids that hold the answer (recall@k is measured against
them). Distractor parts (other numbers, some sharing digits: #17 and #171), other users' parts and distractor
sessions are mixed in; each question's answer follows from its needed turns' scenes alone (each turn keeps its
scene's `shapes`, so tests check that), and never from the question's text. Same seed, same file. Scenes come
from `world(seed + MEMORY_SEED)`, a range the demo model's training never used.

The scenes' maker is the caller's: `write_memory_data(out, ShapesWorld)` with vreason.train.shapes_world's
class (the demo model's world). eval/ does not import train/ (train/ uses the evaluation harness, and packages
depend one way), so the world comes in as an argument; `benchmarks/memory_bench.py --write-data DIR` is the
command that writes a file.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Protocol

from vreason.errors import InvalidRequestError
from vreason.eval.memory_file import WEEKDAYS, Question, Turn


class World(Protocol):
    """What makes the scenes: `scene(kind)` -> an object with `image` (PIL) and `shapes` (each with kind, color
    and a pixel box); vreason.train.shapes_world.ShapesWorld is one."""

    def scene(self, kind: str | None = None) -> Any: ...


MEMORY_SEED = 23_000  # scenes from seeds far from the demo model's training (1, 3, 4) and eval (1001) seeds
FIRST_DAY = date(2026, 11, 23)  # a Monday
DATA_FILE = "memory.jsonl"
BIGGER = 1.6  # compared boxes differ in area by at least this factor, so the answer is not a judgement call
NUMBER_WORDS = {0: "no", 1: "one", 2: "two", 3: "three", 4: "four", 5: "five"}
FACTS = (
    "the patient is 64",
    "my order number is 5512",
    "the pallet weighs 40 kg",
    "the gate code is 9031",
    "my manager is Ana",
    "the audit is on Friday",
    "the room is B12",
    "the supplier is Norte",
)
SMALL_TALK = (
    "good morning",
    "thanks, that helps",
    "the light in here is bad today",
    "I will be back later",
    "let me check with the team",
    "ok",
)


# -- writing ---------------------------------------------------------------------------------------------------


class _UserWriter:
    """One user's sessions: parts shown, distractors, then the questions, with images saved as it goes."""

    def __init__(self, world: World, rng: random.Random, out: Path, user: str):
        self.world, self.rng, self.out, self.user = world, rng, out, user
        self.events: list[Turn | Question] = []
        self.session = 0
        self.parts: dict[str, Turn] = {}  # name -> the turn that showed it
        self.numbers: set[int] = set()

    def _day(self) -> str:
        return (FIRST_DAY + timedelta(days=self.session - 1)).isoformat()

    def new_session(self) -> None:
        self.session += 1

    def _save(self, scene: Any, tag: str) -> tuple[str, list[dict[str, Any]]]:
        name = f"images/{self.user}-s{self.session}-{tag}.png"
        scene.image.save(self.out / name)
        return name, [{"kind": s.kind, "color": s.color, "box": list(s.box)} for s in scene.shapes]

    def _turn(self, text: str, remember: bool, scene: Any = None, name: str | None = None) -> Turn:
        index = sum(isinstance(e, Turn) for e in self.events)
        turn_id = f"{self.user}-t{index}"
        image, shapes = self._save(scene, f"t{index}") if scene is not None else (None, [])
        turn = Turn(turn_id, self.user, self.session, self._day(), text, remember, image, name, shapes)
        self.events.append(turn)
        return turn

    def _number(self) -> int:
        while True:
            # some numbers share digits with others (17 and 171) so that recall must match the whole number
            base = self.rng.choice(sorted(self.numbers)) if self.numbers and self.rng.random() < 0.3 else None
            number = (
                int(f"{base}{self.rng.randint(0, 9)}") if base is not None and base < 100 else self.rng.randint(1, 99)
            )
            if number not in self.numbers:
                self.numbers.add(number)
                return number

    def show_part(self, scene: Any) -> Turn:
        name = f"part #{self._number()}"
        text = self.rng.choice(("Remember: this is {}.", "Remember this: it is {}.", "Please remember, this is {}."))
        turn = self._turn(text.format(name), True, scene, name)
        self.parts[name] = turn
        return turn

    def show_box(self, scene: Any) -> Turn:
        weekday = WEEKDAYS[(FIRST_DAY + timedelta(days=self.session - 1)).weekday()]
        name = f"the box I got on {weekday}"
        return self._turn(f"Remember: this is {name}.", True, scene, name)

    def say(self, text: str, remember: bool) -> Turn:
        return self._turn(f"Remember: {text}." if remember else text[:1].upper() + text[1:] + ".", remember)

    def question(
        self,
        family: str,
        flow: str,
        question: str,
        answer: str,
        ask: str,
        needs: list[Turn],
        shown: Any = None,
        select: str | None = None,
    ) -> None:
        index = sum(isinstance(e, Question) for e in self.events)
        image, truth = self._save(shown, f"q{index}") if shown is not None else (None, [])
        self.events.append(
            Question(
                f"{self.user}-q{index}",
                self.user,
                self.session,
                self._day(),
                question,
                [answer],
                family,
                flow,
                ask,
                [t.id for t in needs],
                image,
                select,
                truth,
            )
        )


def _single(world: World, kind: str | None = None) -> Any:
    """A scene of one shape (of `kind` when given)."""
    while True:
        scene = world.scene("shape")
        if len(scene.shapes) == 1 and (kind is None or scene.shapes[0].kind == kind):
            return scene


def _counted(world: World, kind: str, count: int) -> Any:
    """A scene of 2 to 4 shapes with exactly `count` of `kind`."""
    while True:
        scene = world.scene("count")
        if 2 <= len(scene.shapes) <= 4 and sum(s.kind == kind for s in scene.shapes) == count:
            return scene


def _pair(world: World) -> tuple[Any, str]:
    """A scene of 2 to 4 shapes in which one kind appears exactly twice, and that kind."""
    while True:
        scene = world.scene("count")
        kinds = [s.kind for s in scene.shapes]
        twice = sorted(k for k in set(kinds) if kinds.count(k) == 2)
        if 2 <= len(kinds) <= 4 and len(twice) == 1:
            return scene, twice[0]


def _area(scene: Any) -> int:
    x1, y1, x2, y2 = scene.shapes[0].box
    return (x2 - x1) * (y2 - y1)


def write_memory_data(
    out: Path,
    world: Callable[[int], World],
    users: int = 20,
    seed: int = 0,
    parts: int = 6,
    distractor_sessions: int = 2,
) -> Path:
    """Write `users` users' sessions and questions to `out/memory.jsonl` (+ `out/images/`); returns the file.
    `world(seed)` makes the scenes (ShapesWorld).

    Per user: a box on Monday, `parts` parts shown over the first sessions (one or two a session, with small
    talk and stated facts), three multi-shape parts (one with two of a kind, for the "which" question),
    `distractor_sessions` sessions of other parts, another day's box and facts, then a session of five
    questions (colour, shape, count, which, compare)."""
    if users < 1 or parts < 2:
        raise InvalidRequestError("a memory benchmark needs at least 1 user and 2 parts per user")
    (out / "images").mkdir(parents=True, exist_ok=True)
    scenes = world(seed + MEMORY_SEED)
    rng = random.Random(seed)
    events: list[Turn | Question] = []
    for u in range(users):
        w = _UserWriter(scenes, rng, out, f"u{u:03d}")
        # session 1 (Monday): the box, and a first part
        w.new_session()
        box = _single(scenes, "rectangle")
        monday = w.show_box(box)
        w.say(rng.choice(SMALL_TALK), False)
        w.show_part(_single(scenes))
        # the parts, one or two per session, with stated facts and small talk between
        shown = 1
        while shown < parts:
            w.new_session()
            for _ in range(min(parts - shown, rng.choice((1, 2)))):
                w.show_part(_single(scenes))
                shown += 1
            w.say(rng.choice(FACTS), True) if rng.random() < 0.5 else w.say(rng.choice(SMALL_TALK), False)
        # the "which" session: one part with two of a kind, two more multi-shape parts with fewer
        w.new_session()
        scene, kind = _pair(scenes)
        count = 2
        target = w.show_part(scene)
        for other in (0, 1):  # every other part of this user has fewer of the kind (single parts: 0 or 1)
            w.show_part(_counted(scenes, kind, other))
        # distractor sessions: more parts (never asked about), another day's box, facts
        for n in range(distractor_sessions):
            w.new_session()
            w.show_part(_single(scenes))
            if n == 0:
                w.show_box(_single(scenes, "rectangle"))
            w.say(rng.choice(FACTS), True)
            w.say(rng.choice(SMALL_TALK), False)
        # the question session
        w.new_session()
        singles = [t for t in w.parts.values() if len(t.shapes) == 1 and t is not target]
        color_turn, shape_turn = rng.sample(singles, 2)
        w.question(
            "color",
            "attach",
            f"What colour was {color_turn.name}?",
            color_turn.shapes[0]["color"],
            "what color is the shape?",
            [color_turn],
        )
        w.question(
            "shape",
            "attach",
            f"What shape was {shape_turn.name}?",
            shape_turn.shapes[0]["kind"],
            "what shape is in the image?",
            [shape_turn],
        )
        multi = [t for t in w.parts.values() if len(t.shapes) > 1]
        counted = rng.choice(multi)
        w.question(
            "count",
            "attach",
            f"How many shapes did {counted.name} have?",
            str(len(counted.shapes)),
            "how many shapes are there?",
            [counted],
        )
        w.question(
            "which",
            "select",
            f"Which part had {NUMBER_WORDS[count]} {kind}s?",
            target.name,
            f"how many {kind}s are there?",
            [target],
            select=str(count),
        )
        today = _single(scenes, "rectangle")
        while not (_area(today) >= BIGGER * _area(box) or _area(box) >= BIGGER * _area(today)):
            today = _single(scenes, "rectangle")
        w.question(
            "compare",
            "compare",
            "Was the box I showed on Monday bigger than today's?",
            "yes" if _area(box) > _area(today) else "no",
            "locate every rectangle and output bbox_2d in JSON.",
            [monday],
            shown=today,
        )
        events += w.events
    path = out / DATA_FILE
    with path.open("w", encoding="utf-8") as handle:
        for event in events:
            row = {"type": "turn" if isinstance(event, Turn) else "question", **event.__dict__}
            handle.write(json.dumps({k: v for k, v in row.items() if v not in (None, [])}) + "\n")
    return path
