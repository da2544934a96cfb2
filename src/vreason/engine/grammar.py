"""Constrained decoding: JSON-object and JSON-schema output enforced token by token with xgrammar.

Three layers, each usable on its own:
- `grammar_compiler(tokenizer, vocab_size, stop_token_ids)`: one xgrammar compiler per tokenizer, cached (it
  holds the tokenizer's decoded vocabulary and a bounded cache of compiled grammars);
- `OutputConstraint`: one request's matcher state, with `fill(bitmask, row)`, `accept(token_id)` and
  `is_terminated()`, so a batching runner can fill one bitmask row per constrained request and apply them all;
- `GrammarLogitsProcessor` and `GrammarStoppingCriteria`: adapters for transformers' `generate`.

Thinking models write `<think> ... </think>` before the answer; their constraint opens only after the
`</think>` token, so the reasoning stays free text and the answer is the JSON.
The engine owns sampling; this module only removes tokens the grammar does not allow next.
"""

from __future__ import annotations

import json
import re
import threading
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import xgrammar as xgr
from transformers import LogitsProcessor, StoppingCriteria

from vreason.engine.sampling import OutputFormat
from vreason.errors import InvalidRequestError

THINK_CLOSE_TOKEN = "</think>"
# Compiled grammars are cached per compiler; this bounds that cache (a JSON schema compiles to kilobytes).
GRAMMAR_CACHE_BYTES = 64 * 1024 * 1024
# OpenAI's json_object: any JSON object. Non-strict, so it may carry any properties.
ANY_OBJECT_SCHEMA = '{"type": "object"}'
_LOG_PREFIX = re.compile(r"^\[[\d:]+\]\s+\S+:\d+:\s*")


@dataclass(frozen=True)
class _Vocab:
    compiler: xgr.GrammarCompiler
    # One bitmask row allowing every token whose bytes are free of control characters (0x00-0x1f).
    # Compact JSON never contains them raw (they are written as escapes), but xgrammar's length-limited
    # string rule (maxLength) lets them through, and strict JSON parsers then reject the output.
    printable: torch.Tensor


_vocabs: weakref.WeakKeyDictionary[Any, dict[tuple, _Vocab]] = weakref.WeakKeyDictionary()
_vocabs_lock = threading.Lock()


def grammar_compiler(tokenizer: Any, vocab_size: int, stop_token_ids: Sequence[int]) -> xgr.GrammarCompiler:
    """The cached compiler for a Hugging Face tokenizer.

    `vocab_size` is the model's logit width (config.text_config.vocab_size), which may exceed the tokenizer's
    length (rows padded to a multiple of 128); the padding ids are never allowed. `stop_token_ids` are the
    ids that end generation (the model's eos ids): the grammar allows them once the JSON is complete.
    """
    return _vocab(tokenizer, vocab_size, stop_token_ids).compiler


def _vocab(tokenizer: Any, vocab_size: int, stop_token_ids: Sequence[int]) -> _Vocab:
    key = (int(vocab_size), tuple(int(t) for t in stop_token_ids))
    with _vocabs_lock:
        per_tokenizer = _vocabs.setdefault(tokenizer, {})
        if key not in per_tokenizer:
            info = _tokenizer_info(tokenizer, key[0], list(key[1]))
            per_tokenizer[key] = _Vocab(
                compiler=xgr.GrammarCompiler(info, cache_limit_bytes=GRAMMAR_CACHE_BYTES),
                printable=_printable_bitmask(info.decoded_vocab, key[0]),
            )
        return per_tokenizer[key]


def _tokenizer_info(tokenizer: Any, vocab_size: int, stop_token_ids: list[int]) -> xgr.TokenizerInfo:
    """xgrammar's view of the vocabulary. `from_huggingface` knows transformers' tokenizers only; for vreason's own
    (models/native/tokenizer.py, a `tokenizers.Tokenizer` underneath) its fast-tokenizer branch is followed step
    for step, with the same private helpers (tests/unit/test_native_processor.py compares the two results)."""
    from vreason.models.native.tokenizer import NativeTokenizer

    if not isinstance(tokenizer, NativeTokenizer):
        return xgr.TokenizerInfo.from_huggingface(tokenizer, vocab_size=vocab_size, stop_token_ids=stop_token_ids)
    if not stop_token_ids:
        raise ValueError("stop_token_ids cannot be empty")
    vocab = tokenizer.get_vocab()
    encoded = [""] * vocab_size
    for token, index in vocab.items():
        if index < vocab_size:
            encoded[index] = token
    meta = xgr.TokenizerInfo._detect_metadata_from_hf(tokenizer.backend_tokenizer.to_str())
    from_vocab = xgr.TokenizerInfo._detect_vocab_type_from_vocab(vocab)
    if from_vocab is not None and from_vocab != meta["vocab_type"]:
        prefix = xgr.TokenizerInfo._detect_add_prefix_space_by_encoding(tokenizer, from_vocab)
        meta = {"vocab_type": from_vocab, "add_prefix_space": prefix}
    return xgr.TokenizerInfo(encoded, vocab_type=meta["vocab_type"], vocab_size=vocab_size,
                             stop_token_ids=stop_token_ids, add_prefix_space=meta["add_prefix_space"])


def _printable_bitmask(decoded_vocab: Sequence[bytes], vocab_size: int) -> torch.Tensor:
    """xgrammar's layout: token t is bit t % 32 of int32 word t // 32."""
    words = -(-vocab_size // 32)
    allowed = np.zeros(words * 32, dtype=bool)
    allowed[: len(decoded_vocab)] = [not any(b < 0x20 for b in token) for token in decoded_vocab]
    return torch.from_numpy(np.packbits(allowed, bitorder="little").view("<i4").astype(np.int32))


def compile_output_format(compiler: xgr.GrammarCompiler, output_format: OutputFormat) -> xgr.CompiledGrammar:
    """Compile json_object / json_schema. A schema xgrammar cannot compile is the caller's mistake (400).

    Whitespace between JSON tokens is fixed (compact output): with free whitespace a weak model can pad
    forever and never close the object.
    """
    if output_format.kind == "json_object":
        return compiler.compile_json_schema(ANY_OBJECT_SCHEMA, any_whitespace=False, strict_mode=False)
    schema_text = output_format.schema or ""
    try:
        schema = json.loads(schema_text)
    except json.JSONDecodeError as err:
        raise InvalidRequestError(
            f"response_format schema is not valid JSON ({err})", param="response_format"
        ) from None
    if not isinstance(schema, dict):
        raise InvalidRequestError(
            f"response_format schema must be a JSON object, got {type(schema).__name__}", param="response_format"
        )
    try:
        # strict_mode: properties and items the schema does not name are not generated, so the output
        # always validates against the schema as written.
        return compiler.compile_json_schema(schema_text, any_whitespace=False, strict_mode=True)
    except (RuntimeError, ValueError, TypeError) as err:
        raise InvalidRequestError(
            f"response_format schema is not supported for constrained decoding: {_reason(err)}",
            param="response_format",
        ) from None


def _reason(err: Exception) -> str:
    """xgrammar's message without its C++ log prefix ('[12:00:00] /project/cpp/x.cc:42: ')."""
    lines = str(err).strip().splitlines() or [type(err).__name__]
    return _LOG_PREFIX.sub("", lines[0])[:300]


class OutputConstraint:
    """One request's position in its grammar.

    `start_after`: a token id (a thinking model's `</think>`) before which output is not constrained.
    """

    def __init__(
        self, compiled: xgr.CompiledGrammar, start_after: int | None = None, allowed: torch.Tensor | None = None
    ):
        self._matcher = xgr.GrammarMatcher(compiled)
        self._start_after = start_after
        self._allowed = allowed  # a bitmask row ANDed into every filled row (see _Vocab.printable)
        self.active = start_after is None

    def fill(self, bitmask: torch.Tensor, row: int) -> bool:
        """Write the allowed next tokens into `bitmask[row]`; False when the row allows every token."""
        if not self.active or self._matcher.is_terminated():
            bitmask[row].fill_(-1)  # all bits set: nothing masked
            return False
        self._matcher.fill_next_token_bitmask(bitmask, row)
        if self._allowed is not None:
            bitmask[row] &= self._allowed
        return True

    def accept(self, token_id: int) -> bool:
        """Advance past a generated token; False if the grammar does not allow it (the mask was not applied)."""
        if not self.active:
            if token_id == self._start_after:
                self.active = True
            return True
        return bool(self._matcher.accept_token(int(token_id)))

    def is_terminated(self) -> bool:
        """The grammar is complete and a stop token was accepted: nothing more may be generated."""
        return self._matcher.is_terminated()


def new_constraint(
    tokenizer: Any, output_format: OutputFormat, vocab_size: int, stop_token_ids: Sequence[int], thinking: bool
) -> OutputConstraint:
    vocab = _vocab(tokenizer, vocab_size, stop_token_ids)
    compiled = compile_output_format(vocab.compiler, output_format)
    start_after = None
    if thinking:
        think_close = tokenizer.convert_tokens_to_ids(THINK_CLOSE_TOKEN)
        # A template without a single-token </think> gets a constraint from the first token on.
        if isinstance(think_close, int) and think_close != tokenizer.unk_token_id:
            start_after = think_close
    return OutputConstraint(compiled, start_after, vocab.printable)


class GrammarLogitsProcessor(LogitsProcessor):
    """Masks the logits of each batch row to what its constraint allows next.

    transformers calls logits processors before sampling and stopping criteria after, both with all ids so
    far; `catch_up` feeds each constraint the ids it has not seen, so either hook may run first. One instance
    per `generate` call (constraints are stateful).
    """

    def __init__(self, constraints: Sequence[OutputConstraint], prompt_len: int):
        self.constraints = list(constraints)
        self.prompt_len = prompt_len
        self._seen = [0] * len(self.constraints)  # generated ids already fed to each constraint
        self._bitmask: torch.Tensor | None = None

    def catch_up(self, input_ids: torch.LongTensor) -> None:
        generated = input_ids[:, self.prompt_len :]
        for row, constraint in enumerate(self.constraints):
            for token_id in generated[row, self._seen[row] :].tolist():
                if constraint.is_terminated():
                    break  # finished rows are padded by generate; the padding is not output
                if not constraint.accept(token_id):
                    raise RuntimeError(f"constrained decoding: token {token_id} was generated against the grammar")
            self._seen[row] = generated.shape[1]

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        self.catch_up(input_ids)
        if self._bitmask is None:
            self._bitmask = xgr.allocate_token_bitmask(len(self.constraints), scores.shape[-1])
        rows = [row for row, c in enumerate(self.constraints) if c.fill(self._bitmask, row)]
        if rows:
            xgr.apply_token_bitmask_inplace(scores, self._bitmask.to(scores.device), indices=rows)
        return scores


class GrammarStoppingCriteria(StoppingCriteria):
    """Ends a row once its grammar has terminated (complete JSON, then a stop token)."""

    def __init__(self, processor: GrammarLogitsProcessor):
        self.processor = processor

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor, **kwargs: Any) -> torch.BoolTensor:
        self.processor.catch_up(input_ids)
        done = [c.is_terminated() for c in self.processor.constraints]
        return torch.tensor(done, dtype=torch.bool, device=input_ids.device)


def constrained_decoding(
    tokenizer: Any,
    output_format: OutputFormat,
    vocab_size: int,
    stop_token_ids: Sequence[int],
    prompt_len: int,
    thinking: bool = False,
) -> tuple[GrammarLogitsProcessor, GrammarStoppingCriteria]:
    """The two hooks a single-request `generate` call needs for `output_format`."""
    constraint = new_constraint(tokenizer, output_format, vocab_size, stop_token_ids, thinking)
    processor = GrammarLogitsProcessor([constraint], prompt_len)
    return processor, GrammarStoppingCriteria(processor)
