"""The CPU dtype per machine (models/placement.py): float32 without native bf16, whatever a check would say;
with native bf16 the measured check decides; the check runs once per machine (cached); `--dtype` overrides."""

from __future__ import annotations

import json

import pytest

from vreason.models import placement
from vreason.models.placement import choose_placement, cpu_fast_dtype

AVX2_EPYC = frozenset(
    ["fpu", "sse", "sse2", "ssse3", "sse4_1", "sse4_2", "fma", "avx", "f16c", "avx2", "bmi2", "sha_ni", "vaes"]
)
SAPPHIRE_RAPIDS = AVX2_EPYC | {"avx512f", "avx512bw", "avx512_bf16", "avx512_fp16", "amx_bf16", "amx_tile"}
ZEN4 = AVX2_EPYC | {"avx512f", "avx512bw", "avx512_bf16"}


def never_measured() -> float:
    raise AssertionError("no check on a CPU without native bf16")


def test_no_native_bf16_means_float32_without_measuring():
    name, why = cpu_fast_dtype(AVX2_EPYC, never_measured)
    assert name == "float32"
    assert "no native bf16" in why


@pytest.mark.parametrize(("flags", "flag"), [(SAPPHIRE_RAPIDS, "amx_bf16"), (ZEN4, "avx512_bf16")])
def test_native_bf16_is_chosen_only_where_the_check_finds_it_faster(flags, flag):
    name, why = cpu_fast_dtype(flags, lambda: 1.8)
    assert (name, flag in why, "1.80x" in why) == ("bfloat16", True, True)
    name, why = cpu_fast_dtype(flags, lambda: 0.8)  # native, yet slower for these products: keep float32
    assert name == "float32"
    assert "0.80x" in why
    assert cpu_fast_dtype(flags, lambda: 1.05)[0] == "float32"  # a tie keeps float32's exactness


def test_small_model_on_cpu_follows_the_machine_and_dtype_overrides(monkeypatch):
    monkeypatch.setattr(placement, "cpu_flags", lambda: SAPPHIRE_RAPIDS)
    monkeypatch.setattr(placement, "cached_bf16_speedup", lambda: 2.0)
    chosen = choose_placement("cpu", "auto", float32_bytes=80 << 20)
    assert chosen.dtype_name == "bfloat16"
    assert "amx_bf16" in chosen.reason
    assert choose_placement("cpu", "float32", float32_bytes=80 << 20).dtype_name == "float32"  # --dtype
    monkeypatch.setattr(placement, "cpu_flags", lambda: AVX2_EPYC)
    assert choose_placement("cpu", "auto", float32_bytes=80 << 20).dtype_name == "float32"
    assert choose_placement("cpu", "auto", float32_bytes=16 << 30).dtype_name == "bfloat16"  # large: memory


def test_the_check_runs_once_per_machine(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    calls = []
    monkeypatch.setattr(placement, "measure_bf16_speedup", lambda: calls.append(1) or 1.5)
    assert placement.cached_bf16_speedup() == 1.5
    assert placement.cached_bf16_speedup() == 1.5
    assert len(calls) == 1
    stored = json.loads((tmp_path / "vreason" / "cpu-dtype.json").read_text())
    assert list(stored.values()) == [1.5]


def test_the_real_check_measures_a_positive_ratio():
    assert placement.measure_bf16_speedup(repeats=2) > 0
