"""Which questions ask when a named thing comes into or goes out of view (`parse_when_question`): the ones
`vreason ask` points at `vreason when`. A wrong yes prints a silly command; the phrasings below are the ones a
loose pattern gets wrong."""

from __future__ import annotations

import pytest

from vreason.reasoning.video_when import parse_when_question


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("when does the red circle appear?", ("red circle", "appears")),
        ("When did a blue square disappear from view?", ("blue square", "disappears")),
        ("at what time does the dog first show up", ("dog", "appears")),
        ("when will the green triangle leave the frame?", ("green triangle", "disappears")),
        ("when does the red circle start to appear?", ("red circle", "appears")),
        ("When exactly does the blue star vanish?", ("blue star", "disappears")),
        ("Watch the clip. When does the red circle appear?", ("red circle", "appears")),
        ("When does the red circle appears?", ("red circle", "appears")),
        ("when does the red circle reappear?", ("red circle", "appears")),
        ("when does the cat exit the frame?", ("cat", "disappears")),
        ('when does the "red  circle" appear?', ("red circle", "appears")),
        ("when does \u201cthe dog\u201d pop up?", ("dog", "appears")),
        ("When does the man in the red shirt appear?", ("man in the red shirt", "appears")),
    ],
)
def test_a_when_question_gives_its_target_and_event(question, expected):
    assert parse_when_question(question) == expected


@pytest.mark.parametrize(
    "question",
    [
        "what color is the shape that appears?",
        "where does the red circle appear?",
        "how many shapes appear?",
        "when does it appear?",
        "when does the clip end?",
        "when does the red circle not appear?",  # negations: the scan answers the opposite
        "when does the red circle no longer appear?",
        "when do we see the red circle appear?",  # the subject is not the thing
        "When does the video show the dog appear?",
        "when does its shadow appear?",
        "when does the first car appear?",  # an ordinal the yes/no question of one frame cannot keep
        "when does the sun appear to set?",  # "appear to": seem
        "When does the train leave the station?",  # a move on screen, not out of view
        "When does the camera enter the tunnel?",
    ],
)
def test_other_questions_are_not_when_questions(question):
    assert parse_when_question(question) is None
