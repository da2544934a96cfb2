"""Build the model prompt from a conversation: the one place messages become a chat-template string and a
list of prepared images. Every surface (API, CLI, server, UI) goes through `build_prompt`.

The chat template is the checkpoint's own (it ships with every Qwen3-VL processor), so a Thinking model
opens `<think>` here and an Instruct model does not, with no special case in our code.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from PIL import Image

from vreason.engine.text_output import THINK_OPEN
from vreason.engine.types import Message, TextPart
from vreason.errors import InvalidRequestError
from vreason.media import MediaPolicy, PixelBudget, PreparedImage, load_image


class ChatTemplater(Protocol):
    def apply_chat_template(self, conversation: list[dict[str, Any]], **kwargs: Any) -> str: ...


@dataclass
class Prompt:
    text: str  # the rendered template, one <|image_pad|> per image (the processor expands them)
    images: list[PreparedImage]  # as loaded, for mapping answers back to the user's pixels
    pixels: list[Image.Image]  # the same images resized to the pixel budget: what the model sees
    thinking_prompt: bool  # the template opened <think>: output starts inside the thinking block


def build_prompt(
    templater: ChatTemplater,
    messages: Sequence[Message],
    policy: MediaPolicy,
    budget: PixelBudget,
    max_images: int | None = None,
) -> Prompt:
    if not messages:
        raise InvalidRequestError("a request needs at least one message", param="messages")
    if messages[-1].role != "user":
        raise InvalidRequestError(
            f"the last message must be from the user (got {messages[-1].role!r})", param="messages"
        )
    total_images = sum(len(m.images) for m in messages)
    if max_images is not None and total_images > max_images:
        raise InvalidRequestError(
            f"{total_images} images in one request is over the limit of {max_images}", param="messages"
        )
    conversation, images = chat_conversation(messages, policy)
    text = templater.apply_chat_template(conversation, tokenize=False, add_generation_prompt=True)
    return Prompt(
        text=text,
        images=images,
        pixels=[budget.apply(p.image) for p in images],
        thinking_prompt=text.rstrip().endswith(THINK_OPEN),
    )


def chat_conversation(
    messages: Sequence[Message], policy: MediaPolicy
) -> tuple[list[dict[str, Any]], list[PreparedImage]]:
    """Messages as the chat-template dicts transformers takes, and their images loaded, in order.

    Shared by inference (`build_prompt`) and training (the SFT collator), so both see the same prompt.
    """
    images: list[PreparedImage] = []
    conversation: list[dict[str, Any]] = []
    for message in messages:
        if message.images and message.role != "user":
            raise InvalidRequestError(f"images can only be attached to user messages, not {message.role!r}")
        if not message.images:
            conversation.append({"role": message.role, "content": message.text})
            continue
        content: list[dict[str, Any]] = []
        for part in message.content:
            if isinstance(part, TextPart):
                content.append({"type": "text", "text": part.text})
                continue
            images.append(load_image(part.source, policy))
            content.append({"type": "image"})
        conversation.append({"role": message.role, "content": content})
    return conversation, images
