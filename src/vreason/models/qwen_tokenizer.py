"""The real Qwen tokenizer, built offline from the BPE ranks that the `dashscope` wheel ships.

151,643 byte-level BPE ranks (`qwen.tiktoken`) converted with transformers' `TikTokenConverter` and the
Qwen2 pre-tokenizer pattern, plus Qwen3-VL's added tokens at their real ids 151643..151668. The result
encodes text to the same ids as Qwen/Qwen3-VL-*'s tokenizer, so a model built on it shares the real
checkpoints' vocabulary and chat format. Needs the `train` extra (tiktoken, dashscope).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from vreason.errors import ModelLoadError

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerFast

# Qwen2/Qwen3 split pattern: single digits, unlike GPT-4's 1-3 digit groups.
QWEN_PATTERN = (
    r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"""
    r"""|\s*[\r\n]+|\s+(?!\S)|\s+"""
)
NUM_BPE_RANKS = 151_643
# (token, special) in id order from 151643; `special` tokens are dropped by skip_special_tokens,
# the others (tool and think tags) stay in decoded text, as in the released tokenizers.
ADDED_TOKENS: tuple[tuple[str, bool], ...] = (
    ("<|endoftext|>", True),
    ("<|im_start|>", True),
    ("<|im_end|>", True),
    ("<|object_ref_start|>", True),
    ("<|object_ref_end|>", True),
    ("<|box_start|>", True),
    ("<|box_end|>", True),
    ("<|quad_start|>", True),
    ("<|quad_end|>", True),
    ("<|vision_start|>", True),
    ("<|vision_end|>", True),
    ("<|vision_pad|>", True),
    ("<|image_pad|>", True),
    ("<|video_pad|>", True),
    ("<tool_call>", False),
    ("</tool_call>", False),
    ("<|fim_prefix|>", False),
    ("<|fim_middle|>", False),
    ("<|fim_suffix|>", False),
    ("<|fim_pad|>", False),
    ("<|repo_name|>", False),
    ("<|file_sep|>", False),
    ("<tool_response>", False),
    ("</tool_response>", False),
    ("<think>", False),
    ("</think>", False),
)
FIRST_ADDED_ID = NUM_BPE_RANKS


def qwen_tiktoken_path() -> Path:
    try:
        import dashscope
    except ImportError:
        raise ModelLoadError(
            "building a Qwen tokenizer offline needs the `train` extra: pip install 'vreason[train]'"
        ) from None
    path = Path(dashscope.__file__).parent / "resources" / "qwen.tiktoken"
    if not path.is_file():
        raise ModelLoadError(f"the dashscope package has no {path.name} at {path}; reinstall dashscope")
    return path


def build_qwen_tokenizer() -> PreTrainedTokenizerFast:
    from transformers.convert_slow_tokenizer import TikTokenConverter

    backend = TikTokenConverter(vocab_file=str(qwen_tiktoken_path()), pattern=QWEN_PATTERN).converted()
    if backend.get_vocab_size() != NUM_BPE_RANKS:
        raise ModelLoadError(f"expected {NUM_BPE_RANKS} BPE ranks, found {backend.get_vocab_size()}")
    tokenizer = with_qwen3_vl_tokens(backend, model_max_length=262_144)
    for offset, (token, _) in enumerate(ADDED_TOKENS):
        got = tokenizer.convert_tokens_to_ids(token)
        if got != FIRST_ADDED_ID + offset:
            raise ModelLoadError(f"{token} got id {got}, expected {FIRST_ADDED_ID + offset}")
    return tokenizer


def with_qwen3_vl_tokens(backend: Any, model_max_length: int) -> PreTrainedTokenizerFast:
    """Append Qwen3-VL's added tokens to a `tokenizers.Tokenizer` and wrap it as a Qwen2 fast tokenizer
    (end of turn <|im_end|>, padding <|endoftext|>, no BOS), the way the released checkpoints configure it."""
    from tokenizers import AddedToken
    from transformers import Qwen2TokenizerFast

    for token, special in ADDED_TOKENS:
        added = AddedToken(token, special=special, normalized=False)
        if special:
            backend.add_special_tokens([added])
        else:
            backend.add_tokens([added])
    return Qwen2TokenizerFast(
        tokenizer_object=backend,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        unk_token=None,
        bos_token=None,
        model_max_length=model_max_length,
    )
