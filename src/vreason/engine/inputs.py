"""Prompt -> model inputs for the batching runner: token ids, M-RoPE positions, image slots. Touches tensors.

Each image gets a content key: a hash of the processor settings and either a deferred image's encoded bytes
(its fitted pixels follow from them, so a seen picture is never decoded) or the resized pixels. When the vision cache
already holds that key, the image is not preprocessed again: its features and grid come from the cache and
only the text is tokenized. Otherwise it is cut into patches for the runner to encode: by `image_patches` where
that reproduces the checkpoint's image processor (Qwen's), by the processor itself otherwise.
The prefix-cache key of a prompt is its token ids with each image's placeholder tokens replaced by the
image's key (negative, so it can never equal a token id): prompts match only where their images match.

A video is one slot per temporal patch (two frames), because its `<t seconds>` markers split its tokens into
runs. That is exact, not an approximation: Qwen3-VL's vision tower attends within each temporal patch only
(its cu_seqlens repeat h*w per t) and `get_rope_index` splits a video's grid into t grids of (1, h, w), so
patch i of a (t, h, w) video encodes as an image of grid (1, h, w) with patch i's pixel rows. The pixels come
from the checkpoint's video processor (rescale, normalize, patchify; frames arrive already at the model's
size, so `do_resize=False`). Patch i's key hashes its own frames' pixels and shape (not the clip's other
frames, nor its times, which only move the M-RoPE positions): the same frames are encoded once whichever
clip, window or question brings them — a live window sliding by one pair encodes one new pair. Video tokens
are type 2 in the M-RoPE token types (images 1), as the processor marks them.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from vreason.engine.caches import VisionCache
from vreason.engine.image_patches import PatchBytes, PatchSpec, patch_bytes
from vreason.engine.prompt import Prompt
from vreason.engine.video_patches import VideoPatchSpec
from vreason.media import PreparedVideo

# Content keys are 126 bits (Python ints: the vision cache's dict keys and, negated, the prefix cache's tuple
# entries): the caches are shared by every user of a server, and whoever sends a picture chooses its bytes
# freely (comment segments, ancillary chunks), so with 62-bit keys a birthday collision (~2^31 hashes) would
# be within reach to plant one picture's features under another's key.
KEY_BYTES = 16


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
    # When features are missing: float rows (patches, channels*t*p*p), or the same as bytes (an eighth of the
    # memory while the request waits for its prefill); `pixel_values` gives the float rows either way.
    patches: torch.Tensor | PatchBytes | None = None
    video: bool = False  # a temporal patch of a video (grid (1, h, w)), not an image

    @property
    def pixel_values(self) -> torch.Tensor | None:
        """(patches, channels*t*p*p) float rows for the vision tower (cast from the bytes on each call)."""
        return self.patches.to_float() if isinstance(self.patches, PatchBytes) else self.patches

    @pixel_values.setter
    def pixel_values(self, value: torch.Tensor | None) -> None:
        self.patches = value

    @property
    def row_width(self) -> int:
        """Length of one float row of `pixel_values`."""
        assert self.patches is not None, "an image without patches has no rows"
        return self.patches.row_width if isinstance(self.patches, PatchBytes) else self.patches.shape[1]

    def pixels_into(self, out: torch.Tensor) -> None:
        """Write `pixel_values` into `out` (num_patches, row_width): from bytes, the rows are made there (only one
        temporal slot is cast on its own first), not made whole elsewhere and copied in."""
        if isinstance(self.patches, PatchBytes):
            self.patches.to_float(out=out)
        else:
            assert self.patches is not None, "an image without patches has no rows"
            out.copy_(self.patches)

    @property
    def num_patches(self) -> int:
        if self.patches is None:
            return 0
        return self.patches.num_patches if isinstance(self.patches, PatchBytes) else self.patches.shape[0]


@dataclass
class PreparedInputs:
    token_ids: list[int]
    cache_key: tuple[int, ...]  # token ids with image placeholders replaced by -image key
    positions: torch.Tensor  # (3, prompt_len) M-RoPE positions
    rope_delta: int  # decode position of sequence index t is t + rope_delta (all three axes)
    images: list[ImageSlot] = field(default_factory=list)

    @property
    def image_tokens(self) -> int:
        """Visual tokens, videos' included."""
        return sum(i.num_tokens for i in self.images)

    @property
    def video_tokens(self) -> int:
        return sum(i.num_tokens for i in self.images if i.video)


class InputBuilder:
    def __init__(self, model: Any, processor: Any, vision_cache: VisionCache):
        self.model = model
        self.processor = processor
        self.tokenizer = processor.tokenizer
        self.vision_cache = vision_cache
        self.image_token = processor.image_token
        self.image_token_id = int(model.config.image_token_id)
        self.video_token = getattr(processor, "video_token", "<|video_pad|>")
        self.video_token_id = int(model.config.video_token_id)
        self.merge = int(processor.image_processor.merge_size)
        self.patch = int(processor.image_processor.patch_size)
        self.temporal_patch = int(getattr(processor.video_processor, "temporal_patch_size", 2))
        self.patch_spec = PatchSpec.from_processor(processor.image_processor)  # None: the processor patchifies
        self.video_spec = VideoPatchSpec.from_processor(processor.video_processor)  # the same for video frames
        self.device = model.device

    def build(self, prompt: Prompt, processor_size: dict[str, int]) -> PreparedInputs:
        images = self._image_slots(prompt, processor_size)
        videos = [self._video_slots(v) for v in prompt.videos]
        video_counts = [[s.num_tokens for s in v] for v in videos]
        token_ids = self._tokenize(prompt.text, [s.num_tokens for s in images], video_counts)
        slots: list[ImageSlot] = []
        cache_key = list(token_ids)
        queues = {self.image_token_id: iter(images), self.video_token_id: iter(s for v in videos for s in v)}
        cursor = 0
        while cursor < len(token_ids):
            token = token_ids[cursor]
            if token in queues:
                slot = next(queues[token])
                slot.start = cursor
                cache_key[cursor : cursor + slot.num_tokens] = [-slot.key] * slot.num_tokens
                slots.append(slot)
                cursor += slot.num_tokens
            else:
                cursor += 1
        positions, delta = self._positions(token_ids, images, videos)
        return PreparedInputs(token_ids, tuple(cache_key), positions, delta, slots)

    def _image_slots(self, prompt: Prompt, processor_size: dict[str, int]) -> list[ImageSlot]:
        setting = tuple(sorted(processor_size.items()))
        keys = []
        for index, prepared in enumerate(prompt.images):
            key = prepared.content_keys.get(setting)
            if key is None:
                # a deferred image is keyed by its bytes, so a picture seen before is neither decoded nor resized
                # (a 4K JPEG: 1.3 MB hashed instead of a 30 ms decode and resize and 3.7 MB of pixels); others
                # by their fitted pixels, made here only for an image not seen before (prompt.FittedImages)
                encoded = prepared.encoded
                key = prepared.content_keys[setting] = (
                    encoded_image_key(encoded, prepared.original_size, processor_size)
                    if encoded is not None
                    else image_key(prompt.pixels[index], processor_size)
                )
            keys.append(key)
        cached: list[VisionFeatures | None] = [self.vision_cache.get(k) for k in keys]
        missing = [i for i, f in enumerate(cached) if f is None]
        patches: dict[int, torch.Tensor | PatchBytes] = {}
        grids: dict[int, tuple[int, int, int]] = {i: f.grid_thw for i, f in enumerate(cached) if f is not None}
        if self.patch_spec is not None and all(self.patch_spec.fits(prompt.pixels[i], processor_size) for i in missing):
            for i in missing:  # the processor's numbers, in a third of its time (engine/image_patches.py)
                patches[i], grids[i] = patch_bytes(prompt.pixels[i], self.patch_spec)
        elif missing:
            out = self.processor.image_processor(
                images=[prompt.pixels[i] for i in missing], size=processor_size, return_tensors="pt"
            )
            offset = 0
            for i, grid in zip(missing, out["image_grid_thw"].tolist(), strict=False):
                count = grid[0] * grid[1] * grid[2]
                patches[i] = out["pixel_values"][offset : offset + count]
                grids[i] = (grid[0], grid[1], grid[2])
                offset += count
        return [
            ImageSlot(key, -1, _tokens(grids[i], self.merge), grids[i], cached[i], patches.get(i))
            for i, key in enumerate(keys)
        ]

    def _video_slots(self, video: PreparedVideo) -> list[ImageSlot]:
        """One slot per temporal patch; pixels only for patches the vision cache lacks. A patch's key hashes
        its own frames' pixels (and size), not the clip's other frames or its times: the tower encodes each
        temporal patch alone, so a frame pair seen before — in a sliding live window, by another trigger, or
        in another clip — reuses its features."""
        keys = video.content_keys.get("patches")
        if keys is None:
            keys = video.content_keys["patches"] = patch_keys(video, self.temporal_patch)
        chunks = len(keys)
        width, height = video.size
        grid = (1, height // self.patch, width // self.patch)
        cached = [self.vision_cache.get(k) for k in keys]
        pixels: list[torch.Tensor | None] = [None] * chunks
        missing = [i for i, f in enumerate(cached) if f is None]
        if missing:
            tp = self.temporal_patch
            frames = np.concatenate([video.frames[i * tp : (i + 1) * tp] for i in missing])
            if self.video_spec is not None:  # the processor's numbers without the processor (engine/video_patches.py)
                rows, (t, h, w) = self.video_spec.video_patches(frames)
            else:
                out = self.processor.video_processor(
                    videos=[frames],
                    do_sample_frames=False,
                    do_resize=False,
                    cap_pixels_per_frame=True,
                    return_tensors="pt",
                )
                rows, (t, h, w) = out["pixel_values_videos"], out["video_grid_thw"][0].tolist()
            assert (t, h, w) == (len(missing), *grid[1:]), f"video grid {(t, h, w)} for {len(missing)} patches"
            per = h * w
            for j, i in enumerate(missing):
                pixels[i] = rows[j * per : (j + 1) * per]
        count = _tokens(grid, self.merge)
        return [ImageSlot(k, -1, count, grid, f, p, video=True) for k, f, p in zip(keys, cached, pixels, strict=True)]

    def _tokenize(self, text: str, image_counts: list[int], video_counts: list[list[int]]) -> list[int]:
        counts = {self.image_token: iter(image_counts), self.video_token: iter(n for v in video_counts for n in v)}
        pieces = re.split(f"({re.escape(self.image_token)}|{re.escape(self.video_token)})", text)
        expanded = []
        for piece in pieces:
            if piece in counts:
                n = next(counts[piece], None)
                if n is None:
                    raise AssertionError(f"the prompt holds more {piece} placeholders than inputs")
                expanded.append(piece * n)
            else:
                expanded.append(piece)
        if any(next(rest, None) is not None for rest in counts.values()):
            raise AssertionError("the prompt holds fewer placeholders than images and video patches")
        return list(self.tokenizer("".join(expanded))["input_ids"])

    def _positions(
        self, token_ids: list[int], images: list[ImageSlot], videos: list[list[ImageSlot]]
    ) -> tuple[torch.Tensor, int]:
        ids = torch.tensor([token_ids], dtype=torch.long)
        if not images and not videos:
            return torch.arange(len(token_ids)).view(1, -1).expand(3, -1).clone(), 0
        kinds = (ids == self.image_token_id).int() + 2 * (ids == self.video_token_id).int()
        image_grids = torch.tensor([s.grid_thw for s in images], dtype=torch.long) if images else None
        video_grids = (
            torch.tensor([(len(v), v[0].grid_thw[1], v[0].grid_thw[2]) for v in videos], dtype=torch.long)
            if videos
            else None
        )
        positions, delta = self.model.model.get_rope_index(
            ids, mm_token_type_ids=kinds, image_grid_thw=image_grids, video_grid_thw=video_grids
        )
        return positions[:, 0, :].cpu(), int(delta.reshape(-1)[0])


def _tokens(grid: tuple[int, int, int], merge: int) -> int:
    return grid[0] * grid[1] * grid[2] // (merge**2)


def patch_keys(video: PreparedVideo, temporal_patch: int) -> list[int]:
    """A key per temporal patch: a hash of that patch's frames (pixels and shape) alone."""
    keys = []
    for i in range(0, video.num_frames - video.num_frames % temporal_patch, temporal_patch):
        digest = hashlib.blake2b(digest_size=KEY_BYTES)
        chunk = np.ascontiguousarray(video.frames[i : i + temporal_patch])
        digest.update(f"video-patch:{chunk.shape}".encode())
        digest.update(chunk.data)
        keys.append(_key(digest))
    return keys


def encoded_image_key(encoded: bytes, size: tuple[int, int], processor_size: dict[str, int]) -> int:
    """A content key of a deferred image's bytes and the processor bounds: its fitted pixels are a function of
    the two (media/image_input.py:PreparedImage.pixels takes the same path for the same bytes whether or not
    the picture was decoded in full meanwhile), so equal keys mean equal model inputs."""
    digest = hashlib.blake2b(digest_size=KEY_BYTES)
    digest.update(f"encoded:{size}:{sorted(processor_size.items())}".encode())
    digest.update(encoded)
    return _key(digest)


def image_key(image: Any, processor_size: dict[str, int]) -> int:
    """A content key of a resized image and the processor bounds it was prepared under."""
    digest = hashlib.blake2b(digest_size=KEY_BYTES)
    digest.update(f"{image.mode}:{image.size}:{sorted(processor_size.items())}".encode())
    digest.update(image.tobytes())
    return _key(digest)


def _key(digest: Any) -> int:
    # positive and non-zero: the prefix cache's keys put -key where an image's tokens are
    return (int.from_bytes(digest.digest(), "little") >> 2) or 1
