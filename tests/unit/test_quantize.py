"""Weight-only int8/int4 on CPU (models/quantize.py): which linears are quantized, the fast decode step over
them, the save -> load round trip (stored tensors assigned, nothing quantized again) and the one-line errors
for what cannot be combined. On the built-in demo model (hidden 256: int4's groups of 128 fit; the tiny test
model's 64 do not)."""

from __future__ import annotations

import json

import pytest
import torch

from tests.unit.test_decode_step import prefill
from vreason.engine.factory import EngineSpec, build_engine
from vreason.errors import InvalidRequestError, ModelLoadError
from vreason.models.loader import LoadSpec, load_model
from vreason.models.quantize import MANIFEST, is_quantized_weight, quantize_model, save_quantized

torchao = pytest.importorskip("torchao")


@pytest.fixture(scope="module", params=["int8", "int4"])
def engine(request):
    engine = build_engine(EngineSpec(device="cpu", quantize=request.param))
    engine.core.shutdown()  # the runner is driven by hand
    yield engine
    engine.shutdown()


def test_language_model_linears_and_head_are_quantized_vision_stays_float(engine):
    model = engine.loaded.model
    lm = model.model.language_model
    assert is_quantized_weight(model.lm_head.weight)
    assert all(is_quantized_weight(layer.mlp.down_proj.weight) for layer in lm.layers)
    assert not is_quantized_weight(model.model.visual.blocks[0].mlp.linear_fc1.weight)
    assert not is_quantized_weight(lm.embed_tokens.weight)  # untied from the head: a lookup stays float
    # int4 runs in bf16 (its kernel's dtype); int8 in the CPU's faster precision for a small model
    int4 = engine.loaded.model.lm_head.weight.__class__.__name__ == "Int4OpaqueTensor"
    chosen = engine.loaded.placement
    if int4:
        assert chosen.dtype_name == "bfloat16"
    else:  # the small-model choice (models/placement.py), whichever the machine's check gave
        assert chosen.reason.startswith(f"{chosen.dtype_name}: a small model")


def test_fast_decode_step_runs_over_quantized_linears(engine):
    runner, requests = prefill(engine, 2)
    assert runner.fast_decode is not None, "quantized weights keep nn.Linear: the fast step covers them"
    assert runner.head.copy is None, "no float32 copy of a quantized head"
    rows = runner.rows
    lengths = [r.length for r in rows]
    runner.slots.ensure(len(rows), max(lengths) + 1)
    tokens = [r.request.output_ids[-1] for r in rows]
    saved = [t.clone() for t in (*runner.slots.keys, *runner.slots.values)]
    with torch.inference_mode():
        ours = runner.fast_decode(tokens, lengths, [r.length + r.rope_delta for r in rows]).clone()  # step buffer
        for buffer, before in zip((*runner.slots.keys, *runner.slots.values), saved, strict=True):
            buffer.copy_(before)
        theirs = runner._decode_transformers(tokens, lengths)
    torch.testing.assert_close(ours, theirs, rtol=2e-2, atol=2e-2)
    assert torch.equal(ours.argmax(-1), theirs.argmax(-1))


@pytest.mark.parametrize("method", ["int8", "int4"])
def test_save_then_load_assigns_the_stored_tensors_without_quantizing(tmp_path, method, monkeypatch):
    loaded = load_model(LoadSpec(device="cpu", dtype="bfloat16" if method == "int4" else "auto"))
    plan = quantize_model(loaded.model, method)
    out = save_quantized(loaded.model, loaded.processor, plan, tmp_path / method)
    manifest = json.loads((out / MANIFEST).read_text())
    assert manifest["method"] == method
    assert manifest["linears"] == plan.linears > 0
    assert [p.suffix for p in out.iterdir() if p.suffix in (".bin", ".pt", ".pkl")] == [], "no pickle"

    import torchao.quantization as tq

    def refuse(*args, **kwargs):
        raise AssertionError("a stored quantized checkpoint must not be quantized again")

    monkeypatch.setattr(tq, "quantize_", refuse)
    again = load_model(LoadSpec(model=str(out), device="cpu"))
    assert any("stored" in phase for phase in again.phases)
    assert not any(phase.startswith("quantize") for phase in again.phases)
    before, after = loaded.model.lm_head.weight, again.model.lm_head.weight
    assert type(before) is type(after)
    stored = [p for p in again.model.parameters() if is_quantized_weight(p)]
    # data at safetensors' packed offsets crashed the int8 kernel on an AMX Xeon: quantized parts are 64-byte aligned
    assert stored
    assert all(t.data_ptr() % 64 == 0 for p in stored for t in _inner_tensors(p))
    assert torch.equal(before.qdata, after.qdata)
    ids = torch.tensor([[1, 2, 3, 4, 5]])
    with torch.inference_mode():
        a = loaded.model.model.language_model(input_ids=ids).last_hidden_state
        b = again.model.model.language_model(input_ids=ids).last_hidden_state
    assert torch.equal(a, b)


def _inner_tensors(weight) -> list:
    names, _ = weight.__tensor_flatten__()
    return [getattr(weight, name) for name in names]


def test_bad_combinations_fail_in_one_line(tmp_path):
    with pytest.raises(InvalidRequestError, match="must be one of 4bit, 8bit, int8, int4"):
        LoadSpec(quantize="int3")
    with pytest.raises(ModelLoadError, match="int4 runs in bfloat16"):
        load_model(LoadSpec(device="cpu", quantize="int4", dtype="float32"))
    with pytest.raises(ModelLoadError, match="not float16"):
        load_model(LoadSpec(device="cpu", quantize="int8", dtype="float16"))
    with pytest.raises(ModelLoadError, match="for CPU; on cuda use --quantize 4bit"):
        load_model(LoadSpec(device="cuda", quantize="int4"))
    with pytest.raises(ModelLoadError, match="on cpu use --quantize int8"):
        load_model(LoadSpec(device="cpu", quantize="8bit"))
    stored = tmp_path / "q"
    stored.mkdir()
    (stored / MANIFEST).write_text(json.dumps({"method": "int4", "dtype": "bfloat16", "library": "torchao",
                                               "torch": torch.__version__, "group_size": 128, "linears": 1}))
    from vreason.models.loader import check_quantized_spec

    with pytest.raises(ModelLoadError, match="already quantized to int4; drop --quantize int8"):
        check_quantized_spec(LoadSpec(model=str(stored), quantize="int8"), _plan(stored), str(stored))
    with pytest.raises(ModelLoadError, match="--adapter cannot be merged into the quantized weights"):
        check_quantized_spec(LoadSpec(model=str(stored), adapter="lora"), _plan(stored), str(stored))
    with pytest.raises(ModelLoadError, match="quantized to run in bfloat16; drop --dtype float32"):
        check_quantized_spec(LoadSpec(model=str(stored), dtype="float32"), _plan(stored), str(stored))


def _plan(directory):
    from vreason.models.quantize import read_plan

    return read_plan(directory)

