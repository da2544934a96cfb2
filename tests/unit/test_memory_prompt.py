"""Memory's words: remember/forget requests recognised in what the user writes, cited ids read back from an answer,
recalled items written as short notes with ids, where the store lives."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from vreason.errors import InvalidRequestError
from vreason.memory.location import store_url
from vreason.memory.prompt import NOTES_HEADER, Forget, Remember, cited_ids, notes_block, parse_request
from vreason.memory.text_search import query_words
from vreason.memory.types import MemoryItem, RecallHit, check_user, parse_id


@pytest.mark.parametrize(
    ("said", "expected"),
    [
        ("Remember: this is part #17", Remember("this is part #17")),
        ("remember that the patient is 64.", Remember("the patient is 64.")),
        ("Please remember, my desk is B12", Remember("my desk is B12")),
        ("Correction: part #17 is blue", Remember("part #17 is blue", "correction")),
        ("Actually, the patient is 65", Remember("the patient is 65", "correction")),
        ("Forget m42", Forget(ids=("m42",))),
        ("forget [m3], m4 and m5", Forget(ids=("m3", "m4", "m5"))),
        ("Forget everything", Forget(everything=True)),
        ("please forget about part #17.", Forget(query="part #17")),
        ("What colour was part #17?", None),
        ("Do you remember part #17?", None),
        ("I forgot my keys", None),
    ],
)
def test_requests_are_recognised(said, expected):
    assert parse_request(said) == expected


def test_cited_ids_only_those_in_the_prompt():
    answer = "It was red [m2], as [m1] shows; m2 again; not m99, nor am3 or m4x."
    assert cited_ids(answer) == ["m2", "m1", "m99"]
    assert cited_ids(answer, {"m1", "m2"}) == ["m2", "m1"]


def item(row: int, kind: str, text: str, sha: str | None = None, facts=None) -> MemoryItem:
    when = datetime(2026, 11, 30, 9, 0, tzinfo=timezone.utc)
    return MemoryItem(f"m{row}", "ana", "3", kind, text, when, "cli", sha, facts or {})


def test_notes_name_the_picture_a_fact_is_about():
    picture = item(1, "image", "a red hexagon", "ab" * 32, {"facts": {"color": "red", "count": "1"}})
    fact = item(2, "fact", "this is part #17", "ab" * 32)
    notes = notes_block([RecallHit(fact, 0.9, ("text",))], [picture])
    assert notes.splitlines() == [
        NOTES_HEADER,
        "[m2] 2026-11-30, session 3: this is part #17 [about picture m1]",
        "[m1] 2026-11-30, session 3: picture: a red hexagon (color: red; count: 1)",
    ]
    assert notes_block([]) == ""


def test_query_words_drop_function_words():
    assert query_words("What colour was part #17?") == ["colour", "part", "17"]
    assert query_words("what is it?") == []


def test_ids_and_users_are_checked():
    assert parse_id("m42") == parse_id(42) == parse_id(" 42 ") == 42
    for bad in ("x42", "m", "m-1", "42; drop table"):
        with pytest.raises(InvalidRequestError, match="expected an id like m42"):
            parse_id(bad)
    assert check_user("ana@example.org") == "ana@example.org"
    for bad in ("", "a b", "../etc", "x" * 129, None):
        with pytest.raises(InvalidRequestError, match="memory user"):
            check_user(bad)


def test_store_location_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.delenv("VREASON_MEMORY_URL", raising=False)
    monkeypatch.delenv("VREASON_MEMORY_DIR", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert store_url() == f"sqlite:///{tmp_path / 'xdg' / 'vreason' / 'memory.sqlite3'}"
    monkeypatch.setenv("VREASON_MEMORY_DIR", str(tmp_path / "mine"))
    assert store_url() == f"sqlite:///{tmp_path / 'mine' / 'memory.sqlite3'}"
    assert store_url(directory=tmp_path / "flag").endswith("/flag/memory.sqlite3")
    monkeypatch.setenv("VREASON_MEMORY_URL", "postgresql://memory@/vreason?host=/run/postgresql")
    assert store_url() == "postgresql+psycopg://memory@/vreason?host=/run/postgresql"
    assert store_url(directory=tmp_path / "flag").startswith("sqlite:///")  # the flag beats the environment
    with pytest.raises(InvalidRequestError, match="sqlite:/// or postgresql:// only"):
        store_url("mysql://x@y/z")
    with pytest.raises(InvalidRequestError, match="not both"):
        store_url("sqlite:///x", tmp_path)


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("what colour was part #17?", "red"),
        ("how many shapes did part #17 have?", "3"),
        ("how many circles did part #17 have?", "2"),  # the kind's own count, not the picture's 3
        ("how many stars were in part #17?", "0"),
        ("how many dogs were in part #17?", None),  # a kind the facts do not count: no fallback answer
    ],
)
def test_a_recalled_pictures_facts_answer_the_attribute_asked(question, expected):
    import asyncio

    from vreason.memory.turn import fact_answer

    facts = {"shape": "circle", "color": "red", "count": "3", "circles": "2", "stars": "0"}
    picture = item(1, "image", "3 shapes", "ab" * 32, {"facts": facts})
    found = asyncio.run(fact_answer(None, question, [RecallHit(picture, 0.9, ("text",))]))
    assert (found[0] if found else None) == expected
    if found:
        assert found[1] == ["m1"]


def test_a_description_from_the_facts_reads_as_a_sentence():
    from vreason.memory.describe import facts_description

    assert facts_description({"shape": "circle", "color": "blue", "count": "1"}) == "a blue circle"
    assert facts_description({"shape": "star", "color": "red"}) == "a red star"
    assert facts_description({"shape": "star", "color": "orange"}) == "an orange star"
    assert facts_description({"shape": "hexagon"}) == "a hexagon"
    assert facts_description({"shape": "", "color": ""}) == "a picture"  # nothing said: no lone "a"
    several = {"shape": "star", "count": "3", "circles": "2", "stars": "1", "hexagons": "0"}
    assert facts_description(several) == "3 shapes: 2 circles (two circles), 1 star (one star)"
    assert facts_description({"objects": "a cup", "count": "1"}) == "objects: a cup, count: 1"


def test_the_facts_answer_keeps_the_model_words_only_when_they_say_the_value():
    from vreason.memory.turn import fact_text

    assert fact_text("red", "red", ["m2", "m1"]) == "red [m2] [m1]"
    assert fact_text(" It was RED. ", "red", ["m2"]) == "It was RED. [m2]"
    assert fact_text("1 star", "1", ["m3"]) == "1 star [m3]"
    # the value inside another word is not the value: before, "11" and "reddish" were kept as the answer
    assert fact_text("11", "1", ["m3"]) == "1 [m3]"
    assert fact_text("reddish", "red", ["m2"]) == "red [m2]"
    assert fact_text("no", "circle", ["m2"]) == "circle [m2]"
    assert fact_text("part #17 (a c++ part)", "c++", ["m4"]) == "part #17 (a c++ part) [m4]"  # taken as text
