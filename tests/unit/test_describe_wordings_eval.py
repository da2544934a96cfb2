"""benchmarks/describe_wordings_eval.py: open-question answers tallied per wording and per family."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import describe_wordings_eval as dwe  # noqa: E402


def test_each_wording_and_each_family_gets_its_own_shares():
    def said(kind: str, question: str, listed: bool, same: bool, number: bool = False) -> dict:
        return {"kind": kind, "question": question, "list": listed, "same": same, "exact": same, "number": number}

    records = [said("describe", "what is in the image?", True, True),
               said("describe", "what is in the image?", True, False),
               said("describe-reworded", "what shapes are there?", False, False, number=True),
               said("describe-reworded", "what do you see?", True, True),
               said("describe-reworded", "what do you see?", True, False)]
    report = dwe.tally(records)
    assert report["what is in the image?"] == {"count": 2, "list_form": 1.0, "same_shapes": 0.5, "exact_match": 0.5,
                                               "number": 0.0}
    assert report["what shapes are there?"] == {"count": 1, "list_form": 0.0, "same_shapes": 0.0, "exact_match": 0.0,
                                                "number": 1.0}
    assert report["[describe-reworded]"]["count"] == 3
    assert report["[describe-reworded]"]["list_form"] == pytest.approx(2 / 3)
    assert report["[describe-reworded]"]["same_shapes"] == pytest.approx(1 / 3)
    assert report["[describe]"] == report["what is in the image?"]
