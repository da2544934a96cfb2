"""The decode step over the checkpoint's own weights: one new token for every running row, in few ops.

Apart from the output head (hidden x 152k vocabulary: arithmetic and memory traffic, half or more of a step
of the tiny benchmark model; engine/output_head.py runs it), a decode step of a small model on CPU is bound
by per-op overhead: the transformers decoder layers spend ~60 ops per layer (RMSNorm in six, rotary through
`rotate_half`'s slices and cat, a mask per step, the cache's advanced-indexing writes) and a Python module call
chain around them.
This path computes the same decoder with the same weights (no copies) in ~30 ops per layer:

- step inputs once per step (shared by all layers): token ids, KV columns and rope positions in one tensor,
  the rotary cos/sin, the attention mask (none at batch 1) and the flat index of each row's new KV column;
- q and k heads side by side through one RMSNorm and one rotary, `q*cos + roll(q)*sin` with the sign
  folded into sin (bitwise equal to `rotate_half`);
- the KV write as one `index_copy_` per layer and tensor into the flat cache buffer;
- attention through `scaled_dot_product_attention` with the query heads of each KV head packed as that
  head's queries (grouped-query attention without repeating K and V), reading the rows' cache in place.

Greedy output stays token-identical to `model.generate` (tests/integration/test_engine_oracle.py). The path is
used only for the decoder it knows (Qwen3-VL's text model: plain `nn.Linear` projections without bias, default
rope); anything else (adapter-wrapped or bitsandbytes layers, other rope types) keeps the transformers layers.
torchao's int8/int4 weights (`--quantize int8|int4`, models/quantize.py) keep `nn.Linear` and only swap the weight
tensor, so `F.linear` here dispatches to the quantized kernel: the same ops as the transformers layers over it.
`VREASON_DECODE=transformers` forces the transformers layers (benchmarks compare the two in one run).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.nn.functional as F  # noqa: N812 (torch's own name)

from vreason.engine.kv_slots import KVSlots
from vreason.engine.output_head import OutputHead


@dataclass(frozen=True)
class _Layer:
    input_norm: torch.Tensor
    q: torch.Tensor
    k: torch.Tensor
    v: torch.Tensor
    qk_norm: torch.Tensor  # (q heads + kv heads, head_dim): q_norm's weight per query head, k_norm's per KV head
    o: torch.Tensor
    post_norm: torch.Tensor
    gate: torch.Tensor
    up: torch.Tensor
    down: torch.Tensor
    act: object


def enabled() -> bool:
    return os.environ.get("VREASON_DECODE", "fast") != "transformers"


class DecodeStep:
    """Callable: (token ids, KV columns, rope positions) per row -> float32 logits (rows, vocab), having written
    each row's new K/V at its column. The logits are valid until the next step (the output head's buffer).
    Rows are 0..n-1 of `slots`; columns must fit (`slots.ensure` first)."""

    def __init__(self, lm, head: OutputHead, slots: KVSlots):
        self.embed = lm.embed_tokens.weight
        self.final_norm = lm.norm.weight
        self.eps = float(lm.norm.variance_epsilon)
        self.head_dim = slots.head_dim
        self.kv_heads = slots.kv_heads
        attn = lm.layers[0].self_attn
        self.q_heads = attn.q_proj.weight.shape[0] // self.head_dim
        self.scaling = float(attn.scaling)
        rotary = lm.rotary_emb
        self.inv_freq = rotary.inv_freq.float()
        self.rope_scaling = float(rotary.attention_scaling)
        self.head = head
        self.slots = slots
        self.layers = [
            _Layer(
                input_norm=layer.input_layernorm.weight,
                q=layer.self_attn.q_proj.weight,
                k=layer.self_attn.k_proj.weight,
                v=layer.self_attn.v_proj.weight,
                qk_norm=torch.cat(
                    (
                        layer.self_attn.q_norm.weight.detach().expand(self.q_heads, -1),
                        layer.self_attn.k_norm.weight.detach().expand(self.kv_heads, -1),
                    )
                ),
                o=layer.self_attn.o_proj.weight,
                post_norm=layer.post_attention_layernorm.weight,
                gate=layer.mlp.gate_proj.weight,
                up=layer.mlp.up_proj.weight,
                down=layer.mlp.down_proj.weight,
                act=layer.mlp.act_fn,
            )
            for layer in lm.layers
        ]

    @classmethod
    def build(cls, lm, head: OutputHead, slots: KVSlots) -> DecodeStep | None:
        """The fast step for this decoder, or None when it is not one this path computes exactly."""
        if not enabled() or not supported(lm, head.lm_head):
            return None
        return cls(lm, head, slots)

    @torch.inference_mode()
    def __call__(self, tokens: list[int], columns: list[int], positions: list[int]) -> torch.Tensor:
        step = torch.tensor([tokens, columns, positions], dtype=torch.long).to(self.embed.device, non_blocking=True)
        # At batch 1 every column up to the new one is the row's own: no mask at all.
        return self.forward(step, max(columns) + 1, masked=len(tokens) > 1)

    def forward(self, step: torch.Tensor, width: int, masked: bool) -> torch.Tensor:
        """The step over device inputs: `step` (3, rows) holds token ids, KV columns and rope positions; attention
        reads columns [0, width), with `masked` each row only up to its own new column. No host reads: a CUDA
        graph captures it as it is (engine/cuda_graphs.py)."""
        batch = step.shape[1]
        device = step.device
        ids, cols, pos = step[0], step[1], step[2]
        hidden = F.embedding(ids, self.embed)  # (batch, hidden)
        cos, sin = self._rotary(pos, hidden.dtype)
        mask = None
        if masked:
            mask = (torch.arange(width, device=device)[None, :] <= cols[:, None]).view(batch, 1, 1, width)
        # Flat index (row, kv head) -> row * heads * C + head * C + column into a layer's (R, heads, C, dim) buffer.
        c = self.slots.columns
        heads = torch.arange(self.kv_heads, device=device)
        where = (torch.arange(batch, device=device)[:, None] * self.kv_heads + heads[None, :]) * c + cols[:, None]
        where = where.view(-1)
        rep = self.q_heads // self.kv_heads
        dim, eps = self.head_dim, self.eps
        for index, w in enumerate(self.layers):
            x = _rms_norm(hidden, w.input_norm, eps)
            # q and k heads side by side: one norm and one rotary for both (per-head weights, same values)
            qk = torch.cat((F.linear(x, w.q), F.linear(x, w.k)), dim=-1).view(batch, -1, dim)
            qk = _rms_norm(qk, w.qk_norm, eps)
            qk = qk * cos + qk.roll(dim // 2, -1) * sin
            q, k = qk[:, : self.q_heads], qk[:, self.q_heads :]
            v = F.linear(x, w.v).view(batch * self.kv_heads, dim)
            keys, values = self.slots.keys[index], self.slots.values[index]
            keys.view(-1, dim).index_copy_(0, where, k.reshape(-1, dim).to(keys.dtype))
            values.view(-1, dim).index_copy_(0, where, v.to(values.dtype))
            # The `rep` query heads of one KV head are that head's queries (transformers' pack_gqa).
            out = F.scaled_dot_product_attention(
                q.reshape(batch, self.kv_heads, rep, dim).to(keys.dtype),
                keys[:batch, :, :width],
                values[:batch, :, :width],
                attn_mask=mask,
                scale=self.scaling,
            )
            hidden = hidden + F.linear(out.reshape(batch, -1).to(hidden.dtype), w.o)
            x = _rms_norm(hidden, w.post_norm, eps)
            hidden = hidden + F.linear(w.act(F.linear(x, w.gate)) * F.linear(x, w.up), w.down)
        hidden = _rms_norm(hidden, self.final_norm, eps)
        return self.head.step(hidden)  # in a buffer the next step reuses: the caller samples first

    def _rotary(self, pos: torch.Tensor, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
        """cos and sign-folded sin (batch, 1, head_dim): a decode token's three rope positions (time, height,
        width) are equal, so Qwen3-VL's interleaved multimodal rope is the plain one at that position."""
        freqs = pos[:, None].float() * self.inv_freq.to(pos.device)
        cos = freqs.cos() * self.rope_scaling
        sin = freqs.sin() * self.rope_scaling
        # rotate_half(x) * sin == roll(x, half) * cat(-sin, sin): the sign moves from x to sin, exactly
        cos = torch.cat((cos, cos), dim=-1).to(dtype)
        sin = torch.cat((-sin, sin), dim=-1).to(dtype)
        return cos[:, None, :], sin[:, None, :]


def _rms_norm(x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
    """The checkpoint's RMSNorm, op for op (float32 statistics, the weight applied after rounding back): torch's
    `F.rms_norm` is no faster on CPU (a composite of the same ops plus a copy) and rounds bf16 differently."""
    normed = x.float()
    normed = normed * torch.rsqrt(normed.pow(2).mean(-1, keepdim=True) + eps)
    return weight * normed.to(x.dtype)


def supported(lm, lm_head) -> bool:
    """Qwen3-VL's text decoder with plain float weights: what `DecodeStep` computes exactly."""
    try:
        rotary = lm.rotary_emb
        if getattr(rotary, "rope_type", "default") != "default" or not isinstance(lm.embed_tokens, torch.nn.Embedding):
            return False
        if type(lm_head) is not torch.nn.Linear or lm_head.bias is not None:
            return False
        for layer in lm.layers:
            attn, mlp = layer.self_attn, layer.mlp
            for linear in (
                attn.q_proj,
                attn.k_proj,
                attn.v_proj,
                attn.o_proj,
                mlp.gate_proj,
                mlp.up_proj,
                mlp.down_proj,
            ):
                if type(linear) is not torch.nn.Linear or linear.bias is not None:
                    return False
            for norm in (layer.input_layernorm, layer.post_attention_layernorm, attn.q_norm, attn.k_norm):
                if not hasattr(norm, "variance_epsilon") or norm.weight.dtype != lm_head.weight.dtype:
                    return False
            if not _known_layer(type(layer)):
                return False
        return True
    except AttributeError:
        return False


def _known_layer(layer_class: type) -> bool:
    """Qwen3-VL's decoder layer: vreason's own (models/native/text.py) or transformers' (imported only when the
    layer is one of transformers', so a native model's engine does not import transformers here)."""
    from vreason.models.native.text import DecoderLayer

    if layer_class.forward is DecoderLayer.forward:
        return True
    if not layer_class.__module__.startswith("transformers."):
        return False
    from transformers.models.qwen3_vl.modeling_qwen3_vl import Qwen3VLTextDecoderLayer

    return layer_class.forward is Qwen3VLTextDecoderLayer.forward
