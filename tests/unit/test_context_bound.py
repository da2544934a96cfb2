"""The cheap context bound on the real Qwen tokenizer: sound (never refuses what fits), and cheap for a huge
prompt (only about the limit's worth of text is tokenized)."""

from __future__ import annotations

import random

import pytest

from vreason.engine.context_bound import CHUNK_CHARS, ContextBound


class CountingTokenizer:
    """The real tokenizer, counting how many characters it was asked to tokenize."""

    def __init__(self, tokenizer):
        self.tokenizer = tokenizer
        self.chars = 0
        self.vocab_reads = 0

    def get_vocab(self):
        self.vocab_reads += 1
        return self.tokenizer.get_vocab()

    def __call__(self, text, **kwargs):
        self.chars += len(text)
        return self.tokenizer(text, **kwargs)


def texts(seed: int, length: int) -> str:
    rng = random.Random(seed)
    words = ["the", "quick", "Größe", "狐狸", "  ", "\n", "=====", "émoji🙂", "1234567", "tab\t", "x" * 40]
    return " ".join(rng.choice(words) for _ in range(length))


@pytest.mark.parametrize("seed", range(6))
def test_the_bound_never_refuses_a_prompt_that_fits_and_never_overstates(qwen_tokenizer, seed):
    text = texts(seed, 30_000)  # several chunks
    exact = len(qwen_tokenizer(text, add_special_tokens=False)["input_ids"])
    bound = ContextBound(qwen_tokenizer)
    assert bound.tokens_over(text, exact) is None
    over = bound.tokens_over(text, exact // 2)
    assert over is not None
    assert exact // 2 < over <= exact


def test_bytes_alone_refuse_a_prompt_no_vocabulary_could_fit(qwen_tokenizer):
    counting = CountingTokenizer(qwen_tokenizer)
    bound = ContextBound(counting)
    assert bound.tokens_over("a" * 1_000_000, 1000) == -(-1_000_000 // bound.longest_token_bytes)
    assert counting.chars == 0


def test_a_5_mb_prompt_is_refused_after_tokenizing_about_the_limit(qwen_tokenizer):
    text = texts(7, 900_000)[:5_000_000]
    counting = CountingTokenizer(qwen_tokenizer)
    limit = 20_000
    assert ContextBound(counting).tokens_over(text, limit) is not None
    assert counting.chars <= limit * 8 + CHUNK_CHARS  # not the 5 MB


def test_an_everyday_prompt_never_reads_the_vocabulary(qwen_tokenizer):
    counting = CountingTokenizer(qwen_tokenizer)
    bound = ContextBound(counting)
    assert bound.tokens_over("What colour is the shape? " * 40, 4096, visual_tokens=1024) is None
    assert counting.vocab_reads == 0  # bytes + visual tokens within the limit: no scan of 152k entries
    assert bound.tokens_over("a" * 9000, 8192) is None  # may fit by bytes: now the vocabulary decides
    assert counting.vocab_reads == 1
