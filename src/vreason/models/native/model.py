"""The native Qwen3-VL model: the vision tower and text decoder of a checkpoint, loaded without transformers.

Why it exists: serving needs the forward passes, not transformers' model classes, and importing those classes
costs ~3-4 s of CPU at every start (torch._dynamo, torchvision, scipy, torchao come with them; measured in
benchmarks/RESULTS.md, "Start-up: what a serving path without transformers would cost"). This model imports
torch and safetensors only.

Contract: `NativeQwen3VL.from_pretrained(directory, dtype, device)` loads a dense Qwen3-VL checkpoint's
safetensors into modules named as transformers' `Qwen3VLForConditionalGeneration` (`model.visual`,
`model.language_model`, `lm_head`), and offers the surface the engine uses on a transformers model:
`config` (models/native/config.py), `generation_config.eos_token_id`, `dtype`, `device`,
`model.get_image_features(pixels, grid_thw, return_dict=True)` (per-image `pooler_output` and
`deepstack_features`, split as transformers splits them) and `model.get_rope_index(...)` (the multimodal
rope positions and delta, transformers' algorithm). It has no `generate`, no training or saving: fine-tuning,
quantizing and exporting load transformers' model (models/loader.py decides). Raises `UnsupportedNative` for a
checkpoint it does not compute exactly (config.py), and when the weights' names or shapes differ from the
modules', so the loader can fall back instead of serving wrong numbers.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import torch
from torch import nn

from vreason.models.native.config import NativeConfig, read_config
from vreason.models.native.text import TextDecoder
from vreason.models.native.vision import VisionTower
from vreason.models.native.weights import HEAD, read_weights, weight_layout


@dataclass
class VisionOutput:
    """What transformers' get_image_features returns, by the attribute names the engine reads."""

    pooler_output: tuple[torch.Tensor, ...]  # per image: (tokens, text hidden)
    deepstack_features: list[tuple[torch.Tensor, ...]]  # per deepstack layer, per image


class _Inner(nn.Module):
    def __init__(self, config: NativeConfig):
        super().__init__()
        self.config = config
        self.visual = VisionTower(config.vision_config)
        self.language_model = TextDecoder(config.text_config)

    def get_image_features(self, pixel_values: torch.Tensor, image_grid_thw: torch.Tensor, return_dict: bool = True):
        merged, deepstack = self.visual(pixel_values.to(self.visual.dtype), image_grid_thw)
        sizes = (image_grid_thw.prod(-1) // self.visual.spatial_merge_size**2).tolist()
        return VisionOutput(torch.split(merged, sizes), [torch.split(layer, sizes) for layer in deepstack])

    def get_rope_index(self, input_ids, mm_token_type_ids, image_grid_thw=None, video_grid_thw=None,
                       attention_mask=None):
        """(positions (3, batch, seq), deltas (batch, 1)): text runs count up on all three axes; an image or a
        video's temporal patch (split into one-frame grids: timestamps separate them) takes (t, row, column)
        positions from where the text left off, and the text after it resumes past its larger side. Rows are
        unpadded (the engine builds one prompt at a time); padding masks are refused, not ignored."""
        if attention_mask is not None and not bool(attention_mask.all()):
            raise NotImplementedError("get_rope_index of padded rows: the native model takes unpadded rows")
        if video_grid_thw is not None:
            video_grid_thw = torch.repeat_interleave(video_grid_thw, video_grid_thw[:, 0], dim=0)
            video_grid_thw[:, 0] = 1
        merge = self.config.vision_config.spatial_merge_size
        positions = torch.zeros(3, *input_ids.shape, dtype=input_ids.dtype, device=input_ids.device)
        grids = {1: iter(image_grid_thw) if image_grid_thw is not None else None,
                 2: iter(video_grid_thw) if video_grid_thw is not None else None}
        deltas = []
        for b, ids in enumerate(input_ids):
            pieces, current = [], 0
            for kind, group in itertools.groupby(enumerate(mm_token_type_ids[b].tolist()), lambda x: x[1]):
                group = list(group)
                begin, end = group[0][0], group[-1][0] + 1
                if kind == 0:
                    pieces.append(torch.arange(end - begin, device=ids.device).view(1, -1).expand(3, -1) + current)
                    current += end - begin
                    continue
                t, h, w = (int(v) for v in next(grids[kind]))
                tt, hh, ww = torch.meshgrid(
                    torch.arange(t, device=ids.device),
                    torch.arange(h // merge, device=ids.device) + current,
                    torch.arange(w // merge, device=ids.device) + current,
                    indexing="ij",
                )
                vision = torch.stack([tt, hh, ww], dim=0).reshape(3, -1)
                vision[0] += current
                pieces.append(vision)
                current += max(h, w) // merge
            flat = torch.cat(pieces, dim=1).reshape(3, -1)
            positions[:, b] = flat.to(positions.device)
            deltas.append(flat.max() + 1 - len(ids))
        return positions, torch.tensor(deltas, device=input_ids.device).unsqueeze(1)


class NativeQwen3VL(nn.Module):
    def __init__(self, config: NativeConfig, eos_token_id: list[int] | int | None = None):
        super().__init__()
        self.config = config
        self.model = _Inner(config)
        text = config.text_config
        self.lm_head = nn.Linear(text.hidden_size, text.vocab_size, bias=False)
        self.generation_config = SimpleNamespace(eos_token_id=eos_token_id)

    @property
    def dtype(self) -> torch.dtype:
        return self.lm_head.weight.dtype

    @property
    def device(self) -> torch.device:
        return self.lm_head.weight.device

    @classmethod
    def from_pretrained(cls, directory: str | Path, dtype: torch.dtype, device: str = "cpu") -> NativeQwen3VL:
        directory = Path(directory)
        config = read_config(directory)
        with torch.device("meta"):
            model = cls(config, _eos_ids(directory))
        tied = config.text_config.tie_word_embeddings
        expected = {name: p.shape for name, p in model.named_parameters() if not (tied and name == HEAD)}
        layout = weight_layout(directory, expected)
        state = read_weights(layout, dtype, device)
        head = state.pop(HEAD, None) if tied else None
        model.load_state_dict({n: state[n] for n in expected}, strict=False, assign=True)
        if tied:  # the embeddings are the head, unless the checkpoint stores another head (transformers keeps it)
            embed = model.model.language_model.embed_tokens.weight
            model.lm_head.weight = embed if head is None or torch.equal(head, embed) else nn.Parameter(head, False)
        # the rope buffers are computed on the CPU, not stored
        model.model.visual.inv_freq = model.model.visual.inv_freq.to(device)
        rotary = model.model.language_model.rotary_emb
        rotary.inv_freq = rotary.inv_freq.to(device)
        model.eval()
        model.requires_grad_(False)
        return model


def _eos_ids(directory: Path) -> list[int] | int | None:
    try:
        return json.loads((directory / "generation_config.json").read_text()).get("eos_token_id")
    except (OSError, ValueError):
        return None
