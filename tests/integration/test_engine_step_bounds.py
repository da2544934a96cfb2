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
