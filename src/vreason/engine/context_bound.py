"""A cheap lower bound on a prompt's token count: a prompt that cannot fit the model's context is refused
before it is tokenized in full (a 5 MB prompt costs 7-9 s of CPU to tokenize). No torch.

Visual tokens (images and video patches, known from their sizes before any pixel is processed) are added to
the text's count: a long clip alone can be over the context, and is refused before the vision tower runs.

Two bounds on the text, both sound (they never refuse a prompt that fits):
- bytes: no token covers more than the vocabulary's longest entry, so tokens >= UTF-8 bytes / that length;
- chunks: past `CHUNK_CHARS`, the text is tokenized a chunk at a time (cut at whitespace) and counting stops
  as soon as the total, less one token per cut for merges a cut may have split, is over the limit; only
  about `limit` tokens of text are ever tokenized for a prompt that does not fit.
"""

from __future__ import annotations

from typing import Any

CHUNK_CHARS = 65_536


class ContextBound:
    def __init__(self, tokenizer: Any):
        self.tokenizer = tokenizer
        self._longest: int | None = None

    @property
    def longest_token_bytes(self) -> int:
        # Vocabulary entries are written in the tokenizer's own alphabet (byte-level BPE: one character per
        # byte; SentencePiece: U+2581 for a space): their UTF-8 length is at least the bytes they stand for.
        if self._longest is None:
            self._longest = max(len(token.encode("utf-8")) for token in self.tokenizer.get_vocab())
        return self._longest

    def tokens_over(self, text: str, limit: int, visual_tokens: int = 0) -> int | None:
        """A proven lower bound on the tokens of `text` plus `visual_tokens` when it is over `limit`; None when
        it may fit."""
        size = len(text.encode("utf-8"))
        # The byte bound, ceil(bytes / longest token), never exceeds the bytes: when bytes + visual tokens fit,
        # it cannot refuse, and the everyday prompt skips the vocabulary scan (~0.5 s on a 152k vocabulary).
        if size + visual_tokens > limit:
            at_least = -(-size // self.longest_token_bytes) + visual_tokens
            if at_least > limit:
                return at_least
        if len(text) <= CHUNK_CHARS:
            return None  # tokenizing it whole is cheap: the exact count decides
        counted = visual_tokens
        for cuts, chunk in enumerate(_chunks(text, CHUNK_CHARS)):
            counted += len(self.tokenizer(chunk, add_special_tokens=False)["input_ids"])
            if counted - cuts > limit:
                return counted - cuts
        return None


def _chunks(text: str, size: int):
    start = 0
    while start < len(text):
        end = min(start + size, len(text))
        if end < len(text):
            cut = max(text.rfind(" ", start + 1, end), text.rfind("\n", start + 1, end))
            end = cut if cut > start else end
        yield text[start:end]
        start = end
