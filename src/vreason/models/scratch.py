"""Build a randomly initialised Qwen3-VL checkpoint directory: real architecture, real Qwen tokenizer,
real processor and a Qwen3-VL chat template, at any size.

Test fixtures and the demo model start here; the directory it writes loads through exactly the code
path a downloaded Qwen/Qwen3-VL-* checkpoint takes (`vreason.models.loader`).
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from vreason.media.pixel_budget import DEFAULT_MAX_PIXELS, DEFAULT_MIN_PIXELS, PATCH_SIZE, SPATIAL_MERGE
from vreason.models.qwen_tokenizer import build_qwen_tokenizer

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerFast

SPECIAL_IDS = {  # config field -> token; ids come from the tokenizer, so any tokenizer carrying them works
    "image_token_id": "<|image_pad|>",
    "video_token_id": "<|video_pad|>",
    "vision_start_token_id": "<|vision_start|>",
    "vision_end_token_id": "<|vision_end|>",
}


@dataclass(frozen=True)
class ScratchSizes:
    text_hidden: int = 64
    text_layers: int = 2
    text_heads: int = 4
    text_kv_heads: int = 2
    head_dim: int = 16
    text_intermediate: int = 128
    vision_depth: int = 2
    vision_hidden: int = 32
    vision_heads: int = 2
    vision_intermediate: int = 64
    vision_positions: int = 256  # learned position grid (16x16), interpolated to any image size
    deepstack_indexes: tuple[int, ...] = (0,)  # vision layers whose features also feed early text layers
    max_positions: int = 8192
    # Sharing input and output embeddings halves the 151,936-row table, which dominates a small model.
    tie_embeddings: bool = True


def chat_template(thinking: bool) -> str:
    name = "qwen3_vl_thinking.jinja" if thinking else "qwen3_vl_instruct.jinja"
    return resources.files("vreason.models").joinpath("templates", name).read_text()


def mrope_section(head_dim: int) -> list[int]:
    """Split head_dim/2 rotary frequencies over (time, height, width) like the released 3:5:5 of 64."""
    half = head_dim // 2
    t = max(1, round(half * 24 / 64))
    h = (half - t) // 2
    return [t, h, half - t - h]


def build_scratch_checkpoint(
    out_dir: str | Path,
    sizes: ScratchSizes | None = None,
    *,
    thinking: bool = False,
    seed: int = 0,
    tokenizer: PreTrainedTokenizerFast | None = None,
    min_pixels: int = DEFAULT_MIN_PIXELS,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> Path:
    """Write config, random safetensors weights, tokenizer, processor and chat template into `out_dir`.

    `tokenizer` defaults to the real Qwen one (built in ~7 s); pass one to reuse it across builds.
    """
    import torch
    from transformers import (
        GenerationConfig,
        Qwen2VLImageProcessor,
        Qwen3VLConfig,
        Qwen3VLForConditionalGeneration,
        Qwen3VLProcessor,
        Qwen3VLVideoProcessor,
    )

    sizes = sizes or ScratchSizes()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = tokenizer or build_qwen_tokenizer()
    image_processor = Qwen2VLImageProcessor(
        patch_size=PATCH_SIZE,
        merge_size=SPATIAL_MERGE,
        temporal_patch_size=2,
        size={"shortest_edge": min_pixels, "longest_edge": max_pixels},
        image_mean=[0.5, 0.5, 0.5],
        image_std=[0.5, 0.5, 0.5],
    )
    processor = Qwen3VLProcessor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        video_processor=Qwen3VLVideoProcessor(),
        chat_template=chat_template(thinking),
    )
    ids = {field: tokenizer.convert_tokens_to_ids(token) for field, token in SPECIAL_IDS.items()}
    im_end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    endoftext = tokenizer.convert_tokens_to_ids("<|endoftext|>")
    # Embedding rows padded to a multiple of 128, as in the released checkpoints (151,936 rows there).
    vocab_size = -(-len(tokenizer) // 128) * 128
    config = Qwen3VLConfig(
        **ids,
        text_config={
            "vocab_size": vocab_size,
            "hidden_size": sizes.text_hidden,
            "intermediate_size": sizes.text_intermediate,
            "num_hidden_layers": sizes.text_layers,
            "num_attention_heads": sizes.text_heads,
            "num_key_value_heads": sizes.text_kv_heads,
            "head_dim": sizes.head_dim,
            "max_position_embeddings": sizes.max_positions,
            "rope_parameters": {
                "rope_type": "default",
                "rope_theta": 5_000_000.0,
                "mrope_section": mrope_section(sizes.head_dim),
                "mrope_interleaved": True,
            },
            "tie_word_embeddings": sizes.tie_embeddings,
            "bos_token_id": endoftext,
            "eos_token_id": im_end,
            "pad_token_id": endoftext,
        },
        vision_config={
            "depth": sizes.vision_depth,
            "hidden_size": sizes.vision_hidden,
            "intermediate_size": sizes.vision_intermediate,
            "num_heads": sizes.vision_heads,
            "out_hidden_size": sizes.text_hidden,
            "patch_size": PATCH_SIZE,
            "spatial_merge_size": SPATIAL_MERGE,
            "temporal_patch_size": 2,
            "num_position_embeddings": sizes.vision_positions,
            "deepstack_visual_indexes": list(sizes.deepstack_indexes),
        },
        tie_word_embeddings=sizes.tie_embeddings,
    )
    torch.manual_seed(seed)
    model = Qwen3VLForConditionalGeneration(config)
    model.generation_config = GenerationConfig(
        eos_token_id=[im_end, endoftext],
        pad_token_id=endoftext,
        do_sample=True,
        temperature=0.6 if thinking else 0.7,
        top_p=0.95 if thinking else 0.8,
        top_k=20,
    )
    model.save_pretrained(out)
    processor.save_pretrained(out)
    return out
