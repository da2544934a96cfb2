"""A Qwen3-VL checkpoint's config.json read into small frozen dataclasses, without transformers.

Contract: `read_config(directory)` returns a `NativeConfig` for a dense Qwen3-VL checkpoint (model_type
`qwen3_vl`) in either layout the checkpoints ship in: transformers 5's (`rope_parameters` in each sub-config)
or the released one of transformers 4.57 (`rope_theta` and `rope_scaling` beside them). It raises
`UnsupportedNative` with the reason for anything the native model (models/native/model.py) does not compute
exactly — another model type (the MoE variant), biased attention, a rope type other than the default, an
activation it does not know; the loader then takes transformers' code instead.

The attributes keep transformers' names (`get_text_config()`, `vision_config`, `image_token_id`, ...), because
the engine reads them from whichever model is loaded (engine/batch_runner.py, engine/cache_budget.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ACTIVATIONS = ("silu", "gelu_pytorch_tanh", "gelu")
# What transformers' Qwen3-VL config classes (5.24) assume for a key config.json leaves out: the same checkpoint
# must mean the same model on both paths (a missing deepstack list is three deepstack layers, not none).
VISION_DEFAULTS = {"depth": 27, "hidden_size": 1152, "hidden_act": "gelu_pytorch_tanh", "intermediate_size": 4304,
                   "num_heads": 16, "in_channels": 3, "patch_size": 16, "spatial_merge_size": 2,
                   "temporal_patch_size": 2, "out_hidden_size": 3584, "num_position_embeddings": 2304,
                   "deepstack_visual_indexes": (8, 16, 24)}
TEXT_DEFAULTS = {"vocab_size": 151936, "hidden_size": 4096, "intermediate_size": 22016, "num_hidden_layers": 32,
                 "num_attention_heads": 32, "num_key_value_heads": 32, "head_dim": 128, "hidden_act": "silu",
                 "max_position_embeddings": 128000, "rms_norm_eps": 1e-6, "attention_bias": False,
                 "pad_token_id": None}
TOP_DEFAULTS = {"image_token_id": 151655, "video_token_id": 151656, "vision_start_token_id": 151652,
                "vision_end_token_id": 151653, "tie_word_embeddings": False}


class UnsupportedNative(ValueError):
    """The checkpoint is one the native model does not compute; the message says why."""


@dataclass(frozen=True)
class TextConfig:
    hidden_size: int
    num_hidden_layers: int
    num_attention_heads: int
    num_key_value_heads: int
    head_dim: int
    intermediate_size: int
    hidden_act: str
    rms_norm_eps: float
    vocab_size: int
    rope_theta: float
    mrope_section: tuple[int, int, int]
    max_position_embeddings: int
    tie_word_embeddings: bool
    pad_token_id: int | None = None
    # what the engine asks of a transformers config: "sdpa" means a missing mask is read as causal
    _attn_implementation: str = "sdpa"


@dataclass(frozen=True)
class VisionConfig:
    depth: int
    hidden_size: int
    num_heads: int
    intermediate_size: int
    hidden_act: str
    in_channels: int
    patch_size: int
    temporal_patch_size: int
    spatial_merge_size: int
    out_hidden_size: int
    num_position_embeddings: int
    deepstack_visual_indexes: tuple[int, ...]
    rope_theta: float


@dataclass(frozen=True)
class NativeConfig:
    text_config: TextConfig
    vision_config: VisionConfig
    image_token_id: int
    video_token_id: int
    vision_start_token_id: int
    vision_end_token_id: int
    dtype: str  # the stored weights' dtype name ("bfloat16", "float32")
    model_type: str = "qwen3_vl"

    def get_text_config(self) -> TextConfig:
        return self.text_config


def read_config(directory: str | Path) -> NativeConfig:
    path = Path(directory) / "config.json"
    try:
        raw = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise UnsupportedNative(f"{path}: {err}") from None
    if raw.get("model_type") != "qwen3_vl":
        raise UnsupportedNative(f"model_type {raw.get('model_type')!r} (the native model is dense Qwen3-VL)")
    if raw.get("quantization_config"):
        raise UnsupportedNative("a quantized checkpoint (quantization_config)")
    top = {**TOP_DEFAULTS, **raw}
    text = {**TEXT_DEFAULTS, **(raw.get("text_config") or {})}
    vision = {**VISION_DEFAULTS, **(raw.get("vision_config") or {})}
    try:
        return NativeConfig(
            text_config=_text(text, bool(top["tie_word_embeddings"])),
            vision_config=_vision(vision),
            image_token_id=int(top["image_token_id"]),
            video_token_id=int(top["video_token_id"]),
            vision_start_token_id=int(top["vision_start_token_id"]),
            vision_end_token_id=int(top["vision_end_token_id"]),
            dtype=str(raw.get("dtype") or raw.get("torch_dtype") or text.get("dtype") or text.get("torch_dtype")
                      or "bfloat16"),
        )
    except (TypeError, ValueError) as err:  # a null or a string where a number belongs
        raise UnsupportedNative(f"{path}: {err}") from None


def _text(text: dict[str, Any], tie: bool) -> TextConfig:
    if text["attention_bias"]:
        raise UnsupportedNative("the text attention has biases")
    rope = dict(text.get("rope_parameters") or text.get("rope_scaling") or {})
    rope_type = rope.get("rope_type", rope.get("type", "default"))
    if rope_type != "default":
        raise UnsupportedNative(f"text rope type {rope_type!r}")
    theta = rope.get("rope_theta", text.get("rope_theta"))
    section = rope.get("mrope_section")
    if theta is None or section is None or len(section) != 3:
        raise UnsupportedNative("no rope_theta or three-part mrope_section in the text config")
    if text["hidden_act"] not in ACTIVATIONS:
        raise UnsupportedNative(f"text activation {text['hidden_act']!r}")
    return TextConfig(
        hidden_size=int(text["hidden_size"]),
        num_hidden_layers=int(text["num_hidden_layers"]),
        num_attention_heads=int(text["num_attention_heads"]),
        num_key_value_heads=int(text["num_key_value_heads"]),
        head_dim=int(text["head_dim"]),
        intermediate_size=int(text["intermediate_size"]),
        hidden_act=text["hidden_act"],
        rms_norm_eps=float(text["rms_norm_eps"]),
        vocab_size=int(text["vocab_size"]),
        rope_theta=float(theta),
        mrope_section=(int(section[0]), int(section[1]), int(section[2])),
        max_position_embeddings=int(text["max_position_embeddings"]),
        # transformers 5 ties the output head to the embeddings by the top-level flag alone
        tie_word_embeddings=tie,
        pad_token_id=text["pad_token_id"],
    )


def _vision(vision: dict[str, Any]) -> VisionConfig:
    if vision["hidden_act"] not in ACTIVATIONS:
        raise UnsupportedNative(f"vision activation {vision['hidden_act']!r}")
    rope = dict(vision.get("rope_parameters") or {})
    if rope.get("rope_type", "axial") != "axial":
        raise UnsupportedNative(f"vision rope type {rope.get('rope_type')!r}")
    return VisionConfig(
        depth=int(vision["depth"]),
        hidden_size=int(vision["hidden_size"]),
        num_heads=int(vision["num_heads"]),
        intermediate_size=int(vision["intermediate_size"]),
        hidden_act=vision["hidden_act"],
        in_channels=int(vision["in_channels"]),
        patch_size=int(vision["patch_size"]),
        temporal_patch_size=int(vision["temporal_patch_size"]),
        spatial_merge_size=int(vision["spatial_merge_size"]),
        out_hidden_size=int(vision["out_hidden_size"]),
        num_position_embeddings=int(vision["num_position_embeddings"]),
        deepstack_visual_indexes=tuple(int(i) for i in vision["deepstack_visual_indexes"]),
        rope_theta=float(rope.get("rope_theta", 10000.0)),
    )
