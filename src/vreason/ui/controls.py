"""Sampling controls shared by the tabs: built from the model's defaults, read back as the Python API's sampling
keywords.

A tab lays the controls out with `SamplingControls.build(defaults)`, passes `controls.inputs` to its event
and turns the received values into keywords with `to_sampling(*values)`; no tab repeats the ranges.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gradio as gr

from vreason.engine.sampling import SamplingParams

# Generous but bounded: the demo model answers in a few tokens, real ones may write paragraphs.
MAX_NEW_TOKENS_LIMIT = 8192


@dataclass
class SamplingControls:
    temperature: gr.Slider
    top_p: gr.Slider
    top_k: gr.Slider
    max_new_tokens: gr.Slider
    presence_penalty: gr.Slider
    seed: gr.Number

    @classmethod
    def build(cls, defaults: SamplingParams, *, prefix: str, max_new_tokens: int | None = None) -> SamplingControls:
        """Lay out the sliders (inside whatever container is open); `prefix` keeps element ids unique per tab."""
        new_tokens = max_new_tokens or defaults.max_new_tokens
        return cls(
            temperature=gr.Slider(0.0, 2.0, value=defaults.temperature, step=0.05, label="Temperature",
                                  info="0 = greedy (same answer every time)", elem_id=f"{prefix}-temperature"),
            top_p=gr.Slider(0.05, 1.0, value=defaults.top_p, step=0.05, label="Top-p"),
            top_k=gr.Slider(0, 100, value=defaults.top_k, step=1, label="Top-k", info="0 = off"),
            max_new_tokens=gr.Slider(1, max(MAX_NEW_TOKENS_LIMIT, new_tokens), value=new_tokens, step=1,
                                     label="Max new tokens", elem_id=f"{prefix}-max-new-tokens"),
            presence_penalty=gr.Slider(-2.0, 2.0, value=defaults.presence_penalty, step=0.1,
                                       label="Presence penalty"),
            seed=gr.Number(value=None, precision=0, label="Seed", info="empty = random",
                           elem_id=f"{prefix}-seed"),
        )

    @property
    def inputs(self) -> list[gr.components.Component]:
        return [self.temperature, self.top_p, self.top_k, self.max_new_tokens, self.presence_penalty, self.seed]


def to_sampling(temperature: float, top_p: float, top_k: float, max_new_tokens: float, presence_penalty: float,
                seed: float | None) -> dict[str, Any]:
    """Control values (in `SamplingControls.inputs` order) as the Python API's sampling keywords."""
    out: dict[str, Any] = {
        "temperature": float(temperature),
        "top_p": float(top_p),
        "top_k": int(top_k),
        "max_new_tokens": int(max_new_tokens),
        "presence_penalty": float(presence_penalty),
    }
    if seed is not None and seed != "":
        out["seed"] = int(seed)
    return out
