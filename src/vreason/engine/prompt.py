"""Build the model prompt from a resolved conversation: the one place messages become a chat-template string
and the list of images and videos the model sees. The media step (media_step.py) has checked the conversation
and loaded its images and videos before this; nothing here reads a file or a URL.

A video becomes what Qwen3-VL's processor makes of it: per temporal patch (two frames),
`<{t:.1f} seconds><|vision_start|><|video_pad|><|vision_end|>`, where t is the mean presentation time of the
patch's two frames (transformers' `Qwen3VLProcessor._calculate_timestamps`, but from the decoded frames' real
times rather than index / fps, so variable frame rates and start offsets are told truthfully). Each
`<|video_pad|>` is expanded to the patch's token count when the prompt is tokenized (engine/inputs.py).

The chat template is the checkpoint's own (it ships with every Qwen3-VL processor), so a Thinking model
opens `<think>` here and an Instruct model does not, with no special case in our code.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import numpy as np
from PIL import Image

from vreason.engine.text_output import THINK_OPEN
from vreason.engine.types import Message, TextPart, VideoPart
from vreason.errors import InvalidRequestError
from vreason.media import PixelBudget, PreparedImage, PreparedVideo
from vreason.media.video_budget import VideoBudget

VIDEO_PAD = "<|video_pad|>"
VISION_START = "<|vision_start|>"
VISION_END = "<|vision_end|>"


class ChatTemplater(Protocol):
    def apply_chat_template(self, conversation: list[dict[str, Any]], **kwargs: Any) -> str: ...


class FittedImages(Sequence[Image.Image]):
    """A prompt's images resized to the pixel budget (`PixelBudget.fit`), each made when first read: an image
    the vision cache already holds, found by the content key it carries from an earlier request (the server
    keeps one `PreparedImage` per re-sent picture), is never decoded or resized again."""

    def __init__(self, images: Sequence[PreparedImage], budget: PixelBudget) -> None:
        self._images = list(images)
        self._budget = budget
        self._fitted: list[Image.Image | None] = [None] * len(self._images)

    def __len__(self) -> int:
        return len(self._images)

    def __getitem__(self, index):  # type: ignore[override]
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        fitted = self._fitted[index]
        if fitted is None:
            fitted = self._fitted[index] = self._budget.fit(self._images[index])
        return fitted


@dataclass
class Prompt:
    text: str  # the rendered template, one <|image_pad|> per image (the processor expands them)
    images: list[PreparedImage]  # as loaded, for mapping answers back to the user's pixels
    # the same images resized to the pixel budget: what the model sees (FittedImages: made when first read)
    pixels: Sequence[Image.Image]
    thinking_prompt: bool  # the template opened <think>: output starts inside the thinking block
    videos: list[PreparedVideo] = field(default_factory=list)  # frames at the model's size, an even count each


def require_resolved(source: Any) -> PreparedImage:
    """The engine's guard: every image was resolved by the media step; the engine never reads one itself."""
    if not isinstance(source, PreparedImage):
        raise InvalidRequestError(
            f"an image ({type(source).__name__}) reached the engine unresolved; resolve the conversation with "
            "vreason.media_step.MediaResolver first",
            param="messages",
        )
    return source


def require_resolved_video(source: Any) -> PreparedVideo:
    """The engine's guard for videos, as `require_resolved` for images."""
    if not isinstance(source, PreparedVideo):
        raise InvalidRequestError(
            f"a video ({type(source).__name__}) reached the engine unresolved; resolve the conversation with "
            "vreason.media_step.MediaResolver first",
            param="messages",
        )
    return source


def build_prompt(
    templater: ChatTemplater,
    messages: Sequence[Message],
    budget: PixelBudget,
    video_budget: VideoBudget | None = None,
) -> Prompt:
    """The prompt of a conversation the media step has resolved (checked, images and videos loaded)."""
    conversation, images = chat_conversation(messages)
    text = templater.apply_chat_template(conversation, tokenize=False, add_generation_prompt=True)
    videos = [fit_video(v, video_budget or VideoBudget()) for v in conversation_videos(messages)]
    text = insert_video_text(text, videos)
    return Prompt(
        text=text,
        images=images,
        pixels=FittedImages(images, budget),
        thinking_prompt=text.rstrip().endswith(THINK_OPEN),
        videos=videos,
    )


def insert_video_text(text: str, videos: Sequence[PreparedVideo]) -> str:
    """A rendered chat template with each video's placeholder replaced by its per-patch form (`video_text`).
    Inference (`build_prompt`) and training (the SFT collator, on templates that hold the answers too) both
    call it, so a clip's prompt has one owner."""
    pieces = text.split(VISION_START + VIDEO_PAD + VISION_END)
    if len(pieces) != len(videos) + 1:
        raise AssertionError(f"the template rendered {len(pieces) - 1} video placeholders for {len(videos)} videos")
    return pieces[0] + "".join(video_text(v) + rest for v, rest in zip(videos, pieces[1:], strict=True))


def patch_times(video: PreparedVideo, temporal_patch: int = 2) -> list[float]:
    """Each temporal patch's time in seconds: the mean of its first and last frame's presentation times."""
    times = video.timestamps
    return [(times[i] + times[i + temporal_patch - 1]) / 2 for i in range(0, len(times), temporal_patch)]


def video_text(video: PreparedVideo) -> str:
    """The prompt text of one video, one `<|video_pad|>` per temporal patch."""
    return "".join(f"<{t:.1f} seconds>{VISION_START}{VIDEO_PAD}{VISION_END}" for t in patch_times(video))


def fit_video(video: PreparedVideo, budget: VideoBudget) -> PreparedVideo:
    """A video the model can take: an even number of frames (the last repeated, as Qwen's processor pads) whose
    sides are multiples of the patch factor. The media step already decodes to that; a `PreparedVideo` built
    elsewhere is resized here under the engine's budget."""
    frames, times = video.frames, video.timestamps
    if len(times) % budget.temporal_patch:
        pad = budget.temporal_patch - len(times) % budget.temporal_patch
        frames = np.concatenate([frames, np.repeat(frames[-1:], pad, axis=0)])
        times = times + (times[-1],) * pad
    width, height = video.size
    if width % budget.factor or height % budget.factor:
        size = budget.frame_size(len(times), width, height, video.sampling.max_pixels)
        frames = np.stack([np.asarray(Image.fromarray(f).resize(size, Image.Resampling.BICUBIC)) for f in frames])
    if frames is video.frames:
        return video
    return replace(video, frames=frames, timestamps=times, content_keys={})


def conversation_videos(messages: Sequence[Message]) -> list[PreparedVideo]:
    """The videos of a resolved conversation, in the order the template renders them."""
    return [require_resolved_video(p.source) for m in messages for p in m.content if isinstance(p, VideoPart)]


def chat_conversation(
    messages: Sequence[Message], load: Callable[[Any], PreparedImage] = require_resolved
) -> tuple[list[dict[str, Any]], list[PreparedImage]]:
    """Messages as the chat-template dicts transformers takes, and their images in order.

    Shared by inference (`build_prompt`, on resolved messages) and training (the SFT collator, which loads
    its data set's images with `load`), so both see the same prompt. A video part is `{"type": "video"}`
    (its frames: `conversation_videos`).
    """
    images: list[PreparedImage] = []
    conversation: list[dict[str, Any]] = []
    for message in messages:
        if not message.images and not message.videos:
            conversation.append({"role": message.role, "content": message.text})
            continue
        content: list[dict[str, Any]] = []
        for part in message.content:
            if isinstance(part, TextPart):
                content.append({"type": "text", "text": part.text})
            elif isinstance(part, VideoPart):
                content.append({"type": "video"})
            else:
                images.append(load(part.source))
                content.append({"type": "image"})
        conversation.append({"role": message.role, "content": content})
    return conversation, images
