"""Prompt -> model inputs for the batching runner: token ids, M-RoPE positions, image slots. Touches tensors.

Each image gets a content key (hash of the resized pixels and the processor settings). When the vision cache
already holds that key, the image is not preprocessed again: its features and grid come from the cache and
only the text is tokenized. Otherwise the image processor turns it into patches for the runner to encode.
The prefix-cache key of a prompt is its token ids with each image's placeholder tokens replaced by the
image's key (negative, so it can never equal a token id): prompts match only where their images match.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import torch

from vreason.engine.caches import VisionCache
from vreason.engine.prompt import Prompt


@dataclass
class VisionFeatures:
    """The vision tower's output for one image: what the vision cache stores."""

    embeds: torch.Tensor  # (num_tokens, hidden): replaces the image's placeholder embeddings
    deepstack: tuple[torch.Tensor, ...]  # per deepstack layer, (num_tokens, hidden): added to early layers
    grid_thw: tuple[int, int, int]  # patch grid before merging; decides the M-RoPE positions

    @property
    def nbytes(self) -> int:
        return sum(t.numel() * t.element_size() for t in (self.embeds, *self.deepstack))


@dataclass
class ImageSlot:
    key: int  # content key, positive
    start: int  # index of the image's first placeholder token in the prompt
    num_tokens: int
    grid_thw: tuple[int, int, int]
    features: VisionFeatures | None  # from the cache; None until the runner encodes `pixel_values`
    pixel_values: torch.Tensor | None = None  # (patches, channels*t*p*p) when features are missing


@dataclass
class PreparedInputs:
    token_ids: list[int]
    cache_key: tuple[int, ...]  # token ids with image placeholders replaced by -image key
    positions: torch.Tensor  # (3, prompt_len) M-RoPE positions
    rope_delta: int  # decode position of sequence index t is t + rope_delta (all three axes)
    images: list[ImageSlot] = field(default_factory=list)

    @property
    def image_tokens(self) -> int:
        return sum(i.num_tokens for i in self.images)


class InputBuilder:
    def __init__(self, model: Any, processor: Any, vision_cache: VisionCache):
        self.model = model
        self.processor = processor
        self.tokenizer = processor.tokenizer
        self.vision_cache = vision_cache
        self.image_token = processor.image_token
        self.image_token_id = int(model.config.image_token_id)
        self.merge = int(processor.image_processor.merge_size)
        self.device = model.device

    def build(self, prompt: Prompt, processor_size: dict[str, int]) -> PreparedInputs:
        setting = tuple(sorted(processor_size.items()))
        keys = []
        for prepared, pixels in zip(prompt.images, prompt.pixels, strict=True):
            key = prepared.content_keys.get(setting)
            if key is None:
                key = prepared.content_keys[setting] = image_key(pixels, processor_size)
            keys.append(key)
        cached: list[VisionFeatures | None] = [self.vision_cache.get(k) for k in keys]
        missing = [i for i, f in enumerate(cached) if f is None]
        patches: dict[int, torch.Tensor] = {}
        grids: dict[int, tuple[int, int, int]] = {i: f.grid_thw for i, f in enumerate(cached) if f is not None}
        if missing:
            out = self.processor.image_processor(
                images=[prompt.pixels[i] for i in missing], size=processor_size, return_tensors="pt"
            )
            offset = 0
            for i, grid in zip(missing, out["image_grid_thw"].tolist(), strict=False):
                count = grid[0] * grid[1] * grid[2]
                patches[i] = out["pixel_values"][offset : offset + count]
                grids[i] = (grid[0], grid[1], grid[2])
                offset += count
        counts = [grids[i][0] * grids[i][1] * grids[i][2] // (self.merge**2) for i in range(len(keys))]
        token_ids = self._tokenize(prompt.text, counts)
        images: list[ImageSlot] = []
        cache_key = list(token_ids)
        cursor = 0
        for i, (key, count) in enumerate(zip(keys, counts, strict=False)):
            start = token_ids.index(self.image_token_id, cursor)
            cache_key[start : start + count] = [-key] * count
            images.append(ImageSlot(key, start, count, grids[i], cached[i], patches.get(i)))
            cursor = start + count
        positions, delta = self._positions(token_ids, [grids[i] for i in range(len(keys))])
        return PreparedInputs(token_ids, tuple(cache_key), positions, delta, images)

    def _tokenize(self, text: str, counts: list[int]) -> list[int]:
        pieces = text.split(self.image_token)
        if len(pieces) != len(counts) + 1:
            raise AssertionError(f"the prompt holds {len(pieces) - 1} image placeholders for {len(counts)} images")
        expanded = pieces[0] + "".join(self.image_token * n + rest for n, rest in zip(counts, pieces[1:], strict=False))
        return list(self.tokenizer(expanded)["input_ids"])

    def _positions(self, token_ids: list[int], grids: list[tuple[int, int, int]]) -> tuple[torch.Tensor, int]:
        ids = torch.tensor([token_ids], dtype=torch.long)
        if not grids:
            return torch.arange(len(token_ids)).view(1, -1).expand(3, -1).clone(), 0
        kinds = (ids == self.image_token_id).int()
        positions, delta = self.model.model.get_rope_index(
            ids, mm_token_type_ids=kinds, image_grid_thw=torch.tensor(grids, dtype=torch.long)
        )
        return positions[:, 0, :].cpu(), int(delta.reshape(-1)[0])


def image_key(image: Any, processor_size: dict[str, int]) -> int:
    """A 62-bit content key of a resized image and the processor bounds it was prepared under."""
    digest = hashlib.blake2b(digest_size=8)
    digest.update(f"{image.mode}:{image.size}:{sorted(processor_size.items())}".encode())
    digest.update(image.tobytes())
    return (int.from_bytes(digest.digest(), "little") >> 2) or 1
