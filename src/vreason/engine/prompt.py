"""Build the model prompt from a resolved conversation: the one place messages become a chat-template string
and the list of images the model sees. The media step (media_step.py) has checked the conversation and
loaded its images before this (media_step.py); nothing here reads a file or a URL.

The chat template is the checkpoint's own (it ships with every Qwen3-VL processor), so a Thinking model
opens `<think>` here and an Instruct model does not, with no special case in our code.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from PIL import Image

from vreason.engine.text_output import THINK_OPEN
from vreason.engine.types import Message, TextPart
from vreason.errors import InvalidRequestError
from vreason.media import PixelBudget, PreparedImage


class ChatTemplater(Protocol):
    def apply_chat_template(self, conversation: list[dict[str, Any]], **kwargs: Any) -> str: ...


@dataclass
class Prompt:
    text: str  # the rendered template, one <|image_pad|> per image (the processor expands them)
    images: list[PreparedImage]  # as loaded, for mapping answers back to the user's pixels
    pixels: list[Image.Image]  # the same images resized to the pixel budget: what the model sees
    thinking_prompt: bool  # the template opened <think>: output starts inside the thinking block


def require_resolved(source: Any) -> PreparedImage:
    """The engine's guard: every image was resolved by the media step; the engine never reads one itself."""
    if not isinstance(source, PreparedImage):
        raise InvalidRequestError(
            f"an image ({type(source).__name__}) reached the engine unresolved; resolve the conversation with "
            "vreason.media_step.MediaResolver first",
            param="messages",
        )
    return source


def build_prompt(templater: ChatTemplater, messages: Sequence[Message], budget: PixelBudget) -> Prompt:
    """The prompt of a conversation the media step has resolved (checked, images loaded)."""
    conversation, images = chat_conversation(messages)
    text = templater.apply_chat_template(conversation, tokenize=False, add_generation_prompt=True)
    return Prompt(
        text=text,
        images=images,
        pixels=[budget.apply(p.image) for p in images],
        thinking_prompt=text.rstrip().endswith(THINK_OPEN),
    )


def chat_conversation(
    messages: Sequence[Message], load: Callable[[Any], PreparedImage] = require_resolved
) -> tuple[list[dict[str, Any]], list[PreparedImage]]:
    """Messages as the chat-template dicts transformers takes, and their images in order.

    Shared by inference (`build_prompt`, on resolved messages) and training (the SFT collator, which loads
    its data set's images with `load`), so both see the same prompt.
    """
    images: list[PreparedImage] = []
    conversation: list[dict[str, Any]] = []
    for message in messages:
        if not message.images:
            conversation.append({"role": message.role, "content": message.text})
            continue
        content: list[dict[str, Any]] = []
        for part in message.content:
            if isinstance(part, TextPart):
                content.append({"type": "text", "text": part.text})
                continue
            images.append(load(part.source))
            content.append({"type": "image"})
        conversation.append({"role": message.role, "content": content})
    return conversation, images
