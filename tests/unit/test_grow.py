"""Growing a model deeper (train/grow.py): the grown model answers exactly as the one it grew from, has the new
layers where the config says, and its new layers train; bad growth specs are refused."""

from __future__ import annotations

import json

import pytest
import torch
from PIL import Image, ImageDraw

from vreason.train.demo_chain import FollowUp
from vreason.train.grow import Growth, grow


def _inputs(model_dir):
    from transformers import AutoProcessor

    processor = AutoProcessor.from_pretrained(model_dir)
    picture = Image.new("RGB", (96, 64), "white")
    ImageDraw.Draw(picture).ellipse((10, 10, 50, 50), fill=(200, 30, 30))
    text = "<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|>what color is the circle?<|im_end|>\n"
    return processor(text=[text], images=[picture], return_tensors="pt")


@pytest.fixture(scope="module")
def grown_dir(tiny_model_dir, tmp_path_factory):
    return grow(tiny_model_dir, tmp_path_factory.mktemp("grown"), Growth(text_layers=1, vision_blocks=2))


def test_the_grown_model_gives_the_same_logits_and_has_the_new_layers(tiny_model_dir, grown_dir):
    from transformers import Qwen3VLForConditionalGeneration

    inputs = _inputs(tiny_model_dir)
    before = Qwen3VLForConditionalGeneration.from_pretrained(tiny_model_dir).eval()
    after = Qwen3VLForConditionalGeneration.from_pretrained(grown_dir).eval()
    with torch.no_grad():
        old, new = before(**inputs).logits, after(**inputs).logits
    assert torch.allclose(old, new, atol=1e-5), (old - new).abs().max()
    config = json.loads((grown_dir / "config.json").read_text())
    original = json.loads((tiny_model_dir / "config.json").read_text())
    assert config["text_config"]["num_hidden_layers"] == original["text_config"]["num_hidden_layers"] + 1
    assert config["vision_config"]["depth"] == original["vision_config"]["depth"] + 2
    assert config["vision_config"]["deepstack_visual_indexes"] == original["vision_config"]["deepstack_visual_indexes"]
    assert (grown_dir / "model.safetensors").is_file()
    assert (grown_dir / "tokenizer.json").is_file()
    assert not (grown_dir / "training_summary.json").exists()  # the source's records tell the source


def test_the_new_layers_get_gradient_and_move_off_the_identity(tiny_model_dir, grown_dir):
    from transformers import Qwen3VLForConditionalGeneration

    model = Qwen3VLForConditionalGeneration.from_pretrained(grown_dir)
    inputs = _inputs(tiny_model_dir)
    labels = inputs["input_ids"].clone()
    model(**inputs, labels=labels).loss.backward()
    text_layer = model.model.language_model.layers[-1]
    block = model.model.visual.blocks[-1]
    for zeroed in (text_layer.self_attn.o_proj.weight, text_layer.mlp.down_proj.weight, block.attn.proj.weight,
                   block.mlp.linear_fc2.weight):
        assert zeroed.abs().max() == 0
        assert zeroed.grad is not None
        assert zeroed.grad.abs().max() > 0


def test_growth_specs_round_trip_and_bad_ones_are_refused():
    follow = FollowUp.parse("hexagons-2:300:7e-05:grow=1/2")
    assert follow.grow == Growth(1, 2)
    assert follow.stop_after is None
    assert FollowUp.parse(follow.spec()) == follow
    assert follow.record() == {"grow": {"text_layers": 1, "vision_blocks": 2}}
    stopped = FollowUp.parse("clips:340:1e-4:201:grow=0/1")
    assert (stopped.stop_after, stopped.grow) == (201, Growth(0, 1))
    assert FollowUp.parse("clips:340:0.0001:201").spec() == "clips:340:0.0001:201"
    assert Growth(1, 2).words() == "1 text layer and 2 vision blocks"
    assert Growth(0, 1).words() == "1 vision block"
    for bad in ("grow=1", "grow=a/2", "layers=1/2"):
        with pytest.raises(ValueError, match="grow=TEXT_LAYERS/VISION_BLOCKS"):
            Growth.parse(bad)
    with pytest.raises(ValueError, match="one of them > 0"):
        Growth(0, 0)
    with pytest.raises(ValueError, match="expected MIX:STEPS:LR"):
        FollowUp.parse("clips:340:1e-4:201:5")
