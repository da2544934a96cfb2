"""A prefill split into bounded forward passes gives the oracle's tokens: rows sorted by prompt length and grouped
under `prefill_positions`, images through the vision tower under `vision_patches`, prepared patches kept as bytes
until then (engine/batch_runner.py, engine/image_patches.py). Tiny random Qwen3-VL, fp32, greedy."""

from __future__ import annotations

import pytest
import torch

from tests.integration.test_engine_oracle import (  # noqa: F401 (fp32: the oracle's fixture, used here too)
    NEW_TOKENS,
    conversations,
    fp32,
    noise,
    reference,
)
from vreason.engine.batch_runner import BatchRunner
from vreason.engine.caches import VisionCache
from vreason.engine.image_patches import PatchBytes
from vreason.engine.interface import GenerationRequest
from vreason.engine.request import RequestState
from vreason.engine.sampling import GREEDY
from vreason.engine.types import Message
from vreason.media_step import MediaResolver

pytestmark = pytest.mark.slow


def test_one_row_and_one_image_per_forward_pass_matches_generate_alone(fp32):  # noqa: F811 (the fixture)
    runner = fp32.engine.core.runner
    convs = conversations()
    expected = [reference(fp32, c) for c in convs]
    bounds = runner.prefill_positions, runner.vision_patches
    runner.prefill_positions, runner.vision_patches = 1, 1  # every row and every image in a pass of its own
    try:
        answers = fp32.chat_many(convs, temperature=0, presence_penalty=0, max_new_tokens=NEW_TOKENS)
    finally:
        runner.prefill_positions, runner.vision_patches = bounds
    assert [a.token_ids for a in answers] == expected


def test_prepared_images_wait_as_bytes_and_give_the_float_rows(fp32):  # noqa: F811 (the fixture)
    messages = [Message.user("What differs?", [noise(96, 160, 21), noise(200, 120, 22)])]  # not seen before
    _, inputs = fp32.engine.prepare(GenerationRequest(MediaResolver().resolve(messages), GREEDY))
    assert len(inputs.images) == 2
    for slot in inputs.images:
        assert isinstance(slot.patches, PatchBytes)
        rows = slot.pixel_values
        assert rows.dtype == torch.float32
        assert rows.shape[0] == slot.num_patches
        assert slot.patches.grouped.nbytes * 8 == rows.nbytes  # bytes of one temporal slot: an eighth of float32's
    # the runner makes the rows in place in a vision pass's input: each at its own offset, nothing else touched
    counts = [slot.num_patches for slot in inputs.images]
    buffer = torch.full((sum(counts) + 2, inputs.images[0].row_width), float("nan"))
    offset = 1
    for slot, count in zip(inputs.images, counts, strict=True):
        slot.pixels_into(buffer[offset : offset + count])
        assert torch.equal(buffer[offset : offset + count], slot.pixel_values)
        offset += count
    assert buffer[0].isnan().all()
    assert buffer[-1].isnan().all()


def test_a_reused_prefix_beside_a_longer_new_prompt_fits_its_padding_columns(fp32):  # noqa: F811 (the fixture)
    # A row that starts at a reused prefix of m columns, in a pass padded to a longer new prompt of `span` tokens,
    # writes up to column m + span - 1: the KV slots must have those columns, not only m + its own new tokens.
    engine = fp32.engine
    runner = BatchRunner(engine.loaded.model, VisionCache(1 << 20))  # fresh, small KV slots (256 columns)

    def state(name: str, text: str) -> RequestState:
        _, inputs = engine.prepare(GenerationRequest(MediaResolver().resolve([Message.user(text)]), GREEDY))
        return RequestState(name, inputs.token_ids, GREEDY, inputs)

    long_text, other_text = "a " * 200 + "summarise", "b " * 120 + "count"
    (first,) = runner.prefill([state("first", long_text)])
    payload = runner.release("first", keep=True)
    alone = BatchRunner(engine.loaded.model, VisionCache(1 << 20)).prefill([state("other", other_text)])
    again, other = state("again", long_text), state("other", other_text)
    again.num_cached_tokens, again.cached_prefix = again.prompt_len - 1, payload
    assert again.num_cached_tokens + other.prompt_len > 256  # past the columns its own tokens need
    assert runner.prefill([again, other]) == [first, *alone]


def _prepared(engine, name: str, messages: list[Message]) -> RequestState:
    _, inputs = engine.prepare(GenerationRequest(MediaResolver().resolve(messages), GREEDY))
    return RequestState(name, inputs.token_ids, GREEDY, inputs)


def _row_kv(runner: BatchRunner, row: int, length: int) -> list[torch.Tensor]:
    return [store[row, :, :length] for layers in (runner.slots.keys, runner.slots.values) for store in layers]


def _watch(runner: BatchRunner, by_index: bool = False) -> list[tuple[int | None, bool]]:
    """Record each forward pass's (start given to the KV writer, whether the layers got a mask tensor); with
    `by_index`, the writer gets no start, so it writes by index tensors as a pass of mixed starts does."""
    passes: list[tuple[int | None, bool]] = []
    view = runner.slots.view

    def watched_view(first_row, columns, width, start=None):
        start = None if by_index else start
        passes.append((start, False))
        return view(first_row, columns, width, start)

    def hook(module, args, kwargs):
        passes[-1] = (passes[-1][0], kwargs.get("attention_mask") is not None)

    runner.slots.view = watched_view  # type: ignore[method-assign]
    runner.lm.layers[0].register_forward_pre_hook(hook, with_kwargs=True)
    return passes


def test_rows_without_a_prefix_in_one_pass_take_the_causal_path_and_match_the_mask(fp32):  # noqa: F811 (the fixture)
    # Rows of different lengths (images, padding) starting at column 0: SDPA's causal path with no mask tensor and
    # the KV written as one slice; the padded tail of a short row lies after all of its queries. The reference is
    # the same pass with the mask spelled out and the KV written by index (how a pass of mixed starts runs).
    engine = fp32.engine
    convs = conversations()
    runs = {}
    for fast in (True, False):
        runner = BatchRunner(engine.loaded.model, VisionCache(1 << 20))
        runner.causal_fast_path = fast
        passes = _watch(runner, by_index=not fast)
        states = [_prepared(engine, f"r{i}", c) for i, c in enumerate(convs)]
        assert len({s.prompt_len for s in states}) == len(states)  # every row padded but the longest
        tokens = runner.prefill(states)
        assert passes == ([(0, False)] if fast else [(None, True)])  # one pass: causal and by slice, or the reference
        runs[fast] = tokens, [_row_kv(runner, r.row, r.length) for r in runner.rows]
    (fast_tokens, fast_kv), (masked_tokens, masked_kv) = runs[True], runs[False]
    assert fast_tokens == masked_tokens
    for fast_row, masked_row in zip(fast_kv, masked_kv, strict=True):
        for a, b in zip(fast_row, masked_row, strict=True):
            assert torch.equal(a, b)  # the same bits: a masked-out key adds exactly nothing
    # and each row's first token is the one it gets alone (alone it is not padded: the last bits may differ)
    alone = [BatchRunner(engine.loaded.model, VisionCache(1 << 20)).prefill([_prepared(engine, "x", c)]) for c in convs]
    assert fast_tokens == [t for (t,) in alone]


def test_rows_after_the_same_reused_prefix_write_their_kv_by_slice(fp32):  # noqa: F811 (the fixture)
    # Two rows that both start at column m (a prefix reused from the cache): one slice write for the pair, with
    # the mask; the result is each prompt's own, prefilled from scratch.
    engine = fp32.engine
    texts = ["a " * 200 + "summarise", "a " * 200 + "count the words, please"]
    runner = BatchRunner(engine.loaded.model, VisionCache(1 << 20))
    runner.prefill([_prepared(engine, "first", [Message.user(texts[0])])])
    payload = runner.release("first", keep=True)
    states = [_prepared(engine, f"r{i}", [Message.user(t)]) for i, t in enumerate(texts)]
    shared = 150  # inside the run of "a ": the same tokens in both prompts
    assert states[0].prompt_ids[:shared] == states[1].prompt_ids[:shared]
    for s in states:
        s.num_cached_tokens, s.cached_prefix = shared, payload
    passes = _watch(runner)
    tokens = runner.prefill(states)
    assert passes == [(shared, True)]  # one pass, written by slice from column m, with the mask
    kv = [_row_kv(runner, r.row, r.length) for r in runner.rows]
    for state, text, got_token, got_kv in zip(states, texts, tokens, kv, strict=True):
        fresh = BatchRunner(engine.loaded.model, VisionCache(1 << 20))
        assert fresh.prefill([_prepared(engine, "x", [Message.user(text)])]) == [got_token]
        for a, b in zip(got_kv, _row_kv(fresh, 0, state.prompt_len), strict=True):
            torch.testing.assert_close(a, b, rtol=0, atol=1e-5)


def test_fresh_rows_and_rows_after_a_prefix_get_passes_of_their_own(fp32):  # noqa: F811 (the fixture)
    # A prefill of fresh rows beside a row after a reused prefix: the fresh rows keep the causal path (one pass),
    # the other row its own masked pass; each first token is its prompt's from scratch.
    engine = fp32.engine
    long_text = "a " * 200 + "summarise"
    runner = BatchRunner(engine.loaded.model, VisionCache(1 << 20))
    (first,) = runner.prefill([_prepared(engine, "first", [Message.user(long_text)])])
    payload = runner.release("first", keep=True)
    again = _prepared(engine, "again", [Message.user(long_text)])
    again.num_cached_tokens, again.cached_prefix = again.prompt_len - 1, payload
    convs = conversations()[:3]
    passes = _watch(runner)
    tokens = runner.prefill([again, *(_prepared(engine, f"r{i}", c) for i, c in enumerate(convs))])
    assert passes == [(0, False), (again.prompt_len - 1, True)]
    alone = [BatchRunner(engine.loaded.model, VisionCache(1 << 20)).prefill([_prepared(engine, "x", c)]) for c in convs]
    assert tokens == [first, *(t for (t,) in alone)]
