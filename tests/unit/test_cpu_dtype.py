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
    monkeypatch.setattr(placement, "cached_bf16_speedup", lambda dims: 2.0)
    chosen = choose_placement("cpu", "auto", float32_bytes=80 << 20)
    assert chosen.dtype_name == "bfloat16"
    assert "amx_bf16" in chosen.reason
    assert choose_placement("cpu", "float32", float32_bytes=80 << 20).dtype_name == "float32"  # --dtype
    monkeypatch.setattr(placement, "cpu_flags", lambda: AVX2_EPYC)
    assert choose_placement("cpu", "auto", float32_bytes=80 << 20).dtype_name == "float32"
    assert choose_placement("cpu", "auto", float32_bytes=16 << 30).dtype_name == "bfloat16"  # large: memory


def test_the_check_runs_once_per_machine_and_width(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    calls = []
    monkeypatch.setattr(placement, "measure_bf16_speedup", lambda dims: calls.append(dims) or dims[0] / 100)
    assert placement.cached_bf16_speedup((256, 768)) == 2.56
    assert placement.cached_bf16_speedup((256, 768)) == 2.56
    assert placement.cached_bf16_speedup((128, 384)) == 1.28  # another width: measured, not the cached one
    assert calls == [(256, 768), (128, 384)]
    stored = json.loads((tmp_path / "vreason" / "cpu-dtype.json").read_text())
    assert sorted(stored.values()) == [1.28, 2.56]


def test_a_small_model_is_checked_at_its_own_width(monkeypatch):
    monkeypatch.setattr(placement, "cpu_flags", lambda: SAPPHIRE_RAPIDS)
    asked = []
    speedups = {(128, 384): 0.6, (1024, 3072): 2.0, placement.CHECK_DIMS: 0.7}
    monkeypatch.setattr(placement, "cached_bf16_speedup", lambda dims: asked.append(dims) or speedups[dims])
    assert choose_placement("cpu", "auto", float32_bytes=80 << 20, dims=(128, 384)).dtype_name == "float32"
    assert choose_placement("cpu", "auto", float32_bytes=900 << 20, dims=(1024, 3072)).dtype_name == "bfloat16"
    assert choose_placement("cpu", "auto", float32_bytes=80 << 20).dtype_name == "float32"  # unknown: CHECK_DIMS
    # a width the files cannot hold (a Llama config beside an empty file): not measured at 4096 x 11008
    assert choose_placement("cpu", "auto", float32_bytes=0, dims=(4096, 11008)).dtype_name == "float32"
    assert asked == [(128, 384), (1024, 3072), placement.CHECK_DIMS, placement.CHECK_DIMS]


def test_the_check_width_is_capped_and_plausible():
    assert placement.check_width((128, 384), 80 << 20) == (128, 384)
    assert placement.check_width((8192, 29568), 2 << 30) == placement.CHECK_DIMS  # one layer > the files
    assert placement.check_width((2048, 6144), 2 << 30) == (1024, 4096)  # capped
    assert placement.check_width((0, 384), 80 << 20) == placement.CHECK_DIMS


def test_decoder_dims_read_both_config_kinds():
    from transformers import AutoConfig

    from vreason.models.demo import demo_model_dir
    from vreason.models.native.config import read_config

    native = placement.decoder_dims(read_config(demo_model_dir()))
    assert native == placement.decoder_dims(AutoConfig.from_pretrained(demo_model_dir()))
    assert native == placement.CHECK_DIMS  # the built-in model's width is the default check's
    assert placement.decoder_dims(object()) is None


def test_the_real_check_measures_a_positive_ratio():
    assert placement.measure_bf16_speedup((64, 192), rounds=3) > 0


def test_a_close_call_is_used_but_not_cached(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    results = iter([1.05, 1.5])
    monkeypatch.setattr(placement, "measure_bf16_speedup", lambda dims: next(results))
    assert placement.cached_bf16_speedup((256, 768)) == 1.05  # within CHECK_UNSURE of 1.1: measured again
    assert placement.cached_bf16_speedup((256, 768)) == 1.5
    assert placement.cached_bf16_speedup((256, 768)) == 1.5  # clear: cached
    (tmp_path / "vreason" / "cpu-dtype.json").write_text("[1, 2]")  # a broken cache is measured over
    monkeypatch.setattr(placement, "measure_bf16_speedup", lambda dims: 0.4)
    assert placement.cached_bf16_speedup((256, 768)) == 0.4


@pytest.mark.parametrize(("flags", "dtype", "copied"), [
    (AVX2_EPYC, "float32", True), (AVX2_EPYC, "bfloat16", True),  # no native bf16: the float32 copy
    (SAPPHIRE_RAPIDS, "float32", True), (SAPPHIRE_RAPIDS, "bfloat16", False),  # AMX: a bf16 head stays bf16
])
def test_the_float32_head_copy_follows_the_dtype_and_the_cpu(monkeypatch, flags, dtype, copied):
    import torch

    from vreason.engine.output_head import fp32_copy

    monkeypatch.setattr(placement, "cpu_flags", lambda: flags)
    head = torch.nn.Linear(16, 40, bias=False).to(getattr(torch, dtype))
    copy = fp32_copy(head)
    assert (copy is not None) == copied
    if copied:
        assert copy.dtype == torch.float32
        assert torch.equal(copy, head.weight.float().t())
