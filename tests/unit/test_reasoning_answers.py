"""Final-answer extraction, answer normal form, majority votes, chain placeholders and trace JSON."""

from __future__ import annotations

import json

import pytest

from vreason.errors import InvalidRequestError
from vreason.reasoning.answer_extraction import (
    ANSWER_TAG,
    answer_items,
    cot_instruction,
    extract_final_answer,
    normalize_answer,
)
from vreason.reasoning.chains import check_chain, fill_placeholders
from vreason.reasoning.grounding import Detection
from vreason.reasoning.trace import ChainTrace, SampleTrace, StepTrace
from vreason.reasoning.voting import majority_vote


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The shape is round and bright.\nAnswer: red", "red"),
        ("Reasoning...\n**Final answer:** Three circles", "Three circles"),
        ("Answer: blue\nWait, let me look again.\nAnswer: green", "green"),  # the last tagged answer wins
        ("So the count is \\boxed{4}.", "4"),
        ("First I look.\nThen I count.\n5", "5"),  # untagged: the last line
        ("  ", ""),
    ],
)
def test_extract_final_answer(text, expected):
    assert extract_final_answer(text) == expected


def test_thinking_model_cut_off_before_answering_falls_back_to_its_thinking():
    assert extract_final_answer("", thinking="two shapes... so Answer: 2") == "2"
    assert extract_final_answer("yes", thinking="Answer: no") == "yes"  # the answer channel wins when present


def test_cot_instruction_asks_for_the_tag_the_extractor_reads():
    prompt = cot_instruction("How many stars?")
    assert prompt.startswith("How many stars?")
    assert prompt.endswith(f"{ANSWER_TAG} <answer>")


@pytest.mark.parametrize(
    ("raw", "normal"),
    [("Red.", "red"), ("**The red**", "red"), ("  an   Apple! ", "apple"), ("Three", "3"), ('"yes"', "yes")],
)
def test_normalize_answer(raw, normal):
    assert normalize_answer(raw) == normal


def test_answer_items_split_lists_without_repeats():
    assert answer_items("Red, blue and GREEN; red") == ["red", "blue", "green"]
    assert answer_items("") == []


def test_majority_vote_counts_normal_forms_and_reports_agreement():
    vote = majority_vote(["Red.", "blue", "red", "the red", "", "Blue"])
    assert vote.answer == "red"
    assert vote.agreement == pytest.approx(3 / 6)  # empty samples count against agreement
    assert vote.counts == {"red": 3, "blue": 2}
    assert vote.winner_index == 0


def test_majority_vote_ties_go_to_the_first_seen_and_empty_is_no_answer():
    assert majority_vote(["blue", "red", "red", "blue"]).answer == "blue"
    empty = majority_vote(["", " "])
    assert (empty.answer, empty.agreement) == ("", 0.0)
    with pytest.raises(ValueError, match="at least one"):
        majority_vote([])


def _step(index: int, answer: str) -> StepTrace:
    return StepTrace(index, "q", "q", answer, None, answer, 10, 2, 0.1, "stop")


def test_placeholders_fill_from_earlier_steps_and_leave_json_alone():
    done = [_step(1, "red"), _step(2, "circle")]
    boxes = [[], [Detection("circle", (10.0, 20.0, 300.0, 400.0))]]
    question = 'is the {step1} {previous} at {previous_boxes}? Reply {"ok": true}'
    filled = fill_placeholders(question, done, boxes)
    assert filled.startswith("is the red circle at ")
    assert '[{"bbox_2d": [10, 20, 300, 400], "label": "circle"}]' in filled
    assert filled.endswith('Reply {"ok": true}')


def test_placeholders_that_point_forward_are_refused():
    with pytest.raises(InvalidRequestError, match=r"step 2 refers to \{step2\}, but only steps 1..1"):
        fill_placeholders("and {step2}?", [_step(1, "red")], [[]])
    with pytest.raises(InvalidRequestError, match=r"\{previous\}"):
        fill_placeholders("after {previous}", [], [])


@pytest.mark.parametrize(
    ("steps", "vote", "message"),
    [
        ([], 1, "at least one step"),
        ("what color?", 1, "a list of questions"),
        (["ok", "  "], 1, "step 2"),
        (["ok"], 0, r"vote \(0\) must be an integer from 1 to 16"),
        (["ok"], 17, "vote"),
    ],
)
def test_check_chain_names_the_bad_value(steps, vote, message):
    with pytest.raises(InvalidRequestError, match=message):
        check_chain(steps, vote)


def test_trace_serialises_every_step_with_votes_and_boxes():
    step = _step(1, "red")
    step.detections = [Detection("ball", (1.0, 2.0, 3.0, 4.0))]
    step.samples = [SampleTrace("red", None, "red", 2, "stop"), SampleTrace("Red.", None, "Red.", 3, "stop")]
    step.vote = majority_vote(["red", "Red."])
    trace = ChainTrace(model="m", images=["a.png"], steps=[step, _step(2, "yes")], time_s=0.5)
    data = json.loads(trace.to_json())
    assert data["answer"] == "yes"
    assert data["usage"] == {"prompt_tokens": 20, "completion_tokens": 4, "cached_tokens": 0}
    assert data["steps"][0]["usage"]["cached_tokens"] == 0
    first = data["steps"][0]
    assert first["detections"] == [{"label": "ball", "bbox": [1.0, 2.0, 3.0, 4.0]}]
    assert first["vote"] == {"answer": "red", "agreement": 1.0, "counts": {"red": 2}}
    assert [s["raw_output"] for s in first["samples"]] == ["red", "Red."]
    assert "vote" not in data["steps"][1]
