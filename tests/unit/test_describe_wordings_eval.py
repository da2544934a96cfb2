"""benchmarks/describe_wordings_eval.py: open-question answers tallied per wording and per family."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import describe_wordings_eval as dwe  # noqa: E402


def test_each_wording_and_each_family_gets_its_own_shares():
    records = [
        {"kind": "describe", "question": "what is in the image?", "list": True, "same": True},
        {"kind": "describe", "question": "what is in the image?", "list": True, "same": False},
        {"kind": "describe-reworded", "question": "what shapes are there?", "list": False, "same": False},
        {"kind": "describe-reworded", "question": "what do you see?", "list": True, "same": True},
        {"kind": "describe-reworded", "question": "what do you see?", "list": True, "same": False},
    ]
    report = dwe.tally(records)
    assert report["what is in the image?"] == {"count": 2, "list_form": 1.0, "same_shapes": 0.5}
    assert report["what shapes are there?"] == {"count": 1, "list_form": 0.0, "same_shapes": 0.0}
    assert report["[describe-reworded]"]["count"] == 3
    assert report["[describe-reworded]"]["list_form"] == pytest.approx(2 / 3)
    assert report["[describe-reworded]"]["same_shapes"] == pytest.approx(1 / 3)
    assert report["[describe]"] == report["what is in the image?"]


def test_it_asks_both_describe_families_of_the_independent_set():
    from vreason.eval.shapes_independent_qa import KINDS

    assert set(dwe.FAMILIES) <= set(KINDS)
