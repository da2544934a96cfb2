"""How many prompt tokens a list of messages costs, before it is sent.

`ExactCounter` renders the chat template with the checkpoint's own processor and tokenizer and adds each
image's visual tokens from the pixel budget: the same count the local engine reports in `Answer.usage`.
A video is counted as the engine sends it: its clip sampled and decoded by the media step under the engine's
video budget (a conversation's clips are decoded already, so counting decodes nothing), its `<t seconds>`
markers written by the engine's own `insert_video_text`, and each temporal patch's visual tokens.
`EstimateCounter` serves engines whose tokenizer is elsewhere (remote backends): a conservative
characters-per-token estimate that `observe` corrects from the `Answer.usage` of every request sent, so
it never stays below what the real tokenizer counted; a video there costs its patches' visual tokens and
each patch's marker and frame tokens.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

from vreason.engine.prompt import chat_conversation, conversation_videos, fit_video, insert_video_text
from vreason.engine.types import Message, VideoPart
from vreason.media import MediaPolicy, PixelBudget, PreparedVideo, load_image
from vreason.media.video_budget import VideoBudget
from vreason.media_step import MediaResolver

if TYPE_CHECKING:
    from vreason.api import VReason
    from vreason.async_api import AsyncVReason

# Visual tokens are framed by <|vision_start|> and <|vision_end|>.
IMAGE_FRAME_TOKENS = 2
# English BPE averages about 4 characters a token; 3 leaves room for digits, JSON and other languages.
CHARS_PER_TOKEN = 3.0
# <|im_start|>role\n ... <|im_end|>\n around every message, and the generation prompt.
MESSAGE_OVERHEAD_TOKENS = 6
# Per temporal patch of a video: its "<12.5 seconds>" marker (at most 7 tokens) and the two frame tokens.
VIDEO_PATCH_TEXT_TOKENS = 7 + IMAGE_FRAME_TOKENS


def visual_tokens(budget: PixelBudget, size: tuple[int, int]) -> int:
    """Visual tokens of an image of `size`: resized to the budget when the prompt is built, then once more by
    the image processor under the same bounds (which moves sizes that the first rounding left below
    min_pixels, e.g. 900x300 under a 65,536-pixel floor becomes 416x128, then 480x160)."""
    return budget.num_visual_tokens(*budget.target_size(*size))


class TokenCounter(Protocol):
    def count(self, messages: Sequence[Message]) -> int: ...

    def observe(self, counted: int, actual: int) -> None:
        """`counted` was this counter's answer for a prompt the engine then reported as `actual` tokens."""


def video_patch_tokens(video_budget: VideoBudget, video: PreparedVideo) -> tuple[int, int]:
    """(temporal patches, visual tokens) of a decoded clip as the engine sends it (an even frame count)."""
    patches = -(-video.num_frames // video_budget.temporal_patch)
    return patches, video_budget.tokens(video.num_frames, *video.size)


class _Videos:
    """The media step that decodes a counted conversation's clips (those not decoded yet), remembering them
    by content and sampling so a conversation counted again and again decodes each clip once."""

    def __init__(self, policy: MediaPolicy, video_budget: VideoBudget):
        self.budget = video_budget
        self.media = MediaResolver(policy, max_images=None, cache=None, video_budget=video_budget)

    def decoded(self, messages: Sequence[Message]) -> list[Message]:
        return [
            Message(
                m.role,
                [VideoPart(self.media.load_video(p), p.sampling) if isinstance(p, VideoPart) else p for p in m.content],
            )
            if m.videos
            else m
            for m in messages
        ]

    def fitted(self, messages: Sequence[Message]) -> list[PreparedVideo]:
        return [fit_video(v, self.budget) for v in conversation_videos(messages)]


class ExactCounter:
    def __init__(
        self, processor: Any, policy: MediaPolicy, budget: PixelBudget, video_budget: VideoBudget | None = None
    ):
        self.processor = processor
        self.tokenizer = processor.tokenizer
        self.policy = policy
        self.budget = budget
        self.videos = _Videos(policy, video_budget or VideoBudget.from_processor(processor))

    def count(self, messages: Sequence[Message]) -> int:
        messages = self.videos.decoded(messages)
        conversation, images = chat_conversation(messages, lambda source: load_image(source, self.policy))
        text = self.processor.apply_chat_template(conversation, tokenize=False, add_generation_prompt=True)
        videos = self.videos.fitted(messages)
        text = insert_video_text(text, videos)  # the engine's own <t seconds> form, one <|video_pad|> a patch
        # The template holds one <|image_pad|> per image and one <|video_pad|> per temporal patch of a video; the
        # engine expands each to its visual token count.
        visual = sum(visual_tokens(self.budget, image.original_size) - 1 for image in images)
        for video in videos:
            patches, tokens = video_patch_tokens(self.videos.budget, video)
            visual += tokens - patches
        return len(self.tokenizer(text)["input_ids"]) + visual

    def observe(self, counted: int, actual: int) -> None:
        return None  # exact already


class EstimateCounter:
    def __init__(self, budget: PixelBudget, video_budget: VideoBudget | None = None, policy: MediaPolicy | None = None):
        self.budget = budget
        self.videos = _Videos(policy or MediaPolicy(), video_budget or VideoBudget())
        self.scale = 1.0  # grows when the engine reports more tokens than estimated; never shrinks

    def count(self, messages: Sequence[Message]) -> int:
        text_tokens = sum(len(m.text) for m in messages) / CHARS_PER_TOKEN
        visual = sum(
            visual_tokens(self.budget, load_image(src).original_size) + IMAGE_FRAME_TOKENS
            for m in messages
            for src in m.images
        )
        for video in self.videos.fitted(self.videos.decoded(messages)):
            patches, tokens = video_patch_tokens(self.videos.budget, video)
            visual += tokens + patches * VIDEO_PATCH_TEXT_TOKENS
        overhead = MESSAGE_OVERHEAD_TOKENS * (len(messages) + 1)
        return math.ceil((text_tokens + overhead + visual) * self.scale)

    def observe(self, counted: int, actual: int) -> None:
        if counted > 0 and actual > counted:
            self.scale *= actual / counted


def counter_for(vr: AsyncVReason | VReason) -> TokenCounter:
    """The exact counter when the model's processor is loaded here (an in-process engine), else the
    self-correcting estimate."""
    engine = vr.engine
    video_budget = getattr(engine, "video_budget", None) or VideoBudget()  # the engine samples clips under it
    loaded = getattr(engine, "loaded", None)
    if loaded is not None and getattr(loaded, "processor", None) is not None:
        return ExactCounter(loaded.processor, engine.policy, engine.budget, video_budget)
    return EstimateCounter(engine.budget, video_budget, getattr(engine, "policy", None))
