"""Grounding with the model: ask where things are, get boxes or points in the original image's pixels.

The prompt is Qwen3-VL's own (`grounding_prompt`), the answer is parsed tolerantly (`parse_detections`) and
mapped from the model's 0-1000 coordinates onto the image as the user gave it, whatever size the engine
resized it to. Decoding is greedy unless the caller says otherwise: coordinates want the most likely tokens,
and a presence penalty would push the model away from digits it already wrote.

`alocate` does it over an `AsyncVReason`; `locate` is its blocking form over a `VReason`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from vreason.engine.types import Answer
from vreason.media import ImageSource, PreparedImage
from vreason.reasoning.grounding import Detection, GroundingKind, as_kind, grounding_prompt, parse_detections

if TYPE_CHECKING:
    from vreason.api import VReason
    from vreason.async_api import AsyncVReason

# Applied under the caller's own sampling keywords (theirs win).
EXACT_SAMPLING: dict[str, Any] = {"temperature": 0.0, "presence_penalty": 0.0}


@dataclass
class Grounding:
    target: str
    kind: GroundingKind
    prompt: str  # the question sent
    image: str  # the input as error messages name it
    image_size: tuple[int, int]  # (width, height) of the original: the pixels `detections` are in
    raw_output: str
    detections: list[Detection] = field(default_factory=list)
    answer: Answer | None = None  # usage and timings of the request

    def to_dict(self) -> dict:
        data = {
            "target": self.target,
            "kind": self.kind,
            "prompt": self.prompt,
            "image": self.image,
            "image_size": list(self.image_size),
            "detections": [d.to_dict() for d in self.detections],
            "raw_output": self.raw_output,
        }
        if self.answer is not None:
            data["usage"] = {
                "prompt_tokens": self.answer.usage.prompt_tokens,
                "completion_tokens": self.answer.usage.completion_tokens,
            }
            data["time_s"] = round(self.answer.timings.total_s, 4)
        return data


async def alocate(
    vr: AsyncVReason, image: ImageSource | PreparedImage, target: str, *, kind: GroundingKind = "box", **sampling: Any
) -> Grounding:
    """Every `target` in `image` as boxes (kind="box") or points (kind="point"), in original pixels."""
    prompt = grounding_prompt(target, kind)
    prepared = await vr.prepare_image(image)
    answer = await vr.ask([prepared], prompt, **{**EXACT_SAMPLING, **sampling})
    return grounding_from_answer(target, kind, prompt, prepared, answer)


def locate(
    vr: VReason, image: ImageSource | PreparedImage, target: str, *, kind: GroundingKind = "box", **sampling: Any
) -> Grounding:
    """Every `target` in `image` as boxes (kind="box") or points (kind="point"), in original pixels."""
    return vr.run(alocate(vr.aio, image, target, kind=kind, **sampling))


def grounding_from_answer(
    target: str, kind: GroundingKind, prompt: str, image: PreparedImage, answer: Answer
) -> Grounding:
    detections = as_kind([d.to_pixels(image.original_size) for d in parse_detections(answer.text)], kind)
    return Grounding(
        target=target,
        kind=kind,
        prompt=prompt,
        image=image.label,
        image_size=image.original_size,
        raw_output=answer.text,
        detections=detections,
        answer=answer,
    )
