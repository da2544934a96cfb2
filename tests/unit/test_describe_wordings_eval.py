"""benchmarks/describe_wordings_eval.py: open-question answers scored per wording and per family."""

from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from vreason.train.qa_eval import evaluate

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import describe_wordings_eval as dwe  # noqa: E402


def test_each_wording_and_each_family_gets_its_own_shares(tmp_path: Path):
    expected = "a red circle and two blue stars"
    asked = [("describe", "what is in the image?", "a red circle and two blue stars"),
             ("describe", "what is in the image?", "a red circle"),
             ("describe-reworded", "what shapes are there?", "3"),
             ("describe-reworded", "what do you see?", "two blue stars and a red circle"),
             ("describe-reworded", "what do you see?", "a blue star"),
             ("count", "how many shapes are there?", "3")]
    rows = [{"image": "x.png", "question": q, "answer": expected, "kind": kind, "said": said}
            for kind, q, said in asked]
    said = {id(r): r["said"] for r in rows}
    tagged = dwe.by_wording(rows)
    assert [r["kind"] for r in tagged] == ["describe: what is in the image?"] * 2 + [
        "describe-reworded: what shapes are there?"] + ["describe-reworded: what do you see?"] * 2
    answers = iter(said[id(r)] for r in rows if r["kind"] in dwe.FAMILIES)
    model = SimpleNamespace(ask=lambda *_, **__: SimpleNamespace(text=next(answers)))
    report = dwe.with_families(evaluate(model, tagged, tmp_path, progress=False))
    assert report["describe: what is in the image?"] == {"count": 2, "exact_match": 0.5, "list_form": 1.0,
                                                        "same_shapes": 0.5, "number": 0.0}
    assert report["describe-reworded: what shapes are there?"]["number"] == 1.0
    family = report["[describe-reworded]"]
    assert family["count"] == 3
    assert family["list_form"] == pytest.approx(2 / 3)
    assert family["same_shapes"] == pytest.approx(1 / 3)
    assert family["number"] == pytest.approx(1 / 3)
    assert report["[describe]"] == report["describe: what is in the image?"] | {"count": 2}
    assert not any(key.startswith("_") for key in report)


def test_further_wordings_ask_the_describe_pictures_again_and_stay_out_of_the_family_rows(tmp_path: Path):
    lists = ["a red circle", "a red circle and two blue stars", "a green square"]
    rows = [{"image": f"d{i}.png", "question": "what is in the image?", "answer": listed, "kind": "describe"}
            for i, listed in enumerate(lists)]
    rows.append({"image": "r.png", "question": "what shapes are there?", "answer": "a blue star",
                 "kind": "describe-reworded"})
    also = dwe.also_asked(rows, ["what shapes are present?", "what is there?"], pictures=2)
    assert [(r["image"], r["question"]) for r in also] == [
        ("d0.png", "what shapes are present?"), ("d1.png", "what shapes are present?"),
        ("d0.png", "what is there?"), ("d1.png", "what is there?")]
    assert [r["answer"] for r in also] == lists[:2] * 2
    said = iter(["4", "a red circle and two blue stars", "a red circle", "2"])
    model = SimpleNamespace(ask=lambda *_, **__: SimpleNamespace(text=next(said)))
    report = dwe.with_families(evaluate(model, also, tmp_path, progress=False))
    assert report["describe-also: what shapes are present?"]["number"] == 0.5
    assert report["describe-also: what shapes are present?"]["same_shapes"] == 0.5
    assert report["describe-also: what is there?"]["list_form"] == 0.5
    assert not any(key.startswith("[") for key in report)  # a family row only for the card's two families
