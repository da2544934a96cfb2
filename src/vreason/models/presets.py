"""Known Qwen3-VL checkpoints with rough memory needs, shown by `vreason models`.

Estimates are arithmetic, not measurements: weights = parameters x bytes per parameter (bf16 2, fp8 1,
8-bit 1.06, 4-bit NF4 0.56 with its scales), plus the KV cache for one 8k-token conversation
(2 x layers x KV heads x head_dim x 2 bytes per token), plus 10% for activations and buffers.
"""

from __future__ import annotations

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
                out.append(Preset(name, f"Qwen/Qwen3-VL-{size}-{variant}{suffix}", size, thinking, fp8))
    return out


PRESETS: tuple[Preset, ...] = tuple(_presets())
DEFAULT_REAL_MODEL = "Qwen/Qwen3-VL-8B-Instruct"


def find_preset(name: str) -> Preset | None:
    """Match a short name (qwen3-vl-8b-instruct) or a hub id (Qwen/Qwen3-VL-8B-Instruct), any case."""
    key = name.strip().lower()
    for preset in PRESETS:
        if key in (preset.name, preset.hub_id.lower()):
            return preset
    return None
