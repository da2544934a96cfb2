"""Grow a trained Qwen3-VL model deeper without changing what it answers: new layers go after the last ones of the
language model and of the vision tower, each starting as the identity, so the grown model gives the same output as
the one it grew from and the training after it starts where that one left off.

    python -m vreason.train.grow SOURCE OUT --text-layers 1 --vision-blocks 2

A pre-norm transformer layer adds its attention and MLP outputs to the residual stream; with the projections that
write those outputs back (the text layers' `o_proj` and `down_proj`, the vision blocks' `attn.proj` and
`mlp.linear_fc2`) set to zero, the layer passes its input through unchanged. The other weights of a new layer
start as the architecture initialises them (they get gradient as soon as the zeroed projections move off zero, the
way a LoRA adapter whose B starts at zero does). New layers go last so that the vision tower's deepstack indexes
(features taken from given blocks into the language model's first layers) still name the same blocks.

Growth is a step of the built-in model's chain (demo_chain.FollowUp.grow): the model stays under its 25 MiB
bar (a text layer of the built-in model is 3.1 MB in float32, a vision block 0.8 MB).
"""

from __future__ import annotations

import argparse
import shutil
from dataclasses import dataclass
from pathlib import Path

# the loadable files beside the weights and config, copied unchanged into the grown model (not the source's
# records and card: they tell the source)
_KEPT = ("generation_config.json", "tokenizer.json", "tokenizer_config.json", "processor_config.json",
         "chat_template.jinja")


@dataclass(frozen=True)
class Growth:
    """How many layers to add at the end of the language model and of the vision tower."""

    text_layers: int = 0
    vision_blocks: int = 0

    def __post_init__(self) -> None:
        if self.text_layers < 0 or self.vision_blocks < 0 or not (self.text_layers or self.vision_blocks):
            raise ValueError(f"a growth adds layers: text_layers {self.text_layers}, vision_blocks "
                             f"{self.vision_blocks} (each >= 0, one of them > 0)")

    @classmethod
    def parse(cls, text: str) -> Growth:
        """`grow=T/V` (the last part of a follow-up's MIX:STEPS:LR[:STOP][:grow=T/V]); ValueError if not."""
        name, _, counts = text.partition("=")
        text_layers, _, vision_blocks = counts.partition("/")
        if name != "grow" or not text_layers.isdigit() or not vision_blocks.isdigit():
            raise ValueError(f"{text!r}: expected grow=TEXT_LAYERS/VISION_BLOCKS, e.g. grow=1/2")
        return cls(int(text_layers), int(vision_blocks))

    def facts(self) -> dict[str, int]:
        """As records and summaries write it: {"text_layers": T, "vision_blocks": V}."""
        return {"text_layers": self.text_layers, "vision_blocks": self.vision_blocks}

    def spec(self) -> str:
        return f"grow={self.text_layers}/{self.vision_blocks}"

    def words(self) -> str:
        """"1 text layer and 2 vision blocks": what the growth adds."""
        parts = [f"{n} {what}{'s' if n != 1 else ''}" for n, what in ((self.text_layers, "text layer"),
                                                                       (self.vision_blocks, "vision block")) if n]
        return " and ".join(parts)


def grown_folder(run: Path) -> Path:
    """Where the model a growing follow-up trains from is written: beside that run's folder (`v2-K-grown`)."""
    return run.with_name(run.name + "-grown")


def grown_model(model, growth: Growth):
    """A new model with `model`'s weights and `growth`'s identity layers after its last ones."""
    import torch
    from transformers import Qwen3VLForConditionalGeneration

    config = model.config.__class__.from_dict(model.config.to_dict())
    config.text_config.num_hidden_layers += growth.text_layers
    if getattr(config.text_config, "layer_types", None):  # one entry per layer: the new ones as the last
        config.text_config.layer_types = (list(config.text_config.layer_types)
                                          + [config.text_config.layer_types[-1]] * growth.text_layers)
    config.vision_config.depth += growth.vision_blocks
    torch.manual_seed(0)  # the new layers' other weights: the same for the same growth
    grown = Qwen3VLForConditionalGeneration(config).to(next(model.parameters()).dtype)
    missing, unexpected = grown.load_state_dict(model.state_dict(), strict=False)
    if unexpected:
        raise ValueError(f"weights the grown model has no place for: {unexpected[:4]}")
    text_from, vision_from = model.config.text_config.num_hidden_layers, model.config.vision_config.depth
    with torch.no_grad():
        for layer in grown.model.language_model.layers[text_from:]:
            layer.self_attn.o_proj.weight.zero_()
            layer.mlp.down_proj.weight.zero_()
        for block in grown.model.visual.blocks[vision_from:]:
            for linear in (block.attn.proj, block.mlp.linear_fc2):
                linear.weight.zero_()
                if linear.bias is not None:
                    linear.bias.zero_()
    new = tuple(f"model.language_model.layers.{i}." for i in range(text_from, config.text_config.num_hidden_layers))
    new += tuple(f"model.visual.blocks.{i}." for i in range(vision_from, config.vision_config.depth))
    left = [name for name in missing if not name.startswith(new)]
    if left:
        raise ValueError(f"weights the source model lacks: {left[:4]}")
    return grown


def grow(source: Path, out: Path, growth: Growth) -> Path:
    """Write `source` grown by `growth` to `out` (safetensors), with its tokenizer and processor; returns `out`."""
    from transformers import Qwen3VLForConditionalGeneration

    model = Qwen3VLForConditionalGeneration.from_pretrained(source, dtype="auto")
    grown = grown_model(model, growth)
    out.mkdir(parents=True, exist_ok=True)
    grown.save_pretrained(out, safe_serialization=True)
    for name in _KEPT:
        if (source / name).is_file():
            shutil.copy2(source / name, out / name)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--text-layers", type=int, default=0)
    parser.add_argument("--vision-blocks", type=int, default=0)
    args = parser.parse_args(argv)
    out = grow(args.source, args.out, Growth(args.text_layers, args.vision_blocks))
    print(f"grown model: {out}")


if __name__ == "__main__":
    main()
