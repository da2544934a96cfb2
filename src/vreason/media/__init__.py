"""Media preprocessing: inputs in, RGB images and sampled video frames sized for Qwen3-VL out. Knows nothing of
models or prompts."""

from vreason.media.image_input import ImageSource, PreparedImage, describe_source, load_image
from vreason.media.pixel_budget import PixelBudget, checkpoint_budget
from vreason.media.policy import MediaPolicy
from vreason.media.video_types import PreparedVideo, VideoSampling, VideoSource

__all__ = [
    "ImageSource",
    "MediaPolicy",
    "PixelBudget",
    "PreparedImage",
    "PreparedVideo",
    "checkpoint_budget",
    "describe_source",
    "VideoSampling",
    "VideoSource",
    "load_image",
]
