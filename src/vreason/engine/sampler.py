"""Next-token selection for a batch of rows with per-row sampling parameters. Touches tensors.

The order follows transformers' `generate`, so greedy output matches it token for token: logits processors
(repetition penalty over prompt and output; OpenAI presence/frequency penalties over output only; the grammar
mask of constrained decoding), then for sampled rows temperature, top-k, top-p and a draw from the row's own
seeded generator (a request's samples do not depend on which other requests share its batch).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from vreason.engine.sampling import SamplingParams


@dataclass
class RowSampling:
    params: SamplingParams
    prompt_ids: Sequence[int]
    output_ids: Sequence[int]
    generator: torch.Generator | None  # None for greedy rows
    constraint: Any = None  # grammar state with fill(bitmask, row) (engine/grammar.OutputConstraint)


def sample(logits: torch.Tensor, rows: Sequence[RowSampling]) -> list[int]:
    """logits: (batch, vocab) float32, one row per entry of `rows`; returns the chosen token per row."""
    for i, row in enumerate(rows):
        p = row.params
        if p.repetition_penalty != 1.0:
            seen = torch.tensor(list({*row.prompt_ids, *row.output_ids}), dtype=torch.long, device=logits.device)
            scores = logits[i, seen]
            logits[i, seen] = torch.where(scores < 0, scores * p.repetition_penalty, scores / p.repetition_penalty)
    _apply_output_penalties(logits, rows)
    _apply_grammars(logits, rows)
    chosen = torch.argmax(logits, dim=-1).tolist()
    for i, row in enumerate(rows):
        if not row.params.greedy:
            chosen[i] = _draw(logits[i], row.params, row.generator)
    return chosen


def _apply_output_penalties(logits: torch.Tensor, rows: Sequence[RowSampling]) -> None:
    """presence + frequency x count, subtracted only at the ids a row has generated: one sparse update for the
    whole batch instead of a vocabulary-wide count tensor per row."""
    vocab = logits.shape[1]
    flat: list[int] = []
    amounts: list[float] = []
    for i, row in enumerate(rows):
        p = row.params
        if (p.presence_penalty or p.frequency_penalty) and row.output_ids:
            for token, count in Counter(row.output_ids).items():
                flat.append(i * vocab + token)
                amounts.append(p.presence_penalty + p.frequency_penalty * count)
    if flat:
        index = torch.tensor(flat, dtype=torch.long, device=logits.device)
        logits.view(-1).index_add_(0, index, -torch.tensor(amounts, dtype=logits.dtype, device=logits.device))


def _apply_grammars(logits: torch.Tensor, rows: Sequence[RowSampling]) -> None:
    constrained = [i for i, row in enumerate(rows) if row.constraint is not None]
    if not constrained:
        return
    import xgrammar as xgr  # only requests with response_format need it

    bitmask = xgr.allocate_token_bitmask(len(rows), logits.shape[-1])
    masked = [i for i in constrained if rows[i].constraint.fill(bitmask, i)]
    if masked:
        xgr.apply_token_bitmask_inplace(logits, bitmask.to(logits.device), indices=masked)


def _draw(scores: torch.Tensor, params: SamplingParams, generator: torch.Generator | None) -> int:
    """temperature -> top-k -> top-p -> draw, as transformers' warpers, but over the top-k candidates only:
    sorting the whole vocabulary (152k entries for Qwen) per row and step would cost more than the model."""
    if params.top_k and params.top_k < scores.shape[0]:
        values, indices = torch.topk(scores, params.top_k)  # sorted, best first
    else:
        values, indices = torch.sort(scores, descending=True)
    probs = (values / params.temperature).softmax(dim=-1)
    if params.top_p < 1.0:
        mass_before = probs.cumsum(dim=-1) - probs
        probs = probs.masked_fill(mass_before >= params.top_p, 0.0)  # the best token always stays
    choice = torch.multinomial(probs, 1, generator=generator)
    return int(indices[choice].item())
