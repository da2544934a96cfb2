"""Edge presets (models/presets.py): names, what `--preset` fills in under explicit options, the serving bounds
the factory applies, and the CPU facts `vreason models --system` prints."""

from __future__ import annotations

import pytest

from vreason.cli.options import LoadingOptions, engine_spec
from vreason.engine.factory import EngineSpec, apply_edge_bounds
from vreason.engine.local_engine import EngineConfig
from vreason.errors import InvalidRequestError
from vreason.models.placement import SYSTEM_FLAGS, cpu_defaults, physical_cores
from vreason.models.presets import EDGE_PRESETS, find_edge_preset, find_preset


def test_edge_names_resolve_and_unknown_ones_fail_in_one_line():
    assert find_edge_preset("edge").name == "edge-2b-int4"
    assert find_edge_preset("EDGE-4B-INT8").quantize == "int8"
    with pytest.raises(InvalidRequestError, match="preset .'tiny'. must be one of edge, edge-2b-int4"):
        find_edge_preset("tiny")
    with pytest.raises(InvalidRequestError, match="preset"):
        EngineSpec(preset="tiny")


def test_presets_are_small_quantized_models_with_lower_memory_than_bf16():
    for edge in EDGE_PRESETS:
        assert find_preset(edge.model) is not None
        assert edge.base.size in ("2B", "4B")
        assert edge.max_pixels == 512 * 512
        assert edge.memory_gib() < edge.base.memory_gib()
    int4, int8 = find_edge_preset("edge-2b-int4"), find_edge_preset("edge-2b-int8")
    assert int4.memory_gib() < int8.memory_gib()


def test_preset_fills_in_what_the_options_leave_unset():
    spec = engine_spec(LoadingOptions(preset="edge"))
    assert (spec.model, spec.quantize, spec.max_pixels, spec.preset) == (
        "qwen3-vl-2b-instruct",
        "int4",
        512 * 512,
        "edge",
    )
    mine = engine_spec(LoadingOptions(preset="edge-4b-int4", model="/m", quantize="int8", max_pixels=100_000))
    assert (mine.model, mine.quantize, mine.max_pixels) == ("/m", "int8", 100_000)


def test_bounds_cap_caches_batch_and_queue_and_set_threads():
    import torch

    config = EngineConfig()
    before = torch.get_num_threads()
    try:
        apply_edge_bounds(config, "edge")
        edge = find_edge_preset("edge")
        assert config.vision_cache_bytes == edge.vision_cache_mib << 20
        assert config.prefix_cache_bytes == edge.prefix_cache_mib << 20
        assert config.scheduler.max_waiting == edge.max_waiting
        assert config.scheduler.max_batch_size == edge.max_batch_size
        assert config.scheduler.max_kv_tokens == edge.max_kv_tokens
        assert torch.get_num_threads() == physical_cores()
    finally:
        torch.set_num_threads(before)


def test_cpu_defaults_say_why():
    defaults = cpu_defaults()
    assert defaults.threads == physical_cores() >= 1
    assert defaults.dtype in ("float32", "bfloat16")
    assert "bf16" in defaults.dtype_why
    assert "output projection" in defaults.head_copy_why
    assert {"avx2", "amx_bf16"} <= set(SYSTEM_FLAGS)
