"""The built-in model's sizes and picture budget: what the recipe builds and what its card states."""

from __future__ import annotations

from vreason.models.scratch import ScratchSizes

# Every image is resized to about 256x256 (64 visual tokens). At 128x128 (16 tokens) the model learned
# colours but stayed at chance on shapes (easy-VQA shape questions: 0.61 after 300 steps, against 0.92 at
# 256x256 with the same steps and learning rate).
DEMO_MIN_PIXELS = 256 * 256
DEMO_MAX_PIXELS = 256 * 256
DEMO_SIZES = ScratchSizes(
    text_hidden=256, text_layers=4, text_heads=4, text_kv_heads=2, head_dim=64, text_intermediate=768,
    vision_depth=3, vision_hidden=128, vision_heads=4, vision_intermediate=512, vision_positions=256,
    deepstack_indexes=(1,), max_positions=4096, tie_embeddings=True,
)
