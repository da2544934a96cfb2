"""A compact byte-level BPE tokenizer that carries every Qwen3-VL added token (same strings, same
special/non-special split, same chat markers), for small models.

Why not the real 151,643-rank Qwen vocabulary for the demo model: its embedding table alone is 9.7M
parameters at width 64 (19 MB in bf16) and the 151k-way output layer dominates CPU training time, while a
demo that talks about shapes needs a few hundred words. Byte-level BPE still encodes any text, and the
Qwen2 split pattern keeps digits single tokens, as in Qwen, so coordinates are written digit by digit.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from vreason.models.qwen_tokenizer import QWEN_PATTERN, with_qwen3_vl_tokens

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerFast


def train_compact_tokenizer(texts: Iterable[str], vocab_size: int = 1024) -> PreTrainedTokenizerFast:
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(QWEN_PATTERN), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    backend.decoder = decoders.ByteLevel()
    backend.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    backend.train_from_iterator(texts, trainer)
    return with_qwen3_vl_tokens(backend, model_max_length=32_768)
