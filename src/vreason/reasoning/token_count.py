"""How many prompt tokens a list of messages costs, before it is sent.

`ExactCounter` renders the chat template with the checkpoint's own processor and tokenizer and adds each
image's visual tokens from the pixel budget: the same count the local engine reports in `Answer.usage`.
`EstimateCounter` serves engines whose tokenizer is elsewhere (remote backends): a conservative
characters-per-token estimate that `observe` corrects from the `Answer.usage` of every request sent, so
it never stays below what the real tokenizer counted.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

from vreason.engine.prompt import chat_conversation
from vreason.engine.types import Message
from vreason.media import MediaPolicy, PixelBudget, load_image

if TYPE_CHECKING:
    from vreason.api import VReason
    from vreason.async_api import AsyncVReason

# Visual tokens are framed by <|vision_start|> and <|vision_end|>.
IMAGE_FRAME_TOKENS = 2
# English BPE averages about 4 characters a token; 3 leaves room for digits, JSON and other languages.
CHARS_PER_TOKEN = 3.0
# <|im_start|>role\n ... <|im_end|>\n around every message, and the generation prompt.
MESSAGE_OVERHEAD_TOKENS = 6


def visual_tokens(budget: PixelBudget, size: tuple[int, int]) -> int:
    """Visual tokens of an image of `size`: resized to the budget when the prompt is built, then once more by
    the image processor under the same bounds (which moves sizes that the first rounding left below
    min_pixels, e.g. 900x300 under a 65,536-pixel floor becomes 416x128, then 480x160)."""
    return budget.num_visual_tokens(*budget.target_size(*size))


class TokenCounter(Protocol):
    def count(self, messages: Sequence[Message]) -> int: ...

    def observe(self, counted: int, actual: int) -> None:
        """`counted` was this counter's answer for a prompt the engine then reported as `actual` tokens."""


class ExactCounter:
    def __init__(self, processor: Any, policy: MediaPolicy, budget: PixelBudget):
        self.processor = processor
        self.tokenizer = processor.tokenizer
        self.policy = policy
        self.budget = budget

    def count(self, messages: Sequence[Message]) -> int:
        conversation, images = chat_conversation(list(messages), lambda source: load_image(source, self.policy))
        text = self.processor.apply_chat_template(conversation, tokenize=False, add_generation_prompt=True)
        # The template holds one <|image_pad|> per image; the processor expands it to the visual token count.
        visual = sum(visual_tokens(self.budget, image.original_size) - 1 for image in images)
        return len(self.tokenizer(text)["input_ids"]) + visual

    def observe(self, counted: int, actual: int) -> None:
        return None  # exact already


class EstimateCounter:
    def __init__(self, budget: PixelBudget):
        self.budget = budget
        self.scale = 1.0  # grows when the engine reports more tokens than estimated; never shrinks

    def count(self, messages: Sequence[Message]) -> int:
        text_tokens = sum(len(m.text) for m in messages) / CHARS_PER_TOKEN
        visual = sum(
            visual_tokens(self.budget, load_image(src).original_size) + IMAGE_FRAME_TOKENS
            for m in messages
            for src in m.images
        )
        overhead = MESSAGE_OVERHEAD_TOKENS * (len(messages) + 1)
        return math.ceil((text_tokens + overhead + visual) * self.scale)

    def observe(self, counted: int, actual: int) -> None:
        if counted > 0 and actual > counted:
            self.scale *= actual / counted


def counter_for(vr: AsyncVReason | VReason) -> TokenCounter:
    """The exact counter when the model's processor is loaded here (an in-process engine), else the
    self-correcting estimate."""
    loaded = getattr(vr.engine, "loaded", None)
    if loaded is not None and getattr(loaded, "processor", None) is not None:
        return ExactCounter(loaded.processor, vr.engine.policy, vr.engine.budget)
    return EstimateCounter(vr.engine.budget)
