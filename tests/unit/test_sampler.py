"""Next-token selection: greedy = argmax after penalties; sampling honours top-k/top-p and the row's seed."""

from __future__ import annotations

import pytest
import torch

from vreason.engine.sampler import ARGMAX_BLOCK, RowSampling, argmax_rows, sample
from vreason.engine.sampling import GREEDY, SamplingParams


def row(params, output=(), prompt=(), seed=None):
    generator = None
    if seed is not None:
        generator = torch.Generator().manual_seed(seed)
    return RowSampling(params, list(prompt), list(output), generator)


def test_greedy_takes_the_argmax_per_row():
    logits = torch.tensor([[0.1, 2.0, 0.3], [5.0, 1.0, 0.0]])
    assert sample(logits, [row(GREEDY), row(GREEDY)]) == [1, 0]


@pytest.mark.parametrize("vocab", [ARGMAX_BLOCK * 2, ARGMAX_BLOCK * 7 + 13, 151_936, ARGMAX_BLOCK + 5, 543])
def test_blockwise_argmax_is_torchs_argmax(vocab):
    """Same index as torch.argmax: random rows, ties inside a block and across blocks and with the tail (the
    first wins), a maximum in the tail, NaN (torch takes the first NaN), all -inf, and bf16."""
    generator = torch.Generator().manual_seed(vocab)
    logits = torch.randn(12, vocab, generator=generator)
    logits[1, 5] = logits[1, vocab - 1] = 99.0  # tie between the first block and the last entry
    logits[2, vocab // 2] = logits[2, vocab // 2 + 1] = 99.0  # tie inside one block
    logits[3, vocab - 1] = 99.0  # maximum in the tail (or the last block)
    logits[4, min(ARGMAX_BLOCK + 3, vocab - 2)] = logits[4, vocab - 1] = 99.0  # a tie after the first block
    logits[5] = 1.0  # every entry equal
    logits[6, vocab - 2] = float("nan")
    logits[7, 7] = float("nan")
    logits[7, vocab - 1] = float("nan")
    logits[8] = float("-inf")
    logits[9, 0] = float("inf")
    logits[9, vocab - 1] = float("inf")
    logits[10, vocab - 3] = float("inf")
    finite = logits[[0, 1, 2, 3, 4, 5, 8, 9, 10, 11]]  # a NaN anywhere sends the whole batch to torch's argmax
    views = (finite[:, : vocab - 1], finite.t().contiguous().t(), finite[::2])  # strided views
    for tensor in (finite, finite.bfloat16(), finite.half(), *views, finite[:0], logits, logits[6:8]):
        assert torch.equal(argmax_rows(tensor), torch.argmax(tensor, dim=-1)), tensor.dtype


def test_presence_and_frequency_penalties_apply_to_output_tokens_only():
    logits = torch.tensor([[1.0, 1.2, 0.0]])
    params = GREEDY.updated(presence_penalty=0.5)
    # token 1 was generated before: 1.2 - 0.5 < 1.0, so token 0 wins; token 0 in the prompt is not penalised
    assert sample(logits.clone(), [row(params, output=[1], prompt=[0])]) == [0]
    freq = GREEDY.updated(frequency_penalty=0.15)
    assert sample(logits.clone(), [row(freq, output=[1])]) == [1]  # 1.2 - 0.15 > 1.0
    assert sample(logits.clone(), [row(freq, output=[1, 1])]) == [0]  # 1.2 - 0.30 < 1.0


def test_repetition_penalty_divides_positive_and_multiplies_negative_scores():
    logits = torch.tensor([[2.0, 1.5, -1.0]])
    params = GREEDY.updated(repetition_penalty=2.0)
    assert sample(logits.clone(), [row(params, prompt=[0])]) == [1]  # 2.0 / 2 = 1.0 < 1.5


def test_top_k_one_is_greedy_even_when_sampling():
    logits = torch.tensor([[0.0, 3.0, 2.9, 1.0]])
    params = SamplingParams(temperature=1.5, top_k=1, top_p=1.0)
    assert {sample(logits.clone(), [row(params, seed=s)])[0] for s in range(20)} == {1}


def test_top_p_keeps_the_smallest_set_reaching_the_mass():
    logits = torch.log(torch.tensor([[0.6, 0.3, 0.08, 0.02]]))
    params = SamplingParams(temperature=1.0, top_k=0, top_p=0.85)  # 0.6 + 0.3 reaches 0.85: tokens 0 and 1
    drawn = {sample(logits.clone(), [row(params, seed=s)])[0] for s in range(200)}
    assert drawn == {0, 1}


def test_same_seed_same_draws_regardless_of_neighbours():
    logits = torch.randn(1, 1000, generator=torch.Generator().manual_seed(0))
    params = SamplingParams(temperature=1.0, top_k=0, top_p=1.0)
    alone = [sample(logits.clone(), [row(params, seed=7)])[0] for _ in range(1)]
    batch = torch.cat([torch.randn(1, 1000), logits, torch.randn(1, 1000)])
    with_neighbours = sample(batch, [row(params, seed=1), row(params, seed=7), row(GREEDY)])
    assert with_neighbours[1] == alone[0]


def test_rows_warped_together_draw_what_each_draws_alone():
    # Sampled rows with the same top-k share one batch of ops; penalties are applied for all rows at once.
    kinds = [
        SamplingParams(temperature=0.7, top_p=0.8, top_k=20),
        SamplingParams(temperature=1.3, top_p=1.0, top_k=20),  # same top-k, no top-p: keeps every candidate
        SamplingParams(temperature=1.0, top_p=0.9, top_k=0),  # the whole vocabulary
        SamplingParams(temperature=0.6, top_p=0.95, top_k=5, repetition_penalty=1.3, presence_penalty=1.5),
        GREEDY.updated(repetition_penalty=1.2),
    ]
    for seed in range(20):
        logits = torch.randn(len(kinds), 500, generator=torch.Generator().manual_seed(seed)) * 3
        history = {"prompt": [1, 2, 3, seed], "output": [7, 7, 9]}
        together = sample(logits.clone(), [row(p, seed=seed + i, **history) for i, p in enumerate(kinds)])
        alone = [sample(logits[i : i + 1].clone(), [row(p, seed=seed + i, **history)])[0] for i, p in enumerate(kinds)]
        assert together == alone
