"""The memory benchmark's data (eval/memory_data.py): deterministic, and every question answerable from the turns it
names and from nothing else: the scenes' own truth (kept in each row) is checked against each answer, the
way a person with perfect recall would answer. Also the reader's one-line errors and the small readers of
model output the memory modes use (names, boxes, citations)."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path

import pytest

from vreason.errors import InvalidRequestError
from vreason.eval.memory_data import BIGGER, write_memory_data
from vreason.eval.memory_file import Question, Turn, read_memory_data
from vreason.eval.memory_items import CITATION, box_area, name_of
from vreason.scoring.metrics import normalize
from vreason.train.shapes_world import ShapesWorld

NUMBER = {"two": 2}


@pytest.fixture(scope="module")
def data_file(tmp_path_factory) -> Path:
    return write_memory_data(tmp_path_factory.mktemp("memory"), ShapesWorld, users=4, seed=3)


def area(shape: dict) -> int:
    x1, y1, x2, y2 = shape["box"]
    return (x2 - x1) * (y2 - y1)


def test_same_seed_same_file(data_file, tmp_path):
    again = write_memory_data(tmp_path, ShapesWorld, users=4, seed=3)
    assert again.read_text() == data_file.read_text()
    other = write_memory_data(tmp_path / "other", ShapesWorld, users=4, seed=4)
    assert other.read_text() != data_file.read_text()


def test_every_question_follows_from_the_turns_it_needs(data_file):
    data = read_memory_data(data_file)
    assert len(data.users()) == 4
    assert {q.family for q in data.questions} == {"color", "shape", "count", "which", "compare"}
    seen: dict[str, list[Turn]] = {}
    for event in data.events:
        if isinstance(event, Turn):
            seen.setdefault(event.user, []).append(event)
            continue
        q: Question = event
        earlier = {t.id: t for t in seen[q.user]}
        needed = [earlier[t] for t in q.needs]  # the needed turns are this user's, and came before
        assert all(t.remember and t.image and t.session < q.session for t in needed), q
        turn = needed[0]
        answer = q.answers[0]
        if q.family == "color":
            assert [s["color"] for s in turn.shapes] == [answer]
        elif q.family == "shape":
            assert [s["kind"] for s in turn.shapes] == [answer]
        elif q.family == "count":
            assert str(len(turn.shapes)) == answer
        elif q.family == "which":
            kind = re.search(r"had (\w+) (\w+?)s\?", q.question)
            count, kind = NUMBER[kind.group(1)], kind.group(2)
            matching = [t for t in earlier.values() if t.image and sum(s["kind"] == kind for s in t.shapes) == count]
            assert matching == [turn]
            assert answer == turn.name
            assert q.select == str(count)
        else:  # compare: Monday's box against the one shown with the question, clearly apart in size
            assert date.fromisoformat(turn.day).weekday() == 0
            assert "Monday" in turn.text
            monday, today = area(turn.shapes[0]), area(q.shown[0])
            assert max(monday, today) >= BIGGER * min(monday, today)
            assert answer == ("yes" if monday > today else "no")
            assert Path(q.image).is_file()
            assert [s["kind"] for s in q.shown] == ["rectangle"]
            other_boxes = [t for t in earlier.values() if "box" in t.text and t is not turn]
            assert other_boxes
            assert all("Monday" not in t.text for t in other_boxes)
        if q.family != "compare":  # the question never gives its answer away
            asked = normalize(q.question).split()
            assert not all(word in asked for word in normalize(answer).split())


def test_names_are_unique_per_user_and_some_share_digits(data_file):
    data = read_memory_data(data_file)
    names = [(t.user, t.name) for t in data.turns if t.name and t.name.startswith("part")]
    assert len(names) == len(set(names))
    numbers = {(u, n.split("#")[1]) for u, n in names}
    # "part #17" and "part #171" for one user: recall has to match the whole number
    assert any((u, a + d) in numbers for u, a in numbers for d in "0123456789")


def test_remember_requests_are_what_the_chat_turn_recognises(data_file):
    from vreason.memory.prompt import Remember, parse_request

    for turn in read_memory_data(data_file).turns:
        assert isinstance(parse_request(turn.text), Remember) == turn.remember, turn.text


def test_small_talk_and_facts_are_among_the_turns(data_file):
    turns = read_memory_data(data_file).turns
    assert any(not t.remember for t in turns)  # small talk: nothing to store
    assert any(t.remember and t.image is None for t in turns)  # stated facts without a picture


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "is not JSON"),
        ('{"type": "note"}', '"type": "turn" or "question"'),
        (
            '{"type": "turn", "id": "t0", "user": "u", "session": 1, "day": "2026-11-23", "text": "hi", '
            '"remember": false, "colour": 1}',
            "unexpected keyword argument 'colour'",
        ),
        (
            '{"type": "question", "id": "q0", "user": "u", "session": 2, "day": "2026-11-24", "question": "?", '
            '"answers": ["red"], "family": "color", "flow": "attach", "ask": "?", "needs": ["t9"]}',
            "needs 't9'",
        ),
        (
            '{"type": "question", "id": "q0", "user": "u", "session": 2, "day": "2026-11-24", "question": "?", '
            '"answers": ["red"], "family": "color", "flow": "guess", "ask": "?", "needs": []}',
            "flow 'guess'",
        ),
        (
            '{"type": "turn", "id": "t0", "user": "u", "session": 1, "day": "2026-11-23", "text": "hi", '
            '"remember": true, "image": "missing.png"}',
            "missing.png is not a file",
        ),
    ],
)
def test_bad_rows_are_one_line_errors_with_their_place(tmp_path, line, message):
    path = tmp_path / "memory.jsonl"
    path.write_text(line + "\n")
    with pytest.raises(InvalidRequestError, match=re.escape(message)) as err:
        read_memory_data(path)
    assert f"{path}:1" in str(err.value)
    assert "\n" not in str(err.value)


def test_a_file_without_questions_is_refused(tmp_path):
    path = tmp_path / "memory.jsonl"
    turn = {"type": "turn", "id": "t0", "user": "u", "session": 1, "day": "2026-11-23", "text": "hi", "remember": False}
    path.write_text(json.dumps(turn) + "\n")
    with pytest.raises(InvalidRequestError, match="has no questions"):
        read_memory_data(path)


def test_readers_of_what_memory_and_the_model_said():
    assert name_of("this is part #17.") == "part #17"
    assert name_of("Remember this: it is part #171. 3 shapes") == "part #171"
    assert name_of("this is the box I got on Monday.") == "the box I got on Monday"
    assert name_of("the patient is 64") == ""
    # a 0-1000 box on a 200 x 100 picture: 100 x 50 pixels
    assert box_area('[{"bbox_2d": [0, 0, 500, 500], "label": "red rectangle"}]', (200, 100)) == 5000
    assert box_area("no box here", (200, 100)) is None
    assert CITATION.sub("", "brown [m6] [m5]").strip() == "brown"
