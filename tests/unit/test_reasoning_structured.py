"""Schemas and JSON for structured answers, the token estimate, the context policy and --steps parsing."""

from __future__ import annotations

import json
from typing import Literal

import pytest
from pydantic import BaseModel

from vreason.cli.reason import expand_steps
from vreason.engine.types import Message
from vreason.errors import InvalidRequestError
from vreason.media import PixelBudget
from vreason.reasoning.context_budget import ContextPolicy
from vreason.reasoning.json_output import parse_json
from vreason.reasoning.structured import as_schema
from vreason.reasoning.token_count import EstimateCounter, visual_tokens


class Shape(BaseModel):
    color: Literal["red", "blue"]
    count: int


SCHEMA = {"type": "object", "properties": {"color": {"enum": ["red", "blue"]}, "count": {"type": "integer"}},
          "required": ["color", "count"]}


def test_a_pydantic_model_becomes_a_schema_and_validates_into_an_instance():
    spec = as_schema(Shape)
    assert spec.json_schema["required"] == ["color", "count"]
    assert json.loads(spec.output_format().schema) == spec.json_schema
    assert spec.validate({"color": "red", "count": 2}) == Shape(color="red", count=2)
    with pytest.raises(ValueError, match="color"):
        spec.validate({"color": "green", "count": 2})


def test_a_json_schema_as_dict_or_text_validates_with_the_failing_path():
    for schema in (SCHEMA, json.dumps(SCHEMA)):
        spec = as_schema(schema)
        assert spec.validate({"color": "blue", "count": 1}) == {"color": "blue", "count": 1}
        with pytest.raises(ValueError, match=r"at count: 'two' is not of type 'integer'"):
            spec.validate({"color": "blue", "count": "two"})


@pytest.mark.parametrize(
    ("schema", "message"),
    [("{not json", "not valid JSON"), ({"type": "objekt"}, "not a valid JSON schema"), (42, "got int")],
)
def test_bad_schemas_are_refused_before_any_request(schema, message):
    with pytest.raises(InvalidRequestError, match=message):
        as_schema(schema)


@pytest.mark.parametrize(
    "text",
    ['{"a": 1}', '```json\n{"a": 1}\n```', 'Sure! {"a": 1} Anything else?', '  {"a": 1}\n'],
)
def test_parse_json_finds_the_value(text):
    assert parse_json(text) == {"a": 1}


def test_parse_json_names_the_output_when_there_is_none():
    with pytest.raises(ValueError, match="no JSON value in the output \\('the shape is red'\\)"):
        parse_json("the shape is red")


def test_the_estimate_grows_when_the_engine_counts_more_and_never_shrinks():
    counter = EstimateCounter(PixelBudget())
    messages = [Message.user("What color is the shape? " * 10)]
    first = counter.count(messages)
    counter.observe(first, first * 2)
    assert counter.count(messages) >= 2 * first - 1
    counter.observe(first, 1)
    assert counter.count(messages) >= 2 * first - 1


def test_visual_tokens_follow_both_resizes():
    demo = PixelBudget(min_pixels=65536, max_pixels=65536)
    assert visual_tokens(demo, (256, 256)) == 64
    assert visual_tokens(demo, (900, 300)) == 75  # 416x128 after the first resize, 480x160 after the processor


def test_context_policy_validates_its_values():
    with pytest.raises(InvalidRequestError, match=r"compact_to \(2.0\)"):
        ContextPolicy(compact_to=2.0)
    with pytest.raises(InvalidRequestError, match=r"max_prompt_tokens \(3\)"):
        ContextPolicy(max_prompt_tokens=3)


def test_steps_flag_takes_several_values_until_the_next_option():
    args = ["a.png", "--steps", "q1", "q two", "-x", "--vote", "3", "b.png"]
    assert expand_steps(args) == ["a.png", "--steps", "q1", "--steps", "q two", "--steps", "-x", "--vote", "3",
                                  "b.png"]
