"""qa_eval's count rows: the count of one colour or kind that is there more than once is reported apart."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from vreason.train.qa_eval import counts_many, evaluate


def _row(question: str, answer: str, kind: str = "count") -> dict:
    return {"image": "x.png", "question": question, "answer": answer, "kind": kind}


def test_only_a_colour_or_kind_counted_two_or_more_is_many():
    assert counts_many(_row("how many red shapes are there?", "2"))
    assert counts_many(_row("how many stars are there?", "3"))
    assert not counts_many(_row("how many red shapes are there?", "1"))
    assert not counts_many(_row("how many stars are there?", "0"))
    assert not counts_many(_row("how many shapes are there?", "3"))  # every shape, not one colour or kind
    assert not counts_many(_row("How many shapes are there? ", "4"))
    assert counts_many(_row("How many blue shapes are there?", "4"))
    # other count questions are not of the shapes-world forms that count one colour or kind
    assert not counts_many(_row("how many objects were in the first picture?", "2"))
    assert not counts_many(_row("how many shapes did the second picture have?", "3"))
    assert not counts_many(_row("how many cars pass?", "2"))


def test_count_rows_report_the_many_questions_apart(tmp_path: Path):
    asked = [("how many red shapes are there?", "2", "1"), ("how many stars are there?", "2", "2"),
             ("how many blue shapes are there?", "3", "1"), ("how many shapes are there?", "3", "3"),
             ("how many red shapes are there?", "1", "1"), ("what color is the star?", "red", "red")]
    rows = [_row(q, a, "color" if q.startswith("what") else "count") for q, a, _ in asked]
    answers = iter(said for _, _, said in asked)
    model = SimpleNamespace(ask=lambda *_, **__: SimpleNamespace(text=next(answers)))
    report = evaluate(model, rows, tmp_path, progress=False)
    assert report["count"]["count"] == 5
    assert report["count"]["exact_match"] == pytest.approx(3 / 5)
    assert report["count"]["many_count"] == 3
    assert report["count"]["many_exact_match"] == pytest.approx(1 / 3)
    assert "many_count" not in report["color"]
