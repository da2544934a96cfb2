"""The batching model runner: prefill of newly admitted requests and one decode step for all running ones.

It drives the checkpoint's own modules (vision tower, embeddings, decoder layers, norm, lm_head) and only
replaces the loop around them, because transformers' `generate` cannot add or drop sequences between steps.
The KV of every running request lives in `KVSlots` rows; prefill writes the uncached part of each prompt
at the request's own columns (a reused prefix is copied in first), decode writes one column per row. Greedy
output is token-identical to `model.generate` on the request alone (the tests hold it to that).
A prefill's activations are what a step holds at its peak, so it runs as bounded forward passes: its rows
sorted by uncached prompt length and grouped so that a pass pads at most PREFILL_POSITIONS positions, and its
images through the vision tower at most VISION_PATCHES patches at a time (the vision attention is per image).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from vreason.engine.caches import VisionCache
from vreason.engine.cuda_attention import prefer_plan_free_attention
from vreason.engine.cuda_graphs import graphed
from vreason.engine.decode_step import DecodeStep
from vreason.engine.inputs import ImageSlot, PreparedInputs, VisionFeatures
from vreason.engine.kv_slots import KVPayload, KVSlots
from vreason.engine.output_head import OutputHead
from vreason.engine.request import RequestState
from vreason.engine.sampler import RowSampling, sample
from vreason.engine.scheduler import RunnerOutput

# Bounds on one forward pass of a prefill: prompt positions (rows x the longest row) through the decoder layers,
# image patches through the vision tower.
PREFILL_POSITIONS = 4096
VISION_PATCHES = 4096  # 1,024 visual tokens of Qwen3-VL (2x2 patches merge into one token)


@dataclass
class _Row:
    request: RequestState
    row: int
    length: int  # KV columns filled
    rope_delta: int
    generator: torch.Generator | None


class BatchRunner:
    def __init__(self, model, vision_cache: VisionCache):
        self.model = model  # unwrapped by the engine when it is a peft model
        self.lm = model.model.language_model
        self.vision_cache = vision_cache
        config = model.config.get_text_config()
        head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
        self.slots = KVSlots(config.num_hidden_layers, config.num_key_value_heads, head_dim, model.dtype, model.device)
        self.head = OutputHead(model.lm_head)  # how the output projection runs (engine/output_head.py)
        # the decode step in few ops over the same weights; None: the transformers layers (engine/decode_step.py);
        # on a GPU replayed from CUDA graphs (engine/cuda_graphs.py)
        self.fast_decode = graphed(DecodeStep.build(self.lm, self.head, self.slots))
        self.rows: list[_Row] = []  # index == row in the KV slots
        self.by_id: dict[str, _Row] = {}
        self.device = model.device
        prefer_plan_free_attention(self.device)  # on a GPU: SDPA without cuDNN's per-shape plans
        self.prefill_positions = PREFILL_POSITIONS
        # SDPA reads a missing mask as causal; other attention code (eager) would read it as none at all
        self.causal_fast_path = getattr(self.lm.config, "_attn_implementation", None) == "sdpa"
        self.vision_patches = VISION_PATCHES

    @property
    def batch_size(self) -> int:
        return len(self.rows)

    def execute_prefill(self, requests: Sequence[RequestState]) -> RunnerOutput:
        """Compute the prompts of newly admitted requests (appended as new rows); one first token each."""
        tokens = self.prefill(requests)
        return RunnerOutput(dict(zip((r.request_id for r in requests), tokens, strict=True)))

    def execute_decode(self, requests: Sequence[RequestState]) -> RunnerOutput:
        """One token for each running request: exactly the rows this runner holds."""
        assert {r.request_id for r in requests} == set(self.by_id), "the decode list differs from the rows"
        tokens = self.decode()
        return RunnerOutput({row.request.request_id: t for row, t in zip(self.rows, tokens, strict=True)})

    # -- prefill -------------------------------------------------------------------------------------------
    @torch.inference_mode()
    def prefill(self, requests: Sequence[RequestState]) -> list[int]:
        """Compute the prompts of newly admitted requests (appended as new rows); returns their first tokens,
        in the order of `requests`."""
        # Rows with nothing cached first, then rows after a reused prefix, each in order of new tokens: a pass pads
        # its rows to similar lengths, and fresh rows share passes of their own (SDPA's causal path, see _forward)
        uncached = [len(r.inputs.token_ids) - r.num_cached_tokens for r in requests]  # type: ignore[union-attr]
        order = sorted(range(len(requests)), key=lambda i: (requests[i].num_cached_tokens > 0, uncached[i]))
        requests = [requests[i] for i in order]
        first_row = len(self.rows)
        inputs: list[PreparedInputs] = [r.inputs for r in requests]  # type: ignore[misc]
        starts = [r.num_cached_tokens for r in requests]
        lengths = [len(i.token_ids) for i in inputs]
        new_counts = [n - m for n, m in zip(lengths, starts, strict=False)]
        # a pass pads its rows to its longest: padding columns are written too (masked, overwritten later)
        # A regrowth keeps the running rows' columns; + 1: room for the next decode step's token as well
        running = max((row.length for row in self.rows), default=0)
        self.slots.ensure(first_row + len(requests), max(running, max(starts) + max(new_counts)) + 1)
        for offset, request in enumerate(requests):
            if request.num_cached_tokens:
                self.slots.load(first_row + offset, request.cached_prefix, request.num_cached_tokens)
            request.cached_prefix = None  # the copy is in the slots; let the cache own its payload alone
        self._encode_missing_images(inputs, starts)

        fresh = sum(1 for m in starts if m == 0)
        passes = _groups(new_counts[:fresh], self.prefill_positions) + [
            (fresh + begin, fresh + end) for begin, end in _groups(new_counts[fresh:], self.prefill_positions)
        ]
        logits = [self._prefill_group(first_row + b, inputs[b:e], starts[b:e]) for b, e in passes]
        for offset, (request, inp) in enumerate(zip(requests, inputs, strict=False)):
            params = request.params
            generator = None
            if not params.greedy:
                generator = torch.Generator(device=self.device)
                generator.manual_seed(params.seed if params.seed is not None else random.getrandbits(63))
            row = _Row(request, first_row + offset, len(inp.token_ids), inp.rope_delta, generator)
            self.rows.append(row)
            self.by_id[request.request_id] = row
        tokens = sample(torch.cat(logits), [self._sampling(self.rows[first_row + b]) for b in range(len(requests))])
        out = [0] * len(tokens)
        for position, index in enumerate(order):
            out[index] = tokens[position]
        return out

    def _prefill_group(self, first_row: int, inputs: Sequence[PreparedInputs], starts: Sequence[int]) -> torch.Tensor:
        """One forward pass over the uncached prompt tokens of rows [first_row, first_row + len(inputs)), each
        padded to the longest of them; float32 logits (rows, vocab) at each row's last prompt token."""
        new_counts = [len(i.token_ids) - m for i, m in zip(inputs, starts, strict=False)]
        span = max(new_counts)
        width = max(m + span for m in starts)
        ids = torch.zeros((len(inputs), span), dtype=torch.long)
        positions = torch.zeros((3, len(inputs), span), dtype=torch.long)
        for b, (inp, m) in enumerate(zip(inputs, starts, strict=False)):
            ids[b, : new_counts[b]] = torch.tensor(inp.token_ids[m:])
            positions[:, b, : new_counts[b]] = inp.positions[:, m:]
        ids, positions = ids.to(self.device), positions.to(self.device)
        columns = torch.tensor(starts, device=self.device)[:, None] + torch.arange(span, device=self.device)[None, :]
        embeds = self.lm.embed_tokens(ids)
        visual_mask, deepstack = self._place_images(embeds, inputs, starts)
        last = torch.tensor([n - 1 for n in new_counts], device=self.device)
        # rows that all start at one column (most often 0: no cached prefix) write their KV as one slice
        start = starts[0] if len(set(starts)) == 1 else None
        return self._forward(first_row, embeds, columns, positions, width, last, visual_mask, deepstack, start)

    def _encode_missing_images(self, inputs: Sequence[PreparedInputs], starts: Sequence[int]) -> None:
        """Run the vision tower over every image a prefill needs and no cache has (deduplicated), a few images
        per forward pass: at most `vision_patches` patches each (one image alone when it has more). The vision
        attention is per image anyway; what a pass over all of a prefill's images at once costs is memory: the
        patches as float rows and every layer's activations for up to max_prefill_tokens visual tokens."""
        todo: dict[int, list[ImageSlot]] = {}
        for inp, m in zip(inputs, starts, strict=False):
            for image in inp.images:
                if image.start >= m and image.features is None:
                    todo.setdefault(image.key, []).append(image)
        items = list(todo.items())
        counts = [slots[0].num_patches for _, slots in items]
        for begin, end in _groups(counts, self.vision_patches, padded=False):
            self._encode(items[begin:end])

    def _encode(self, items: Sequence[tuple[int, list[ImageSlot]]]) -> None:
        firsts = [slots[0] for _, slots in items]
        assert all(s.patches is not None for s in firsts), "an image the caches lack carries its patches"
        assert len({s.row_width for s in firsts}) == 1, "the images of one vision pass have rows of one width"
        # each image's float rows made in place in the pass's input: no list for torch.cat holding them all twice,
        # no whole float copy of one image copied in after (a 3,072-patch image: 19 MB, 6.5 ms a copy)
        pixels = torch.empty((sum(s.num_patches for s in firsts), firsts[0].row_width), dtype=torch.float32)
        offset = 0
        for slot in firsts:
            slot.pixels_into(pixels[offset : offset + slot.num_patches])
            offset += slot.num_patches
        pixels = pixels.to(self.device)
        grids = torch.tensor([s.grid_thw for s in firsts], dtype=torch.long, device=self.device)
        out = self.model.model.get_image_features(pixels, grids, return_dict=True)
        for index, (key, slots) in enumerate(items):
            # Copies, not views: a view of the batch's output would keep every image's features of this batch
            # alive for as long as any one of them stays cached, uncounted by the cache's byte budget.
            features = VisionFeatures(
                embeds=out.pooler_output[index].clone(),
                deepstack=tuple(layer[index].clone() for layer in out.deepstack_features),
                grid_thw=slots[0].grid_thw,
            )
            self.vision_cache.put(key, features, features.nbytes)
            for slot in slots:
                slot.features = features
                slot.pixel_values = None

    def _place_images(self, embeds: torch.Tensor, inputs: Sequence[PreparedInputs], starts: Sequence[int]):
        """Write image features over their placeholder embeddings (in place); the deepstack inputs in the
        row-major order of the visual mask, as the decoder layers consume them."""
        visual_mask = torch.zeros(embeds.shape[:2], dtype=torch.bool, device=self.device)
        stacks: list[list[torch.Tensor]] = []
        for b, (inp, m) in enumerate(zip(inputs, starts, strict=False)):
            for image in inp.images:
                if image.start < m:
                    continue
                assert image.features is not None
                begin = image.start - m
                end = begin + image.num_tokens
                embeds[b, begin:end] = image.features.embeds.to(embeds.dtype)
                visual_mask[b, begin:end] = True
                for layer, feature in enumerate(image.features.deepstack):
                    if len(stacks) <= layer:
                        stacks.append([])
                    stacks[layer].append(feature)
        if not stacks:
            return None, None
        return visual_mask, [torch.cat(layer) for layer in stacks]

    # -- decode --------------------------------------------------------------------------------------------
    @torch.inference_mode()
    def decode(self) -> list[int]:
        """One token for every row, in row order (`self.rows`)."""
        rows = self.rows
        lengths = [r.length for r in rows]
        self.slots.ensure(len(rows), max(lengths) + 1)
        tokens = [r.request.output_ids[-1] for r in rows]
        if self.fast_decode is not None:
            logits = self.fast_decode(tokens, lengths, [r.length + r.rope_delta for r in rows])
        else:
            logits = self._decode_transformers(tokens, lengths)
        for row in rows:
            row.length += 1
        return sample(logits, [self._sampling(r) for r in rows])

    def _decode_transformers(self, tokens: list[int], lengths: list[int]) -> torch.Tensor:
        """The decode step through the checkpoint's decoder layers (models the fast step does not cover)."""
        rows = self.rows
        width = max(lengths) + 1
        ids = torch.tensor(tokens, device=self.device)[:, None]
        columns = torch.tensor(lengths, device=self.device)[:, None]
        position = torch.tensor([r.length + r.rope_delta for r in rows], device=self.device)
        positions = position.view(1, -1, 1).expand(3, -1, 1)
        embeds = self.lm.embed_tokens(ids)
        last = torch.zeros(len(rows), dtype=torch.long, device=self.device)
        start = lengths[0] if len(rows) == 1 else None
        return self._forward(0, embeds, columns, positions, width, last, None, None, start, decode=True)

    # -- rows ----------------------------------------------------------------------------------------------
    @torch.inference_mode()
    def release(self, request_id: str, keep: bool) -> KVPayload | None:
        """Drop a request's row (the last row moves into its place); with `keep`, return a copy of its KV."""
        row = self.by_id.pop(request_id, None)
        if row is None:
            return None
        payload = self.slots.copy(row.row, row.length) if keep and row.length else None
        last = self.rows.pop()
        if last is not row:
            self.slots.move(last.row, row.row, last.length)
            last.row = row.row
            self.rows[row.row] = last
        return payload

    def reset(self) -> None:
        """Forget every row (after a failed step, whose requests have all been ended)."""
        self.rows.clear()
        self.by_id.clear()

    def _sampling(self, row: _Row) -> RowSampling:
        r = row.request
        return RowSampling(r.params, r.prompt_ids, r.output_ids, row.generator, r.constraint)

    def _forward(
        self, first_row, embeds, columns, positions, width, last, visual_mask, deepstack, start=None, decode=False
    ) -> torch.Tensor:
        """Decoder layers over `embeds` (batch, new, hidden) for rows [first_row, first_row + batch).

        Query j of row b sits at KV column columns[b, j] and sees columns <= that one: the causal mask of each
        row at its own offset. `start`: every row at columns start, start + 1, ... (cache writes by slice).
        Returns float32 logits at index `last[b]` of each row; with `decode`, in the output head's step buffer
        (valid until the next decode step)."""
        hidden = embeds
        position_embeddings = self.lm.rotary_emb(hidden, positions)
        if start == 0 and self.causal_fast_path:
            # nothing cached before any row: the keys are the queries, and SDPA's own causal path (no mask tensor,
            # no repeated KV heads) takes half the time of the same mask spelled out (one row of 1,054 tokens: 4
            # vs 8 ms a layer; 5 rows of 787: 14 vs 26 ms) and gave the same bits on the CPU. A row shorter than
            # the pass is padded at its end, after every query of its own, so causality alone keeps padding out.
            mask = None
        else:
            keys = torch.arange(width, device=self.device)
            mask = (keys[None, None, None, :] <= columns[:, None, :, None]).to(self.device)  # (batch, 1, new, width)
        cache = self.slots.view(first_row, columns, width, start)
        for index, layer in enumerate(self.lm.layers):
            hidden = layer(hidden, position_embeddings=position_embeddings, attention_mask=mask, cache=cache)
            if deepstack is not None and index < len(deepstack):
                hidden = self.lm._deepstack_process(hidden, visual_mask, deepstack[index])
        picked = self.lm.norm(hidden[torch.arange(hidden.shape[0], device=self.device), last])  # (batch, hidden)
        return self.head.step(picked) if decode else self.head(picked)


def _groups(sizes: Sequence[int], bound: int, padded: bool = True) -> list[tuple[int, int]]:
    """Consecutive [begin, end) slices of `sizes` whose total stays within `bound`: with `padded`, the slice's
    length times its largest size (its rows padded to the longest), else the plain sum. A slice holds at least
    one item, whatever its size."""
    groups: list[tuple[int, int]] = []
    begin, largest, total = 0, 0, 0
    for index, size in enumerate(sizes):
        largest = max(largest, size)
        total += size
        cost = largest * (index - begin + 1) if padded else total
        if index > begin and cost > bound:
            groups.append((begin, index))
            begin, largest, total = index, size, size
    if sizes:
        groups.append((begin, len(sizes)))
    return groups

