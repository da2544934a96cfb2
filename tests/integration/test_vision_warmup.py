"""The vision warm-up on the tiny random Qwen3-VL: it learns, it touches only the vision tower, and what it
writes is a checkpoint like any other."""

from __future__ import annotations

import itertools

import pytest
import torch
from safetensors.torch import load_file

from vreason.train.demo_data import WARMUP_ATTRIBUTES, warmup_samples
from vreason.train.vision_warmup import WarmupConfig, warm_up_vision

pytestmark = pytest.mark.slow


def test_warm_up_trains_the_vision_tower_only(compact_model_dir, tmp_path):
    pictures = list(itertools.islice(warmup_samples(seed=5), 4))
    # the same four pictures over and over, after 4 held out: the loss must fall
    stream = itertools.chain(pictures, itertools.cycle(pictures))
    result = warm_up_vision(compact_model_dir, tmp_path / "warm", stream, WARMUP_ATTRIBUTES,
                            config=WarmupConfig(steps=15, batch_size=4, learning_rate=3e-3, eval_samples=4,
                                                position_bins=4))
    assert result.steps == 15
    assert result.final_loss < result.first_loss * 0.7
    assert set(result.object_accuracy) == {"shape"}  # pooled per object
    assert set(result.token_accuracy) == {"shape", "color", "row", "column"}  # row, column: where each token is
    assert all(0.0 <= v <= 1.0 for v in (*result.object_accuracy.values(), *result.token_accuracy.values()))

    before = load_file(compact_model_dir / "model.safetensors")
    after = load_file(tmp_path / "warm" / "model.safetensors")
    assert before.keys() == after.keys()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed
    assert all("visual" in k for k in changed)
    assert any("patch_embed" in k for k in changed)

    from vreason import VReason

    answer = VReason(str(tmp_path / "warm")).ask(pictures[0][0], "What is it?", max_new_tokens=3)
    assert answer.usage.completion_tokens >= 1
