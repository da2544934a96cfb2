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


# Edge presets: a small Qwen3-VL with int4/int8 weights on CPU (models/quantize.py), a lower pixel cap (512 x 512:
# 256 visual tokens, vision-encoder time is most of the TTFT on a CPU), threads = physical cores, and bounded
# caches and queue so that `vreason serve` stays within `rss_bound_gib` under load. Their memory is an estimate
# (the 2B/4B weights are not on this machine): quantized linears at 0.53 (int4, bf16 scales and zeros per group
# of 128) or 1.0 byte per weight (int8, float32 scale per row), the embedding and the vision tower (~0.4B) in
# bf16, the output head quantized on its own (untied), plus the bounded KV cache (max_kv_tokens) and caches.
# Measured numbers for the tiny and mid-size random models are in benchmarks/RESULTS.md (benchmarks/edge_bench.py).
EDGE_BYTES_PER_LINEAR_WEIGHT = {"int4": 0.53, "int8": 1.0}
EDGE_VISION_PARAMS_B = 0.4
EDGE_VOCAB = 151_936
EDGE_HIDDEN = {"2B": 2048, "4B": 2560}


@dataclass(frozen=True)
class EdgePreset:
    name: str  # what --preset takes
    model: str  # the preset short name of the checkpoint
    quantize: str  # "int4" | "int8"
    max_pixels: int = 512 * 512
    max_batch_size: int = 8
    max_kv_tokens: int = 8192
    max_prefill_tokens: int = 2048
    max_waiting: int = 32
    vision_cache_mib: int = 64
    prefix_cache_mib: int = 128

    @property
    def base(self) -> Preset:
        found = find_preset(self.model)
        assert found is not None, self.model
        return found

    def memory_gib(self) -> float:
        """Estimated resident memory under load: weights + KV at max_kv_tokens + caches + 10% (see above)."""
        arch, hidden = self.base.arch, EDGE_HIDDEN[self.base.size]
        embed = EDGE_VOCAB * hidden
        # the language model's linears, plus the output head: tied to the embedding in the checkpoint, its own
        # quantized copy once quantized
        linear = arch.params_b * 1e9 - EDGE_VISION_PARAMS_B * 1e9  # (embedding's share) + head's: equal sizes
        weights = linear * EDGE_BYTES_PER_LINEAR_WEIGHT[self.quantize] + (embed + EDGE_VISION_PARAMS_B * 1e9) * 2
        kv = arch.kv_bytes_per_token() * self.max_kv_tokens
        caches = (self.vision_cache_mib + self.prefix_cache_mib) * 2**20
        return (weights + kv + caches) * 1.10 / GIB


EDGE_PRESETS: tuple[EdgePreset, ...] = (
    EdgePreset("edge-2b-int4", "qwen3-vl-2b-instruct", "int4"),
    EdgePreset("edge-2b-int8", "qwen3-vl-2b-instruct", "int8"),
    EdgePreset("edge-4b-int4", "qwen3-vl-4b-instruct", "int4"),
    EdgePreset("edge-4b-int8", "qwen3-vl-4b-instruct", "int8"),
)
EDGE_ALIASES = {"edge": "edge-2b-int4"}


def find_edge_preset(name: str) -> EdgePreset:
    """`--preset NAME`: an edge preset by name (`edge` is edge-2b-int4); unknown names fail in one line."""
    from vreason.errors import InvalidRequestError

    key = EDGE_ALIASES.get(name.strip().lower(), name.strip().lower())
    for preset in EDGE_PRESETS:
        if preset.name == key:
            return preset
    names = ", ".join(["edge", *(p.name for p in EDGE_PRESETS)])
    raise InvalidRequestError(f"preset ({name!r}) must be one of {names} (`vreason models` lists them)", param="preset")
