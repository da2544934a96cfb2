"""What a reasoning run did, step by step, in a form that serialises to JSON for logs, the CLI and the server.

One `StepTrace` per step: the prompt as sent, the raw output, the answer parsed from it, its boxes, tokens and
wall time, and, under self-consistency, every sample and the vote. Plain dataclasses; no model here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Literal

from vreason.reasoning.grounding import Detection
from vreason.reasoning.voting import Vote


@dataclass
class SampleTrace:
    """One sampled output under self-consistency."""

    raw_output: str
    thinking: str | None
    answer: str  # the final answer extracted from raw_output (or thinking)
    completion_tokens: int
    finish_reason: str

    def to_dict(self) -> dict:
        return {
            "raw_output": self.raw_output,
            "thinking": self.thinking,
            "answer": self.answer,
            "completion_tokens": self.completion_tokens,
            "finish_reason": self.finish_reason,
        }


@dataclass
class StepTrace:
    index: int  # 1-based, as {step1} placeholders count
    question: str  # as the caller wrote it (placeholders not yet filled)
    prompt: str  # the user text this step sent: placeholders filled, chain-of-thought request added
    raw_output: str  # the model's answer text (under voting: the output of the first sample with the winner)
    thinking: str | None  # a thinking model's reasoning for raw_output
    answer: str  # the final answer parsed from raw_output
    prompt_tokens: int
    completion_tokens: int  # summed over all samples of the step
    time_s: float  # wall time of the step (all samples together)
    finish_reason: str
    cached_tokens: int = 0  # prompt tokens whose KV the engine reused (the earlier steps' shared prefix)
    detections: list[Detection] = field(default_factory=list)  # boxes/points the answer holds, see `coordinates`
    # "pixels" of the (single) input image, or "relative" 0-1000 when several images make the target ambiguous.
    coordinates: Literal["pixels", "relative"] = "pixels"
    samples: list[SampleTrace] = field(default_factory=list)  # empty unless the step voted
    vote: Vote | None = None

    def to_dict(self) -> dict:
        data = {
            "index": self.index,
            "question": self.question,
            "prompt": self.prompt,
            "raw_output": self.raw_output,
            "thinking": self.thinking,
            "answer": self.answer,
            "usage": {
                "prompt_tokens": self.prompt_tokens,
                "completion_tokens": self.completion_tokens,
                "cached_tokens": self.cached_tokens,
            },
            "time_s": round(self.time_s, 4),
            "finish_reason": self.finish_reason,
            "detections": [d.to_dict() for d in self.detections],
            "coordinates": self.coordinates,
        }
        if self.vote is not None:
            data["vote"] = self.vote.to_dict()
            data["samples"] = [s.to_dict() for s in self.samples]
        return data


@dataclass
class ChainTrace:
    model: str
    images: list[str]  # the inputs as error messages name them (never a whole base64 payload)
    steps: list[StepTrace] = field(default_factory=list)
    time_s: float = 0.0

    @property
    def answer(self) -> str:
        """The last step's answer: what the chain concluded."""
        return self.steps[-1].answer if self.steps else ""

    def to_dict(self) -> dict:
        return {
            "model": self.model,
            "images": self.images,
            "answer": self.answer,
            "steps": [s.to_dict() for s in self.steps],
            "usage": {
                "prompt_tokens": sum(s.prompt_tokens for s in self.steps),
                "completion_tokens": sum(s.completion_tokens for s in self.steps),
                "cached_tokens": sum(s.cached_tokens for s in self.steps),
            },
            "time_s": round(self.time_s, 4),
        }

    def to_json(self, indent: int | None = None) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=indent)
