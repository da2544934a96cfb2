"""benchmarks/independent_count_eval.py: the card's count questions on the independent renderer, told apart by
question form (every shape, one colour, one kind) and split by true answer, with the errors' commonest pairs."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from vreason.eval.shapes_independent_qa import write_independent_eval
from vreason.train.shapes_world import ShapesWorld

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import independent_count_eval as ice  # noqa: E402


def test_every_question_the_card_asks_gets_the_form_of_what_it_counts(tmp_path: Path):
    rows = [json.loads(line) for line in
            write_independent_eval(tmp_path, 60, 2002, kinds=("count",)).read_text().splitlines()]
    forms = {ice.question_form(r["question"]) for r in rows}
    assert forms == {"all", "colour", "kind"}
    assert ice.question_form("how many red shapes are there?") == "colour"
    assert ice.question_form("how many stars are there?") == "kind"
    assert ice.question_form("how many shapes are there?") == "all"


def test_the_breakdown_scores_each_form_and_answer_and_lists_errors_commonest_first():
    records = [{"question": "how many red shapes are there?", "answer": "2", "said": "1", "right": False},
               {"question": "how many blue shapes are there?", "answer": "2", "said": "1", "right": False},
               {"question": "how many teal shapes are there?", "answer": "1", "said": "1", "right": True},
               {"question": "how many shapes are there?", "answer": "2", "said": "2", "right": True},
               {"question": "how many stars are there?", "answer": "0", "said": "3", "right": False}]
    report = ice.breakdown(records)
    rows = report["rows"]
    assert rows["all forms"] == {"count": 5, "exact_match": 0.4}
    assert rows["form colour"] == {"count": 3, "exact_match": 1 / 3}
    assert rows["answer 2"] == {"count": 3, "exact_match": 1 / 3}
    assert rows["form colour, answer 2"] == {"count": 2, "exact_match": 0.0}
    assert rows["form all, answer 2"] == {"count": 1, "exact_match": 1.0}
    assert report["errors"] == [{"true": "2", "said": "1", "count": 2}, {"true": "0", "said": "3", "count": 1}]


def test_the_training_pictures_ask_the_same_three_forms_and_answer_them_from_the_scene(tmp_path: Path):
    rows = [json.loads(line) for line in ice.write_training_eval(tmp_path, 90, 1001).read_text().splitlines()]
    assert len(rows) == 90
    assert {ice.question_form(r["question"]) for r in rows} == {"all", "colour", "kind"}
    assert all((tmp_path / r["image"]).is_file() for r in rows)
    world = ShapesWorld(1001, color_jitter=40)  # the same scenes again: each row is one of its scene's questions
    for row in rows:
        assert (row["question"], row["answer"]) in {(qa.question, qa.answer) for qa in world.scene("count").qas}
    again = ice.write_training_eval(tmp_path / "again", 90, 1001).read_text().splitlines()
    again = [json.loads(line) for line in again]
    assert again == rows  # one seed, the same questions
