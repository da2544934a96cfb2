"""Constrained decoding with a real tokenizer (the demo model's compact BPE) and random logits in place of a
model: whatever the logits say, what comes out parses and validates against the schema."""

from __future__ import annotations

import json

import jsonschema
import pytest
import torch
import xgrammar as xgr

from vreason.engine.grammar import (
    GrammarLogitsProcessor,
    GrammarStoppingCriteria,
    OutputConstraint,
    compile_output_format,
    grammar_compiler,
    new_constraint,
)
from vreason.engine.sampling import OutputFormat
from vreason.errors import InvalidRequestError

SCHEMA = {
    "type": "object",
    "properties": {
        "color": {"enum": ["red", "green", "blue"]},
        "count": {"type": "integer", "minimum": 0, "maximum": 9},
        "tags": {"type": "array", "items": {"type": "string", "maxLength": 5}, "maxItems": 2},
        "ok": {"type": "boolean"},
    },
    "required": ["color", "count", "tags", "ok"],
}
PADDING = 64  # model rows beyond the tokenizer, as in checkpoints padded to a multiple of 128


@pytest.fixture(scope="module")
def tokenizer():
    from transformers import AutoTokenizer

    from vreason.models.demo import demo_model_dir

    return AutoTokenizer.from_pretrained(demo_model_dir())


@pytest.fixture(scope="module")
def stop_ids(tokenizer) -> list[int]:
    return [tokenizer.convert_tokens_to_ids("<|im_end|>"), tokenizer.convert_tokens_to_ids("<|endoftext|>")]


@pytest.fixture(scope="module")
def vocab_size(tokenizer) -> int:
    return len(tokenizer) + PADDING


def _decode_random(tokenizer, constraint: OutputConstraint, vocab_size: int, seed: int, max_steps: int = 400):
    """Greedy decoding over random logits; padded rows get the highest logit to prove they are masked."""
    generator = torch.Generator().manual_seed(seed)
    bitmask = xgr.allocate_token_bitmask(1, vocab_size)
    ids: list[int] = []
    for _ in range(max_steps):
        scores = torch.randn(1, vocab_size, generator=generator)
        scores[0, len(tokenizer) :] = 100.0
        if constraint.fill(bitmask, 0):
            xgr.apply_token_bitmask_inplace(scores, bitmask, indices=[0])
        token_id = int(scores.argmax())
        assert constraint.accept(token_id)
        ids.append(token_id)
        if constraint.is_terminated():
            return ids
    raise AssertionError(f"not terminated after {max_steps} tokens: {tokenizer.decode(ids)!r}")


@pytest.mark.parametrize("seed", range(5))
def test_random_logits_under_a_schema_give_valid_json(tokenizer, stop_ids, vocab_size, seed):
    fmt = OutputFormat("json_schema", json.dumps(SCHEMA))
    constraint = new_constraint(tokenizer, fmt, vocab_size, stop_ids, thinking=False)
    ids = _decode_random(tokenizer, constraint, vocab_size, seed)
    assert ids[-1] in stop_ids  # the grammar ends with a stop token, and only then
    assert not set(ids[:-1]) & set(stop_ids)
    value = json.loads(tokenizer.decode(ids, skip_special_tokens=True))
    jsonschema.validate(value, SCHEMA)


def test_json_object_accepts_objects_only(tokenizer, stop_ids, vocab_size):
    compiler = grammar_compiler(tokenizer, vocab_size, stop_ids)
    grammar = compile_output_format(compiler, OutputFormat("json_object"))
    good = OutputConstraint(grammar)
    for token_id in tokenizer.encode('{"a": [1, {"b": null}], "c": "x"}'):
        assert good.accept(token_id)
    bitmask = xgr.allocate_token_bitmask(1, vocab_size)
    assert good.fill(bitmask, 0)
    scores = torch.zeros(1, vocab_size)
    xgr.apply_token_bitmask_inplace(scores, bitmask)
    allowed = set(torch.nonzero(scores[0] == 0).flatten().tolist())
    assert allowed == set(stop_ids)  # a complete object: only the end of the turn may follow
    assert good.accept(stop_ids[0])
    assert good.is_terminated()

    top_level_array = OutputConstraint(grammar)
    assert not top_level_array.accept(tokenizer.encode("[")[0])


def test_raw_control_characters_never_enter_strings(tokenizer, stop_ids, vocab_size):
    """Length-limited strings: xgrammar's rule alone would allow a raw U+0000, which JSON forbids."""
    schema = {"type": "object", "properties": {"t": {"type": "string", "maxLength": 4}}, "required": ["t"]}
    constraint = new_constraint(tokenizer, OutputFormat("json_schema", json.dumps(schema)), vocab_size, stop_ids, False)
    for token_id in tokenizer.encode('{"t": "'):
        assert constraint.accept(token_id)
    bitmask = xgr.allocate_token_bitmask(1, vocab_size)
    assert constraint.fill(bitmask, 0)
    scores = torch.zeros(1, vocab_size)
    xgr.apply_token_bitmask_inplace(scores, bitmask)
    for text in ("\x00", "\n", "\x1f"):
        assert scores[0, tokenizer.encode(text)[0]] == float("-inf"), repr(text)
    assert scores[0, tokenizer.encode("x")[0]] == 0


def test_compiler_is_cached_per_tokenizer(tokenizer, stop_ids, vocab_size):
    assert grammar_compiler(tokenizer, vocab_size, stop_ids) is grammar_compiler(tokenizer, vocab_size, stop_ids)
    assert grammar_compiler(tokenizer, vocab_size + 128, stop_ids) is not grammar_compiler(
        tokenizer, vocab_size, stop_ids
    )


@pytest.mark.parametrize(
    ("schema", "needle"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "must be a JSON object"),
        ('{"type": "no-such-type"}', "not supported"),
    ],
)
def test_bad_schemas_are_request_errors(tokenizer, stop_ids, vocab_size, schema, needle):
    with pytest.raises(InvalidRequestError, match=needle) as info:
        new_constraint(tokenizer, OutputFormat("json_schema", schema), vocab_size, stop_ids, thinking=False)
    assert info.value.param == "response_format"


def test_thinking_output_is_free_until_think_closes(tokenizer, stop_ids, vocab_size):
    constraint = new_constraint(tokenizer, OutputFormat("json_object"), vocab_size, stop_ids, thinking=True)
    bitmask = xgr.allocate_token_bitmask(1, vocab_size)
    assert not constraint.active
    for token_id in tokenizer.encode("Let me think: [not json]"):
        assert not constraint.fill(bitmask, 0)
        assert constraint.accept(token_id)
    assert (bitmask == -1).all()
    assert constraint.accept(tokenizer.convert_tokens_to_ids("</think>"))
    assert constraint.active
    assert constraint.fill(bitmask, 0)
    assert not constraint.accept(tokenizer.encode("Sure")[0])


def test_transformers_hooks_mask_and_stop(tokenizer, stop_ids, vocab_size):
    """The loop transformers' generate runs: processors on all ids so far, sample, then stopping criteria."""
    prompt = torch.tensor([tokenizer.encode("Answer in JSON:")])
    fmt = OutputFormat("json_schema", json.dumps(SCHEMA))
    rows = [new_constraint(tokenizer, fmt, vocab_size, stop_ids, thinking=False) for _ in range(2)]
    processor = GrammarLogitsProcessor(rows, prompt_len=prompt.shape[1])
    criteria = GrammarStoppingCriteria(processor)
    input_ids = prompt.repeat(2, 1)
    generator = torch.Generator().manual_seed(7)
    done = torch.zeros(2, dtype=torch.bool)
    for _ in range(400):
        scores = processor(input_ids, torch.randn(2, vocab_size, generator=generator))
        next_ids = torch.where(done, torch.tensor(stop_ids[0]), scores.argmax(-1))  # finished rows are padded
        input_ids = torch.cat([input_ids, next_ids[:, None]], dim=1)
        done |= criteria(input_ids, scores)
        if done.all():
            break
    assert done.all()
    for row in input_ids[:, prompt.shape[1] :].tolist():
        jsonschema.validate(json.loads(tokenizer.decode(row, skip_special_tokens=True)), SCHEMA)
