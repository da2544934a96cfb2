"""vreason's own Qwen3-VL code (models/native) against transformers' on the same checkpoint: the vision tower,
the multimodal rope positions and the decoder layers give the same numbers, in float32 and bfloat16; the loader
serves natively only what it computes exactly and falls back to transformers' code otherwise. (The engine's
greedy output against `model.generate`: tests/integration/test_engine_oracle.py, whose engines are native.)"""

from __future__ import annotations

import json
import shutil

import pytest
import torch
from safetensors.torch import load_file, save_file

from vreason.models.loader import LoadSpec, load_model
from vreason.models.native.config import UnsupportedNative, read_config
from vreason.models.native.load import native_wanted
from vreason.models.native.model import NativeQwen3VL

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", params=["float32", "bfloat16"])
def pair(request, tiny_model_dir):
    native = load_model(LoadSpec(model=str(tiny_model_dir), dtype=request.param, native=True))
    theirs = load_model(LoadSpec(model=str(tiny_model_dir), dtype=request.param))
    assert (native.model_code, theirs.model_code) == ("native", "transformers")
    assert native.model.dtype == theirs.model.dtype == getattr(torch, request.param)
    return native.model, theirs.model


def test_vision_tower_gives_transformers_numbers(pair):
    ours, theirs = pair
    grid = torch.tensor([[1, 8, 12], [2, 4, 6], [1, 6, 4]])  # two images and a two-patch video between them
    pixels = torch.randn(int(grid.prod(-1).sum()), 3 * 2 * 16 * 16, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        a = ours.model.get_image_features(pixels, grid, return_dict=True)
        b = theirs.model.get_image_features(pixels, grid, return_dict=True)
    assert [t.shape[0] for t in a.pooler_output] == [24, 12, 6]
    for x, y in zip(a.pooler_output, b.pooler_output, strict=True):
        assert torch.equal(x, y)
    assert len(a.deepstack_features) == len(b.deepstack_features) > 0
    for layer_a, layer_b in zip(a.deepstack_features, b.deepstack_features, strict=True):
        assert all(torch.equal(x, y) for x, y in zip(layer_a, layer_b, strict=True))


def test_rope_positions_are_transformers(pair):
    ours, theirs = pair
    config = ours.config
    image, video = config.image_token_id, config.video_token_id
    start, end = config.vision_start_token_id, config.vision_end_token_id
    ids = torch.tensor([[1, 2, start, *[image] * 24, end, 5, 6, start, *[video] * 6, end, 7, start,
                         *[video] * 6, end, 9, start, *[image] * 6, end, 10]])
    kinds = (ids == image).int() + 2 * (ids == video).int()
    kwargs = dict(mm_token_type_ids=kinds, image_grid_thw=torch.tensor([[1, 8, 12], [1, 6, 4]]),
                  video_grid_thw=torch.tensor([[2, 4, 6]]))
    ours_positions, ours_delta = ours.model.get_rope_index(ids, **kwargs)
    theirs_positions, theirs_delta = theirs.model.get_rope_index(ids, **kwargs)
    assert torch.equal(ours_positions, theirs_positions)
    assert ours_delta.tolist() == theirs_delta.tolist() != [[0]]


@pytest.mark.parametrize("masked", [False, True])
def test_decoder_layers_give_transformers_numbers(pair, masked):
    ours, theirs = pair
    lm_ours, lm_theirs = ours.model.language_model, theirs.model.language_model
    ids = torch.randint(0, 1000, (2, 17), generator=torch.Generator().manual_seed(1))
    positions = torch.arange(17).view(1, 1, -1).expand(3, 2, -1) + torch.tensor([0, 3]).view(1, 2, 1)
    mask = None
    if masked:  # the engine's explicit mask: row 1 sees one column fewer (a padded row)
        mask = torch.ones(2, 1, 17, 17, dtype=torch.bool).tril()
        mask[1, :, :, 0] = False
        mask[1, :, 0, 0] = True
    visual = torch.zeros(2, 17, dtype=torch.bool)
    visual[:, 3:7] = True
    feature = torch.randn(8, ours.config.text_config.hidden_size, generator=torch.Generator().manual_seed(2))
    outs = []
    with torch.inference_mode():
        for lm in (lm_ours, lm_theirs):
            hidden = lm.embed_tokens(ids)
            cos_sin = lm.rotary_emb(hidden, positions)
            for index, layer in enumerate(lm.layers):
                hidden = layer(hidden, position_embeddings=cos_sin, attention_mask=mask)
                if index == 0:
                    hidden = lm._deepstack_process(hidden, visual, feature)
            outs.append(lm.norm(hidden))
    assert torch.equal(outs[0], outs[1])


def test_transformers_code_on_request_and_where_native_does_not_fit(tiny_model_dir, monkeypatch):
    spec = LoadSpec(model=str(tiny_model_dir), native=True)
    assert native_wanted(spec, str(tiny_model_dir))
    assert not native_wanted(LoadSpec(model=str(tiny_model_dir)), str(tiny_model_dir))  # training, quantizing
    assert not native_wanted(LoadSpec(model=str(tiny_model_dir), native=True, adapter="x"), str(tiny_model_dir))
    assert not native_wanted(LoadSpec(model=str(tiny_model_dir), native=True, quantize="int8"), str(tiny_model_dir))
    assert not native_wanted(spec, "Qwen/Qwen3-VL-8B-Instruct")  # not downloaded yet: transformers fetches it
    monkeypatch.setenv("VREASON_MODEL_CODE", "transformers")
    assert not native_wanted(spec, str(tiny_model_dir))
    assert load_model(spec).model_code == "transformers"


def _variant(source, target, edit):
    shutil.copytree(source, target)
    config = json.loads((target / "config.json").read_text())
    edit(config)
    (target / "config.json").write_text(json.dumps(config))
    return target


def test_config_forms_it_reads_and_refuses(tiny_model_dir, tmp_path):
    def released(config):  # transformers 4.57's layout, as Qwen's released checkpoints have it
        text = config["text_config"]
        rope = text.pop("rope_parameters")
        text["rope_theta"] = rope.pop("rope_theta")
        text["rope_scaling"] = rope
        config["vision_config"].pop("rope_parameters", None)

    assert read_config(_variant(tiny_model_dir, tmp_path / "released", released)) == read_config(tiny_model_dir)
    refusals = {
        "moe": lambda c: c.update(model_type="qwen3_vl_moe"),
        "bias": lambda c: c["text_config"].update(attention_bias=True),
        "rope": lambda c: c["text_config"]["rope_parameters"].update(rope_type="yarn"),
        "fp8": lambda c: c.update(quantization_config={"quant_method": "fp8"}),
        "act": lambda c: c["text_config"].update(hidden_act="relu2"),
    }
    for name, edit in refusals.items():
        with pytest.raises(UnsupportedNative):
            read_config(_variant(tiny_model_dir, tmp_path / name, edit))


def test_weights_it_cannot_place_are_refused_not_guessed(tiny_model_dir, tmp_path):
    target = tmp_path / "partial"
    shutil.copytree(tiny_model_dir, target)
    (weights,) = target.glob("*.safetensors")
    state = load_file(weights)
    dropped = next(k for k in state if "layers.0.mlp.up_proj" in k)
    save_file({k: v for k, v in state.items() if k != dropped}, weights, metadata={"format": "pt"})
    with pytest.raises(UnsupportedNative, match="missing"):
        NativeQwen3VL.from_pretrained(target, torch.float32)
    state[dropped] = state[dropped][:, :-1].contiguous()
    save_file(state, weights, metadata={"format": "pt"})
    with pytest.raises(UnsupportedNative, match="shape"):
        NativeQwen3VL.from_pretrained(target, torch.float32)


def test_untied_head_is_the_checkpoints_and_extra_weights_are_refused(tiny_model_dir, tmp_path):
    def untie(config):  # the released 8B's layout: an output head of its own
        config["tie_word_embeddings"] = False
        config["text_config"]["tie_word_embeddings"] = False

    target = _variant(tiny_model_dir, tmp_path / "untied", untie)
    (weights,) = target.glob("*.safetensors")
    state = load_file(weights)
    embed = next(v for k, v in state.items() if k.endswith("embed_tokens.weight"))
    state["lm_head.weight"] = torch.randn(embed.shape, generator=torch.Generator().manual_seed(3))
    save_file(state, weights, metadata={"format": "pt"})
    ours = NativeQwen3VL.from_pretrained(target, torch.float32)
    theirs = load_model(LoadSpec(model=str(target), dtype="float32")).model
    assert torch.equal(ours.lm_head.weight, theirs.lm_head.weight)
    assert not torch.equal(ours.lm_head.weight, ours.model.language_model.embed_tokens.weight)

    state["model.visual.extra_adapter.weight"] = torch.zeros(2, 2)  # a module the native model does not have
    save_file(state, weights, metadata={"format": "pt"})
    with pytest.raises(UnsupportedNative, match="no place"):
        NativeQwen3VL.from_pretrained(target, torch.float32)
