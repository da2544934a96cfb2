"""How many bytes the engine's reuse caches may hold, from what one token costs in the loaded model.

The caches keep work for later: the KV of finished requests (prefix cache, for follow-up questions) and image
features (vision cache, for an image asked about again). What they are worth is counted in tokens, what they
cost in bytes, and the byte cost of a token differs 70-fold between models: 512 MiB holds 262,144 tokens of KV
for a 4-layer test model and 3,600 for Qwen3-VL-8B. So each cache is sized in tokens (`PREFIX_CACHE_TOKENS`,
`VISION_CACHE_TOKENS`) times the model's own bytes per token, never above the ceiling it is given (the
engine's fixed defaults): a large model keeps today's budgets, a small one stops holding memory it cannot use
(a tiny model's 768 MiB of cache ceilings were half of its server's peak RSS under load).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# KV kept for follow-ups: about 80 conversations with one 1024x768 image, or 16 full 4K-token chats.
PREFIX_CACHE_TOKENS = 65_536
# Image features kept for reuse: about 85 images of 1024x768 (768 visual tokens each).
VISION_CACHE_TOKENS = 65_536


@dataclass(frozen=True)
class CacheBudgets:
    prefix_bytes: int
    vision_bytes: int


def kv_bytes_per_token(config: Any, dtype_bytes: int) -> int:
    """Keys and values of one token over every decoder layer."""
    text = config.get_text_config()
    head_dim = getattr(text, "head_dim", None) or text.hidden_size // text.num_attention_heads
    kv_heads = getattr(text, "num_key_value_heads", None) or text.num_attention_heads
    return 2 * text.num_hidden_layers * kv_heads * head_dim * dtype_bytes


def vision_bytes_per_token(config: Any, dtype_bytes: int) -> int:
    """One visual token's features: its embedding plus one per deepstack layer."""
    text = config.get_text_config()
    vision = getattr(config, "vision_config", None)
    width = getattr(vision, "out_hidden_size", None) or text.hidden_size
    deepstack = len(getattr(vision, "deepstack_visual_indexes", None) or ())
    return (1 + deepstack) * width * dtype_bytes


def cache_budgets(config: Any, dtype_bytes: int, prefix_ceiling: int, vision_ceiling: int) -> CacheBudgets:
    return CacheBudgets(
        prefix_bytes=min(prefix_ceiling, PREFIX_CACHE_TOKENS * kv_bytes_per_token(config, dtype_bytes)),
        vision_bytes=min(vision_ceiling, VISION_CACHE_TOKENS * vision_bytes_per_token(config, dtype_bytes)),
    )
