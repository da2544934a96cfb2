"""Qwen3-VL's text decoder in plain torch, with the module surface the engine drives.

Contract: `TextDecoder(config)` has the parameters of transformers' `Qwen3VLTextModel` under the same names
(`embed_tokens`, `layers.N.{input_layernorm,self_attn.{q,k,v,o}_proj,self_attn.{q,k}_norm,
post_attention_layernorm,mlp.{gate,up,down}_proj}`, `norm`), and the calls engine/batch_runner.py makes on a
transformers decoder, with the same results:
- `rotary_emb(hidden, positions (3, batch, seq))` -> (cos, sin) of the interleaved multimodal rope;
- `layers[i](hidden, position_embeddings=, attention_mask=, cache=)` -> hidden, where `cache` duck-types
  transformers' Cache (`update(k, v, layer_idx)` returns the keys and values to attend over) and a missing
  mask means causal over the new tokens (transformers' sdpa path);
- `_deepstack_process(hidden, visual_mask, features)` adds a deepstack layer's features at the visual positions;
- `norm`, and the attributes engine/decode_step.py reads to build its fused step over the same weights
  (`variance_epsilon`, `scaling`, `act_fn`, `rotary_emb.inv_freq`, ...).
Each op matches transformers' Qwen3-VL text code op for op (float32 RMSNorm statistics, rotate_half rope), so the
engine's greedy output is the same token for token (tests/integration/test_native_model.py).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F  # noqa: N812 (torch's own name)
from torch import nn

from vreason.models.native.config import TextConfig
from vreason.models.native.vision import activation, rotate_half


class RMSNorm(nn.Module):
    def __init__(self, size: int, eps: float):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(size))
        self.variance_epsilon = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dtype = x.dtype
        x = x.to(torch.float32)
        x = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.variance_epsilon)
        return self.weight * x.to(dtype)


class MultimodalRotary(nn.Module):
    """Qwen3-VL's M-RoPE: frequency i of a head takes the time position, except every third one from 1 (height)
    and from 2 (width) within the first 3 * section entries (the interleaved layout)."""

    rope_type = "default"
    attention_scaling = 1.0

    def __init__(self, config: TextConfig):
        super().__init__()
        self.register_buffer("inv_freq", self.rope_inv_freq(config), persistent=False)
        self.mrope_section = config.mrope_section

    @staticmethod
    def rope_inv_freq(config: TextConfig) -> torch.Tensor:
        dim = config.head_dim
        steps = torch.arange(0, dim, 2, dtype=torch.float, device="cpu")  # not on meta: see vision.py
        return 1.0 / (config.rope_theta ** (steps / dim))

    def forward(self, x: torch.Tensor, position_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        position_ids = position_ids.expand(3, -1, -1)
        freqs = position_ids[..., None].float() * self.inv_freq.to(device=x.device, dtype=torch.float)
        cos, sin = self._interleave(freqs.cos()), self._interleave(freqs.sin())
        return cos.to(x.dtype), sin.to(x.dtype)

    def _interleave(self, freq: torch.Tensor) -> torch.Tensor:
        out = freq[0]
        for axis, offset in ((1, 1), (2, 2)):
            picked = slice(offset, self.mrope_section[axis] * 3, 3)
            out[..., picked] = freq[axis, ..., picked]
        return torch.cat((out, out), dim=-1)


class Attention(nn.Module):
    def __init__(self, config: TextConfig, layer_idx: int):
        super().__init__()
        self.layer_idx = layer_idx
        self.head_dim = config.head_dim
        self.num_key_value_groups = config.num_attention_heads // config.num_key_value_heads
        self.scaling = self.head_dim**-0.5
        hidden, heads, kv = config.hidden_size, config.num_attention_heads, config.num_key_value_heads
        self.q_proj = nn.Linear(hidden, heads * self.head_dim, bias=False)
        self.k_proj = nn.Linear(hidden, kv * self.head_dim, bias=False)
        self.v_proj = nn.Linear(hidden, kv * self.head_dim, bias=False)
        self.o_proj = nn.Linear(heads * self.head_dim, hidden, bias=False)
        self.q_norm = RMSNorm(self.head_dim, config.rms_norm_eps)
        self.k_norm = RMSNorm(self.head_dim, config.rms_norm_eps)

    def forward(self, x, position_embeddings, attention_mask=None, cache=None) -> torch.Tensor:
        shape = x.shape[:-1]
        q = self.q_norm(self.q_proj(x).view(*shape, -1, self.head_dim)).transpose(1, 2)
        k = self.k_norm(self.k_proj(x).view(*shape, -1, self.head_dim)).transpose(1, 2)
        v = self.v_proj(x).view(*shape, -1, self.head_dim).transpose(1, 2)
        cos, sin = (t.unsqueeze(1) for t in position_embeddings)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        if cache is not None:
            k, v = cache.update(k, v, self.layer_idx)
        return self.o_proj(self._attend(q, k, v, attention_mask).reshape(*shape, -1))

    def _attend(self, q, k, v, mask) -> torch.Tensor:
        """transformers' sdpa_attention_forward on CPU, branch for branch (the same kernels, the same numbers):
        grouped-query attention by `enable_gqa` without a mask, by packing the query heads for one new token,
        else by repeating K and V; causal when no mask is given and there is more than one new token."""
        rep, length = self.num_key_value_groups, q.shape[2]
        gqa = False
        if rep > 1 and mask is None and k.shape[-1] <= 256:
            gqa = True
        elif rep > 1 and length == 1:
            batch, heads, _, dim = q.shape
            out = F.scaled_dot_product_attention(
                q.reshape(batch, heads // rep, rep, dim), k, v, attn_mask=mask, scale=self.scaling
            )
            return out.reshape(batch, heads, 1, dim).transpose(1, 2)
        elif rep > 1:
            k = k.repeat_interleave(rep, dim=1)
            v = v.repeat_interleave(rep, dim=1)
        causal = mask is None and length > 1
        if causal and k.shape[2] > length:  # keys beyond the queries are masked anyway
            k, v = k[:, :, :length], v[:, :, :length]
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=causal, scale=self.scaling,
                                             enable_gqa=gqa)
        return out.transpose(1, 2)


class MLP(nn.Module):
    def __init__(self, config: TextConfig):
        super().__init__()
        self.gate_proj = nn.Linear(config.hidden_size, config.intermediate_size, bias=False)
        self.up_proj = nn.Linear(config.hidden_size, config.intermediate_size, bias=False)
        self.down_proj = nn.Linear(config.intermediate_size, config.hidden_size, bias=False)
        self.act_fn = activation(config.hidden_act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down_proj(self.act_fn(self.gate_proj(x)) * self.up_proj(x))


class DecoderLayer(nn.Module):
    def __init__(self, config: TextConfig, layer_idx: int):
        super().__init__()
        self.self_attn = Attention(config, layer_idx)
        self.mlp = MLP(config)
        self.input_layernorm = RMSNorm(config.hidden_size, config.rms_norm_eps)
        self.post_attention_layernorm = RMSNorm(config.hidden_size, config.rms_norm_eps)

    def forward(self, hidden_states, position_embeddings, attention_mask=None, cache=None, **_):
        hidden = hidden_states + self.self_attn(
            self.input_layernorm(hidden_states), position_embeddings, attention_mask, cache
        )
        return hidden + self.mlp(self.post_attention_layernorm(hidden))


class TextDecoder(nn.Module):
    def __init__(self, config: TextConfig):
        super().__init__()
        self.config = config
        self.embed_tokens = _embedding(config.vocab_size, config.hidden_size, config.pad_token_id)
        self.layers = nn.ModuleList(DecoderLayer(config, i) for i in range(config.num_hidden_layers))
        self.norm = RMSNorm(config.hidden_size, config.rms_norm_eps)
        self.rotary_emb = MultimodalRotary(config)

    def _deepstack_process(self, hidden: torch.Tensor, visual_mask: torch.Tensor, features: torch.Tensor):
        hidden = hidden.clone()
        hidden[visual_mask, :] = hidden[visual_mask, :] + features.to(hidden.device, hidden.dtype)
        return hidden


def _embedding(rows: int, width: int, padding_idx: int | None = None) -> nn.Embedding:
    """An embedding table left uninitialised: the checkpoint's weights replace it. (Its default init, `normal_`,
    on the meta device the model is built on runs through torch's Python references, which import
    torch._dynamo: ~1 s of CPU at start-up for numbers nobody reads.)"""
    return nn.Embedding(rows, width, padding_idx, _weight=torch.empty(rows, width))
