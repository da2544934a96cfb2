"""Known Qwen3-VL checkpoints with rough memory needs, shown by `vreason models`, and their short names.

Every preset answers to its short name (`qwen3-vl-8b-thinking-fp8`) and its hub id, in any case; the Instruct
bf16 checkpoint of each size also answers to the size alone (`qwen3-vl-8b`). A name that is none of these gets
the closest short names as a suggestion (`unknown_model_message`).

Estimates are arithmetic, not measurements: weights = parameters x bytes per parameter (bf16 2, fp8 1,
8-bit 1.06, 4-bit NF4 0.56 with its scales), plus the KV cache for one 8k-token conversation
(2 x layers x KV heads x head_dim x 2 bytes per token), plus 10% for activations and buffers.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

GIB = 1024**3
KV_CONTEXT_TOKENS = 8192
BYTES_PER_PARAM = {"bf16": 2.0, "fp8": 1.0, "8bit": 1.06, "4bit": 0.56}


@dataclass(frozen=True)
class Architecture:
    params_b: float  # total parameters, billions (vision tower included)
    layers: int
    kv_heads: int
    head_dim: int = 128
    active_b: float | None = None  # mixture-of-experts: parameters used per token

    def kv_bytes_per_token(self) -> int:
        return 2 * self.layers * self.kv_heads * self.head_dim * 2


ARCHITECTURES = {
    "2B": Architecture(params_b=2.1, layers=28, kv_heads=8),
    "4B": Architecture(params_b=4.4, layers=36, kv_heads=8),
    "8B": Architecture(params_b=8.8, layers=36, kv_heads=8),
    "32B": Architecture(params_b=33.4, layers=64, kv_heads=8),
    "30B-A3B": Architecture(params_b=31.1, layers=48, kv_heads=4, active_b=3.3),
    "235B-A22B": Architecture(params_b=236.0, layers=94, kv_heads=4, active_b=22.0),
}


@dataclass(frozen=True)
class Preset:
    name: str  # short name accepted by --model
    hub_id: str
    size: str  # key of ARCHITECTURES
    thinking: bool
    fp8: bool
    alias: str | None = None  # shorter name for the size's default checkpoint (Instruct, bf16)

    @property
    def arch(self) -> Architecture:
        return ARCHITECTURES[self.size]

    def memory_gib(self, precision: str | None = None) -> float:
        precision = precision or ("fp8" if self.fp8 else "bf16")
        weights = self.arch.params_b * 1e9 * BYTES_PER_PARAM[precision]
        kv = self.arch.kv_bytes_per_token() * KV_CONTEXT_TOKENS
        return (weights + kv) * 1.10 / GIB


def _presets() -> list[Preset]:
    out = []
    for size in ARCHITECTURES:
        for thinking in (False, True):
            for fp8 in (False, True):
                variant = "Thinking" if thinking else "Instruct"
                suffix = "-FP8" if fp8 else ""
                name = f"qwen3-vl-{size.lower()}-{variant.lower()}{suffix.lower()}"
                alias = None if thinking or fp8 else f"qwen3-vl-{size.lower()}"
                out.append(Preset(name, f"Qwen/Qwen3-VL-{size}-{variant}{suffix}", size, thinking, fp8, alias))
    return out


PRESETS: tuple[Preset, ...] = tuple(_presets())
DEFAULT_REAL_MODEL = "Qwen/Qwen3-VL-8B-Instruct"


def find_preset(name: str) -> Preset | None:
    """Match a short name (qwen3-vl-8b-instruct, qwen3-vl-8b) or a hub id (Qwen/Qwen3-VL-8B-Instruct), any case."""
    key = name.strip().lower()
    for preset in PRESETS:
        if key in (preset.name, preset.alias, preset.hub_id.lower()):
            return preset
    return None


def short_names() -> list[str]:
    """Every short name --model accepts, aliases first (they are what people type)."""
    return [p.alias for p in PRESETS if p.alias] + [p.name for p in PRESETS]


def suggest_names(name: str, limit: int = 3) -> list[str]:
    """The short names closest to a mistyped one (difflib's ratio >= 0.6), best first."""
    return difflib.get_close_matches(name.strip().lower(), short_names(), n=limit, cutoff=0.6)


def unknown_model_message(name: str) -> str:
    """One line for a --model that is no local directory, preset or hub id, with the closest short names."""
    suggestions = suggest_names(name)
    hint = f"did you mean {' or '.join(suggestions)}? " if suggestions else ""
    return (
        f"model {name!r} is neither a local directory nor a hub id like Qwen/Qwen3-VL-8B-Instruct nor a short name; "
        f"{hint}(`vreason models` lists the short names)"
    )
