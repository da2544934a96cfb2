"""Qwen3-VL's vision tower in plain torch: patches -> visual tokens for the decoder, plus the deepstack features.

Contract: `VisionTower(config)` has the parameters of transformers' `Qwen3VLVisionModel` under the same names
(`patch_embed.proj`, `pos_embed`, `blocks.N.{norm1,norm2,attn.qkv,attn.proj,mlp.linear_fc1,mlp.linear_fc2}`,
`merger.*`, `deepstack_merger_list.N.*`), so a checkpoint's `model.visual.*` tensors load into it as they are;
`forward(pixel_values, grid_thw)` returns what that model's forward returns as (pooler_output,
deepstack_features): the merged tokens of all images in order, and one tensor per deepstack layer. The
numbers are the same ops in the same order (tested against transformers, tests/integration/test_native_model.py).

What differs, on purpose: the patch embedding is one matmul over the Conv3d's weight (models/patch_embed.py
says why; the loader gives transformers' model the same matmul), and the attention runs per image through
`scaled_dot_product_attention`, as transformers' sdpa path does; there is no flash-attention varlen path.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F  # noqa: N812 (torch's own name)
from torch import nn

from vreason.models.native.config import VisionConfig
from vreason.models.patch_embed import matmul_patch_embed


def activation(name: str):
    if name == "silu":
        return F.silu
    if name == "gelu_pytorch_tanh":
        return lambda x: F.gelu(x, approximate="tanh")
    return F.gelu


class PatchEmbed(nn.Module):
    def __init__(self, config: VisionConfig):
        super().__init__()
        kernel = (config.temporal_patch_size, config.patch_size, config.patch_size)
        self.proj = nn.Conv3d(config.in_channels, config.hidden_size, kernel_size=kernel, stride=kernel, bias=True)

    forward = matmul_patch_embed


class VisionMLP(nn.Module):
    def __init__(self, config: VisionConfig):
        super().__init__()
        self.linear_fc1 = nn.Linear(config.hidden_size, config.intermediate_size, bias=True)
        self.linear_fc2 = nn.Linear(config.intermediate_size, config.hidden_size, bias=True)
        self.act_fn = activation(config.hidden_act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear_fc2(self.act_fn(self.linear_fc1(x)))


class VisionAttention(nn.Module):
    def __init__(self, config: VisionConfig):
        super().__init__()
        self.num_heads = config.num_heads
        self.qkv = nn.Linear(config.hidden_size, config.hidden_size * 3, bias=True)
        self.proj = nn.Linear(config.hidden_size, config.hidden_size)
        self.scaling = (config.hidden_size // config.num_heads) ** -0.5

    def forward(self, x: torch.Tensor, lengths: list[int], cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        seq = x.shape[0]
        # (3, heads, seq, dim) in one copy: q and k rotate in one pass each op, and SDPA reads whole rows
        qkv = self.qkv(x).reshape(seq, 3, self.num_heads, -1).permute(1, 2, 0, 3).contiguous()
        q, k = _rotate(qkv[:2], cos.transpose(0, 1), sin.transpose(0, 1)).unsqueeze(1).unbind(0)
        v = qkv[2].unsqueeze(0)  # (1, heads, seq, dim)
        # attention within each image (or video frame pair) alone: one call per item, as transformers' sdpa path
        outs = [
            F.scaled_dot_product_attention(qi, ki, vi, scale=self.scaling).transpose(1, 2)
            for qi, ki, vi in zip(q.split(lengths, 2), k.split(lengths, 2), v.split(lengths, 2), strict=True)
        ]
        return self.proj(torch.cat(outs, dim=1).reshape(seq, -1))


def _rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """transformers' apply_rotary_pos_emb_vision for one tensor: float32 arithmetic, the input dtype back."""
    dtype = x.dtype
    x = x.float()
    return (x * cos + rotate_half(x) * sin).to(dtype)


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    """transformers' rotate_half: the second half of the last dim negated, then the first half."""
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


class VisionBlock(nn.Module):
    def __init__(self, config: VisionConfig):
        super().__init__()
        self.norm1 = nn.LayerNorm(config.hidden_size, eps=1e-6)
        self.norm2 = nn.LayerNorm(config.hidden_size, eps=1e-6)
        self.attn = VisionAttention(config)
        self.mlp = VisionMLP(config)

    def forward(self, x: torch.Tensor, lengths: list[int], cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x), lengths, cos, sin)
        return x + self.mlp(self.norm2(x))


class PatchMerger(nn.Module):
    def __init__(self, config: VisionConfig, postshuffle_norm: bool):
        super().__init__()
        self.hidden_size = config.hidden_size * config.spatial_merge_size**2
        self.postshuffle_norm = postshuffle_norm
        self.norm = nn.LayerNorm(self.hidden_size if postshuffle_norm else config.hidden_size, eps=1e-6)
        self.linear_fc1 = nn.Linear(self.hidden_size, self.hidden_size)
        self.linear_fc2 = nn.Linear(self.hidden_size, config.out_hidden_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.norm(x.view(-1, self.hidden_size) if self.postshuffle_norm else x).view(-1, self.hidden_size)
        return self.linear_fc2(F.gelu(self.linear_fc1(x)))


class VisionTower(nn.Module):
    def __init__(self, config: VisionConfig):
        super().__init__()
        self.config = config
        self.spatial_merge_size = config.spatial_merge_size
        self.patch_embed = PatchEmbed(config)
        self.pos_embed = nn.Embedding(  # uninitialised: see text.py `_embedding`
            config.num_position_embeddings, config.hidden_size, _weight=torch.empty(config.num_position_embeddings,
                                                                                     config.hidden_size))
        self.side = int(config.num_position_embeddings**0.5)
        self.blocks = nn.ModuleList(VisionBlock(config) for _ in range(config.depth))
        self.merger = PatchMerger(config, postshuffle_norm=False)
        self.deepstack_visual_indexes = list(config.deepstack_visual_indexes)
        self.deepstack_merger_list = nn.ModuleList(
            PatchMerger(config, postshuffle_norm=True) for _ in config.deepstack_visual_indexes
        )
        self.register_buffer("inv_freq", self.rope_inv_freq(config), persistent=False)

    @staticmethod
    def rope_inv_freq(config: VisionConfig) -> torch.Tensor:
        spatial = config.hidden_size // config.num_heads // 2
        # on the CPU even while the model is built on the meta device (meta arange goes through torch._refs)
        return 1.0 / (config.rope_theta ** (torch.arange(0, spatial, 2, dtype=torch.float, device="cpu") / spatial))

    @property
    def dtype(self) -> torch.dtype:
        return self.patch_embed.proj.weight.dtype

    def forward(self, pixels: torch.Tensor, grid_thw: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        grids = [tuple(int(v) for v in g) for g in grid_thw.tolist()]
        device = pixels.device
        hidden = self.patch_embed(pixels)
        indices, weights = self._interpolation(grids, device)
        pos = (self.pos_embed(indices) * weights[:, :, None]).sum(1)
        hidden = hidden + pos.to(hidden.dtype)
        cos, sin = self._rotary(grids, device)
        lengths = [h * w for t, h, w in grids for _ in range(t)]  # one attention span per frame (pair)
        deepstack = []
        for index, block in enumerate(self.blocks):
            hidden = block(hidden, lengths, cos, sin)
            if index in self.deepstack_visual_indexes:
                deepstack.append(self.deepstack_merger_list[self.deepstack_visual_indexes.index(index)](hidden))
        return self.merger(hidden), deepstack

    def _rotary(self, grids: list[tuple[int, int, int]], device) -> tuple[torch.Tensor, torch.Tensor]:
        """cos and sin (patches, 1, head_dim) float32 of the axial 2D rope: (row, column) of each patch in the
        processor's merge-block order, the row's frequencies then the column's, twice over."""
        m = self.spatial_merge_size
        rows, cols = [], []
        for t, h, w in grids:
            hh, ww = torch.meshgrid(torch.arange(h, device=device), torch.arange(w, device=device), indexing="ij")
            block = (h // m, m, w // m, m)
            rows.append(hh.reshape(block).transpose(1, 2).flatten().repeat(t))
            cols.append(ww.reshape(block).transpose(1, 2).flatten().repeat(t))
        freq = self.inv_freq.to(device)
        fh = torch.cat(rows)[:, None].float() * freq
        fw = torch.cat(cols)[:, None].float() * freq
        cos_hw = torch.cat((fh.cos(), fw.cos()), dim=-1)
        sin_hw = torch.cat((fh.sin(), fw.sin()), dim=-1)
        return torch.cat((cos_hw, cos_hw), -1)[:, None, :], torch.cat((sin_hw, sin_hw), -1)[:, None, :]

    def _interpolation(self, grids: list[tuple[int, int, int]], device) -> tuple[torch.Tensor, torch.Tensor]:
        """Per patch, the 4 taps and bilinear weights (align_corners) that resample the square learned position
        table to the image's grid, patches in merge-block order: transformers'
        get_vision_interpolation_indices_and_weights(mode="bilinear", align_corners=True)."""
        side, m = self.side, self.spatial_merge_size
        all_indices, all_weights = [], []
        for t, h, w in grids:
            within = torch.arange(h * w, device=device)
            blocks_w = w // m
            in_col, in_row = within % m, (within // m) % m
            block_col, block_row = (within // (m * m)) % blocks_w, within // (m * m * blocks_w)
            row, col = block_row * m + in_row, block_col * m + in_col
            h_taps, h_weights = _taps(row, h, side, device)
            w_taps, w_weights = _taps(col, w, side, device)
            indices = (h_taps[:, :, None] * side + w_taps[:, None, :]).reshape(-1, 4)
            weights = (h_weights[:, :, None] * w_weights[:, None, :]).reshape(-1, 4)
            all_indices.append(indices.repeat(t, 1))
            all_weights.append(weights.repeat(t, 1))
        return torch.cat(all_indices), torch.cat(all_weights)


def _taps(index: torch.Tensor, size: int, side: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    # divided by a tensor, as transformers does: on CUDA a division by a Python number is a multiplication by
    # its reciprocal, one ulp away
    src = index.float() * (side - 1) / torch.tensor(max(size - 1, 1), device=device)
    floor = torch.floor(src)
    offsets = torch.arange(0, 2, device=device)
    taps = (floor.long()[:, None] + offsets).clamp(0, side - 1)
    weights = (1 - (src[:, None] - floor[:, None] - offsets).abs()).clamp(min=0)
    return taps, weights
