"""The one reader of a model's JSON answers, shared by structured answers, grounding and task packs."""

from __future__ import annotations

import pytest

from vreason.reasoning.grounding import parse_detections
from vreason.reasoning.json_output import StructuredOutputError, parse_json, parse_json_object, schema_errors
from vreason.reasoning.structured import as_schema
from vreason.tasks import TaskOutputError, get_task

ANSWER = 'Here it is: {"skip": 1}\n```json\n{"bbox_2d": [1, 2, 3, 4], "label": "cat"}\n```\nAnything else?'


def test_every_reader_takes_the_fenced_block_over_prose_before_it():
    assert parse_json(ANSWER) == {"bbox_2d": [1, 2, 3, 4], "label": "cat"}
    assert parse_json_object(ANSWER) == ({"bbox_2d": [1, 2, 3, 4], "label": "cat"}, False)
    assert [(d.label, d.box) for d in parse_detections(ANSWER)] == [("cat", (1.0, 2.0, 3.0, 4.0))]


def test_a_thinking_block_is_never_read_as_the_answer():
    text = '<think>maybe {"a": 0}</think>{"a": 1}'
    assert parse_json(text) == {"a": 1}
    assert parse_json_object(text) == ({"a": 1}, False)
    assert parse_detections('<think>[{"bbox_2d": [9, 9, 9, 9]}]</think> none found') == []


def test_a_bare_value_is_read_whole():
    assert parse_json(" 42 ") == 42
    assert parse_json('"red"') == "red"


def test_schema_errors_name_every_problem_in_path_order():
    schema = {"type": "object", "required": ["n"],
              "properties": {"n": {"type": "integer"}, "tags": {"type": "array", "items": {"type": "string"}}}}
    assert schema_errors({"n": 1, "tags": ["a"]}, schema) == []
    assert schema_errors({"tags": ["a", 2]}, schema) == ["(root): 'n' is a required property",
                                                         "tags/1: 2 is not of type 'string'"]
    with pytest.raises(ValueError, match=r"^at \(root\): 'n' is a required property$"):
        as_schema(schema).validate({"tags": ["a", 2]})


def test_one_error_class_for_structured_answers_and_task_packs():
    assert TaskOutputError is StructuredOutputError
    with pytest.raises(StructuredOutputError, match="no 'findings' list; the model answered") as failure:
        get_task("medical").read('{"summary": "clear"}')
    assert failure.value.raw_output == str({"summary": "clear"})  # what the pack could not use, as it read it
    assert failure.value.attempts == 1
    long = "no json here " * 20
    with pytest.raises(StructuredOutputError, match=r"the model answered 'no json here .{60,}\.\.\.' \(a real"):
        parse_json_object(long)
