"""Training rows in memory's recalled form (train/memory_rows.py): the system message is the memory layer's own
notes for a fact about a part and its picture, the picture goes with the question, and the answer is what the
picture shows for the attribute asked."""

from __future__ import annotations

import random
import re
from pathlib import Path

from vreason.engine.types import ImagePart
from vreason.memory.describe import SHAPE_KINDS
from vreason.memory.prompt import NOTES_HEADER
from vreason.train.dataset import parse_row
from vreason.train.memory_rows import memory_rows
from vreason.train.shapes_questions import Shape

NOTE = re.compile(r"^\[(m\d+)\] \d{4}-\d\d-\d\d, session [\w-]+: (.*)$")


def _shapes(*names: str) -> list[Shape]:
    return [Shape(kind, color, (0, 0, 9, 9)) for color, kind in (n.split() for n in names)]


def _asked(row: dict) -> tuple[str, str, str]:
    system, user, assistant = row["messages"]
    return system["content"], user["content"][1]["text"], assistant["content"]


def test_a_row_is_memorys_notes_the_picture_and_the_question_about_its_part(tmp_path: Path):
    (tmp_path / "p.png").write_bytes(b"png")
    for seed in range(40):
        (row,) = memory_rows("p.png", _shapes("red circle"), random.Random(seed))
        system, question, answer = _asked(row)
        lines = system.splitlines()
        assert lines[0] == NOTES_HEADER
        notes = {match.group(1): match.group(2) for line in lines[1:-1] if (match := NOTE.match(line))}
        assert len(notes) == len(lines) - 2  # every line between the header and the last is one item's note
        picture = next(i for i, body in notes.items() if body.startswith("picture: a red circle"))
        part = next(re.fullmatch(rf"this is (.+) \[about picture {picture}\]", b).group(1) for b in notes.values()
                    if b.endswith(f"[about picture {picture}]"))
        assert lines[-1] == f"The pictures of [{picture}] are attached to the question."
        assert re.search(rf" {re.escape(part)}\b", question)  # the part the user named
        assert answer == {"colour": "red", "color": "red", "shape": "circle", "count": "1"}.get(_attribute(question),
                                                                                               "0"), question
        messages = parse_row(row, tmp_path)  # the fine-tuning reader takes it as it is
        assert [m.role for m in messages] == ["system", "user", "assistant"]
        assert isinstance(messages[1].content[0], ImagePart)


def _attribute(question: str) -> str:
    """colour / color / shape, "count" (of the picture's shapes or its circles), or the other kind counted."""
    if "how many" in question:
        return "count" if "shapes" in question or "circles" in question else "another kind"
    return next(word for word in ("colour", "color", "shape") if word in question)


def test_questions_about_several_shapes_ask_their_count_or_one_kinds_count():
    shapes = _shapes("red circle", "blue circle", "green star")
    for seed in range(60):
        (row,) = memory_rows("p.png", shapes, random.Random(seed))
        _, question, answer = _asked(row)
        kind = next((k for k in SHAPE_KINDS if f"{k}s" in question), None)
        assert answer == (str(sum(s.kind == kind for s in shapes)) if kind else "3"), question
        assert "colo" not in question  # several colours: no colour asked


def test_rows_are_drawn_from_the_rng_alone_and_vary_the_notes():
    shapes = _shapes("blue star")
    assert memory_rows("p.png", shapes, random.Random(5)) == memory_rows("p.png", shapes, random.Random(5))
    systems = [_asked(memory_rows("p.png", shapes, random.Random(s))[0])[0] for s in range(30)]
    sessions = {re.search(r"session (\S+):", s).group(1) for s in systems}
    assert len(sessions) > 20  # session names and dates differ, as a user's memories do
    assert sum(len(s.splitlines()) > 4 for s in systems) > 5  # some recall other facts beside the part's
    assert memory_rows("p.png", [], random.Random(5)) == []
