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
from vreason.engine.image_patches import PatchBytes
from vreason.engine.interface import GenerationRequest
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
