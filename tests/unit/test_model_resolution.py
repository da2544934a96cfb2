"""Finding and vetting checkpoints: presets, local directories, and the one-line errors for what is wrong."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from vreason.errors import InvalidRequestError, ModelLoadError
from vreason.models import placement
from vreason.models.loader import LoadSpec, load_model, resolve_source
from vreason.models.placement import choose_placement, cpu_fast_dtype, cpu_flags
from vreason.models.presets import PRESETS, find_preset


def test_presets_cover_sizes_kinds_and_fp8():
    ids = {p.hub_id for p in PRESETS}
    for size in ("2B", "4B", "8B", "32B"):
        for kind in ("Instruct", "Thinking"):
            assert f"Qwen/Qwen3-VL-{size}-{kind}" in ids
            assert f"Qwen/Qwen3-VL-{size}-{kind}-FP8" in ids
    eight = find_preset("qwen/qwen3-vl-8b-instruct")
    assert eight is not None
    assert eight.hub_id == "Qwen/Qwen3-VL-8B-Instruct"
    # 8.8B parameters in bf16 are 16.4 GiB before the KV cache; fp8 and 4-bit need less.
    assert 17 < eight.memory_gib() < 22
    assert find_preset("qwen3-vl-8b-instruct-fp8").memory_gib() < eight.memory_gib()
    assert eight.memory_gib("4bit") < eight.memory_gib() / 2


def test_resolve_source(tmp_path):
    assert resolve_source("qwen3-vl-2b-thinking") == "Qwen/Qwen3-VL-2B-Thinking"
    assert resolve_source("someone/custom-qwen3-vl") == "someone/custom-qwen3-vl"
    with pytest.raises(ModelLoadError, match="does not exist"):
        resolve_source(str(tmp_path / "missing"))
    with pytest.raises(ModelLoadError, match="neither a local directory nor a hub id"):
        resolve_source("just-a-word")


def test_local_dir_problems(tmp_path):
    with pytest.raises(ModelLoadError, match="no config.json"):
        resolve_source(str(tmp_path))
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "qwen3_vl"}))
    with pytest.raises(ModelLoadError, match="no \\*.safetensors"):
        resolve_source(str(tmp_path))
    (tmp_path / "pytorch_model.bin").write_bytes(b"pickle")
    with pytest.raises(ModelLoadError, match="safetensors only"):
        resolve_source(str(tmp_path))


def test_other_architectures_refused(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "llama", "architectures": ["LlamaForCausalLM"]}))
    (tmp_path / "model.safetensors").write_bytes(b"")
    with pytest.raises(ModelLoadError, match="is a 'llama' checkpoint; vreason serves Qwen3-VL"):
        load_model(LoadSpec(model=str(tmp_path), device="cpu"))
    # refused from config.json alone: no model code imported first (seconds on a 2-core box)
    script = (
        "import sys\n"
        "from vreason.models.loader import LoadSpec, load_model\n"
        f"try: load_model(LoadSpec(model={str(tmp_path)!r}, device='cpu'))\n"
        "except Exception as err: print(type(err).__name__, err)\n"
        "print('torch' in sys.modules, 'transformers' in sys.modules)\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert proc.stdout.splitlines() == [f"ModelLoadError {tmp_path} is a 'llama' checkpoint; vreason serves Qwen3-VL "
                                "(qwen3_vl, qwen3_vl_moe)", "False False"], proc.stderr[-2000:]


def test_gpu_only_options_fail_clearly_on_cpu(tiny_model_dir, tmp_path):
    with pytest.raises(ModelLoadError, match="--quantize 4bit uses bitsandbytes, which needs a CUDA GPU"):
        load_model(LoadSpec(model=str(tiny_model_dir), device="cpu", quantize="4bit"))
    with pytest.raises(InvalidRequestError, match="quantize"):
        LoadSpec(quantize="3bit")
    config = json.loads((tiny_model_dir / "config.json").read_text())
    config["quantization_config"] = {"quant_method": "fp8", "weight_block_size": [128, 128]}
    fp8_dir = tmp_path / "fp8"
    fp8_dir.mkdir()
    (fp8_dir / "config.json").write_text(json.dumps(config))
    (fp8_dir / "model.safetensors").write_bytes(b"")
    with pytest.raises(ModelLoadError, match="FP8 checkpoint and needs a CUDA GPU"):
        load_model(LoadSpec(model=str(fp8_dir), device="cpu"))


def test_placement(monkeypatch):
    cpu = choose_placement("cpu", "auto")
    assert (cpu.device, cpu.dtype_name) == ("cpu", "bfloat16")  # size unknown (a hub id): the memory-safe choice
    # small: the machine's faster dtype (the check fixed here: a close call is measured afresh each time)
    monkeypatch.setattr(placement, "cached_bf16_speedup", lambda dims: 0.5)
    fastest, _ = cpu_fast_dtype(cpu_flags(), lambda: 0.5)
    assert choose_placement("cpu", "auto", float32_bytes=80 << 20).dtype_name == fastest == "float32"
    assert choose_placement("cpu", "auto", float32_bytes=16 << 30).dtype_name == "bfloat16"  # large: half memory
    assert choose_placement("cpu", "float32").dtype_name == "float32"
    with pytest.raises(InvalidRequestError, match="device"):
        choose_placement("tpu")
    with pytest.raises(InvalidRequestError, match="dtype"):
        choose_placement("cpu", "int3")


def test_offline_qwen_tokenizer_matches_the_released_ids(qwen_tokenizer):
    # Ids of the released Qwen2/Qwen3 tokenizer for the same text.
    assert qwen_tokenizer("Hello world").input_ids == [9707, 1879]
    assert qwen_tokenizer.convert_tokens_to_ids(["<|im_start|>", "<|im_end|>", "<|vision_start|>"]) == [
        151644,
        151645,
        151652,
    ]
    assert qwen_tokenizer.convert_tokens_to_ids(["<|image_pad|>", "<think>", "</think>"]) == [151655, 151667, 151668]
    # Think tags stay in decoded text (they are not special); chat markers do not.
    ids = qwen_tokenizer("<|im_start|>a<think>b</think>").input_ids
    assert qwen_tokenizer.decode(ids, skip_special_tokens=True) == "a<think>b</think>"
