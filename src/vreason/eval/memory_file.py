"""The memory benchmark's file: its rows (a user's `Turn`, a later `Question`), the events of one file
(`MemoryData`), and the reader that checks them. eval/memory_data.py writes such files and says what the rows
mean; memory_eval.py scores a backend on them.

    data = read_memory_data(Path("runs/memory-data/memory.jsonl"))  # one clear error per bad row
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from vreason.errors import InvalidRequestError

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
FLOWS = ("attach", "select", "compare")


@dataclass
class Turn:
    id: str
    user: str
    session: int
    day: str  # ISO date
    text: str
    remember: bool  # the user asked for it to be remembered ("Remember: ...")
    image: str | None = None  # path, relative to the JSONL file when written; absolute once read
    name: str | None = None  # what the user called the thing shown ("part #17", "the box I got on Monday")
    shapes: list[dict[str, Any]] = field(default_factory=list)  # the scene's truth: kind, color, box (pixels)

    @property
    def weekday(self) -> str:
        return WEEKDAYS[date.fromisoformat(self.day).weekday()]


@dataclass
class Question:
    id: str
    user: str
    session: int
    day: str
    question: str
    answers: list[str]
    family: str
    flow: str  # one of FLOWS
    ask: str  # the question to put to a recalled image, in the demo model's words
    needs: list[str]  # the turn ids whose memories answer it
    image: str | None = None  # a picture shown with the question (today's box)
    select: str | None = None  # select flow: the answer `ask` must get from the right image
    shown: list[dict[str, Any]] = field(default_factory=list)  # the truth of `image`'s scene, like Turn.shapes


@dataclass
class MemoryData:
    path: Path
    events: list[Turn | Question]  # in file order: each user's sessions in time order

    @property
    def questions(self) -> list[Question]:
        return [e for e in self.events if isinstance(e, Question)]

    @property
    def turns(self) -> list[Turn]:
        return [e for e in self.events if isinstance(e, Turn)]

    def users(self) -> list[str]:
        return list(dict.fromkeys(e.user for e in self.events))


def read_memory_data(path: Path) -> MemoryData:
    """The events of a memory benchmark file, checked: one clear error per bad row."""
    if not path.is_file():
        raise InvalidRequestError(f"memory data {path} is not a file (write one with vreason.eval.memory_data)")
    events: list[Turn | Question] = []
    turn_ids: set[str] = set()
    ids: set[str] = set()
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            raise InvalidRequestError(f"{where} is not JSON ({err.msg})") from None
        if not isinstance(row, dict) or row.get("type") not in ("turn", "question"):
            raise InvalidRequestError(f'{where}: a row is an object with "type": "turn" or "question"')
        kind = row.pop("type")
        image = row.get("image")
        if image is not None:
            resolved = path.parent / image if not Path(image).is_absolute() else Path(image)
            if not resolved.is_file():
                raise InvalidRequestError(f"{where}: image {image} is not a file")
            row["image"] = str(resolved)
        try:
            event: Turn | Question = Turn(**row) if kind == "turn" else Question(**row)
        except TypeError as err:
            raise InvalidRequestError(f"{where}: {kind} row: {err}") from None
        if event.id in ids:
            raise InvalidRequestError(f"{where}: id {event.id!r} repeats an earlier row (ids are unique)")
        ids.add(event.id)
        if isinstance(event, Question):
            if event.flow not in FLOWS:
                raise InvalidRequestError(f"{where}: flow {event.flow!r} is not one of {', '.join(FLOWS)}")
            missing = [t for t in event.needs if t not in turn_ids]
            if missing:
                raise InvalidRequestError(f"{where}: needs {missing[0]!r}, which no earlier turn has")
            if event.flow == "compare" and event.image is None:
                raise InvalidRequestError(f"{where}: a compare question shows today's picture as 'image'")
        else:
            turn_ids.add(event.id)
        events.append(event)
    if not any(isinstance(e, Question) for e in events):
        raise InvalidRequestError(f"memory data {path} has no questions")
    return MemoryData(path, events)
