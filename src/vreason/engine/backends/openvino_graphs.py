"""The torch modules `openvino.convert_model` traces for an OpenVINO export (engine/backends/openvino_export.py).

Each wraps the checkpoint's own transformers modules (no weights copied or rewritten) and takes as inputs
what depends on data in ways a traced graph cannot follow (grids, prompt layouts), computed by the caller with
transformers' own functions: the vision tower's position interpolation and rotary positions, and the
language model's M-RoPE positions. Batch size is one: the backend runs one sequence per infer request.

- `VisionGraph`: one image (or one video frame pair) is one attention segment, so the tower's blocks run
  full attention over its patches (transformers splits by `cu_seqlens` with a host-side `.tolist()` that a
  trace would freeze at the example's size); the block's layers are the checkpoint's own.
- `LanguageGraph`: the text decoder layers over past keys and values given as inputs (made state by the
  export), a causal mask over past + new positions, the DeepStack features added after the first layers
  as a dense tensor (zeros away from visual tokens: a trace cannot follow a boolean scatter), and the
  output projection of the last position only.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from transformers.models.qwen3_vl.modeling_qwen3_vl import apply_rotary_pos_emb_vision


class VisionGraph(nn.Module):
    def __init__(self, visual: Any):
        super().__init__()
        self.visual = visual
        self.deepstack = list(visual.deepstack_visual_indexes)

    def forward(
        self,
        pixel_values: torch.Tensor,
        interp_indices: torch.Tensor,
        interp_weights: torch.Tensor,
        rotary_positions: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        visual = self.visual
        hidden = visual.patch_embed(pixel_values)
        hidden = hidden + (visual.pos_embed(interp_indices) * interp_weights[:, :, None]).sum(1)
        cos, sin = visual.rotary_pos_emb(hidden, rotary_positions)
        features = []
        for index, block in enumerate(visual.blocks):
            hidden = _full_attention_block(block, hidden, cos, sin)
            if index in self.deepstack:
                features.append(visual.deepstack_merger_list[self.deepstack.index(index)](hidden))
        merged = visual.merger(hidden)
        deep = torch.stack(features) if features else torch.zeros_like(merged)[None]
        return merged, deep


def _full_attention_block(block: Any, hidden: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """`Qwen3VLVisionBlock.forward` for one attention segment (the block's own layers)."""
    attn = block.attn
    x = block.norm1(hidden)
    n = x.shape[0]
    q, k, v = attn.qkv(x).reshape(n, 3, attn.num_heads, -1).permute(1, 0, 2, 3).unbind(0)
    q, k = apply_rotary_pos_emb_vision(q, k, cos, sin)
    q, k, v = (t.transpose(0, 1).unsqueeze(0) for t in (q, k, v))
    out = F.scaled_dot_product_attention(q, k, v, scale=attn.scaling)
    out = out.squeeze(0).transpose(0, 1).reshape(n, -1)
    hidden = hidden + attn.proj(out)
    return hidden + block.mlp(block.norm2(hidden))


class EmbeddingGraph(nn.Module):
    def __init__(self, embed: nn.Embedding):
        super().__init__()
        self.embed = embed

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        return self.embed(input_ids)


class _TracedCache:
    """What a transformers attention layer calls on its cache (`update`), over past tensors given as inputs:
    the new keys and values are appended and kept as the graph's outputs."""

    def __init__(self, past: tuple[torch.Tensor, ...]):
        self.past = past
        self.present: list[torch.Tensor] = list(past)

    def update(self, key: torch.Tensor, value: torch.Tensor, layer_idx: int, *args: Any, **kwargs: Any):
        key = torch.cat([self.past[2 * layer_idx], key], dim=2)
        value = torch.cat([self.past[2 * layer_idx + 1], value], dim=2)
        self.present[2 * layer_idx], self.present[2 * layer_idx + 1] = key, value
        return key, value


class LanguageGraph(nn.Module):
    def __init__(self, language_model: Any, lm_head: nn.Linear, deepstack_layers: int):
        super().__init__()
        self.lm = language_model
        self.head = lm_head
        self.deepstack_layers = deepstack_layers

    def forward(
        self,
        inputs_embeds: torch.Tensor,
        position_ids: torch.Tensor,
        deepstack_embeds: torch.Tensor,
        *past: torch.Tensor,
    ) -> tuple[torch.Tensor, ...]:
        cache = _TracedCache(past)
        new = inputs_embeds.shape[1]
        seen = past[0].shape[2]
        query_pos = torch.arange(new) + seen
        key_pos = torch.arange(seen + new)
        mask = (key_pos[None, :] <= query_pos[:, None])[None, None]  # (1, 1, new, seen + new): True = attend
        position_embeddings = self.lm.rotary_emb(inputs_embeds, position_ids)
        hidden = inputs_embeds
        for index, layer in enumerate(self.lm.layers):
            hidden = layer(hidden, position_embeddings=position_embeddings, attention_mask=mask, cache=cache)
            if index < self.deepstack_layers:
                hidden = hidden + deepstack_embeds[index]
        logits = self.head(self.lm.norm(hidden[:, -1:, :]))
        return (logits, *cache.present)
