"""engine/video_patches.py against transformers' Qwen3-VL video processor: the same rows, bit for bit, for clips of
several sizes and frame counts (an odd count repeats the last frame), from the real processor's settings and
from vreason's own processor's (models/native)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vreason.engine.video_patches import VideoPatchSpec


@pytest.fixture(scope="module")
def processors(compact_model_dir):
    from transformers import AutoProcessor

    from vreason.models.native.processor import NativeProcessor

    source = str(compact_model_dir)
    return AutoProcessor.from_pretrained(source), NativeProcessor.from_pretrained(source)


@pytest.mark.parametrize(("frames", "height", "width"), [(2, 64, 96), (4, 32, 32), (3, 96, 64), (1, 64, 64)])
def test_rows_are_the_video_processors(processors, frames, height, width):
    hf, native = processors
    clip = np.random.default_rng(frames * height).integers(0, 256, (frames, height, width, 3), dtype=np.uint8)
    want = hf.video_processor(videos=[clip], do_sample_frames=False, do_resize=False, cap_pixels_per_frame=True,
                              return_tensors="pt")
    for processor in (hf, native):
        spec = VideoPatchSpec.from_processor(processor.video_processor)
        assert spec is not None
        rows, grid = spec.video_patches(clip)
        assert list(grid) == want["video_grid_thw"][0].tolist()
        assert torch.equal(rows, want["pixel_values_videos"])


def test_processors_it_does_not_reproduce_are_left_to_themselves(processors):
    hf, _ = processors

    class Other:  # another processor class: its own preprocessing may differ
        do_rescale = do_normalize = True

    assert VideoPatchSpec.from_processor(Other()) is None
    settings = hf.video_processor
    settings.do_normalize = False
    try:
        assert VideoPatchSpec.from_processor(settings) is None
    finally:
        settings.do_normalize = True
