"""How a `RemoteEngine` reaches its upstreams: addresses, key, model, media rules, timeouts, retries, health.

Validated at construction, with the values in the message; no I/O here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from vreason.engine.backends.balancer import DEFAULT_AFFINITY_SLACK
from vreason.engine.backends.health import HealthPolicy
from vreason.engine.backends.image_cache import ImageFormat
from vreason.errors import InvalidRequestError
from vreason.media import MediaPolicy, PixelBudget
from vreason.media.policy import DEFAULT_MAX_IMAGES_PER_REQUEST
from vreason.media.video_budget import VideoBudget


@dataclass
class RemoteConfig:
    upstreams: Sequence[str]  # http(s) URLs; `http://host:8000` means `http://host:8000/v1`
    api_key: str | None = None  # sent as `Authorization: Bearer` to every upstream
    model: str | None = None  # None: the first model the first reachable upstream lists
    thinking: bool | None = None  # None: a model whose name says "thinking" is taken for a Thinking model
    policy: MediaPolicy = field(default_factory=MediaPolicy)  # what media the caller may send through us
    budget: PixelBudget = field(default_factory=PixelBudget)  # images are resized here before sending
    # clips are sampled and sized here before sending (the released Qwen3-VL video processor's bounds)
    video_budget: VideoBudget = field(default_factory=VideoBudget)
    max_images_per_request: int | None = DEFAULT_MAX_IMAGES_PER_REQUEST
    image_format: ImageFormat = "png"  # png: lossless, the upstream sees the pixels a local engine would
    connect_timeout_s: float = 3.0
    # Longest silence between two chunks, the upstream's queueing and prefill included.
    read_timeout_s: float = 300.0
    max_retries: int = 2  # further attempts after the first, only while nothing reached the caller
    backoff_s: float = 0.05  # before the first retry; doubles on each retry, with jitter
    max_backoff_s: float = 2.0
    health: HealthPolicy = field(default_factory=HealthPolicy)
    affinity_slack: int = DEFAULT_AFFINITY_SLACK
    max_connections: int = 512

    def __post_init__(self) -> None:
        if isinstance(self.upstreams, str):
            self.upstreams = [self.upstreams]
        for name in ("connect_timeout_s", "read_timeout_s", "max_backoff_s"):
            if getattr(self, name) <= 0:
                raise InvalidRequestError(f"{name} ({getattr(self, name)}) must be > 0", param=name)
        if self.max_retries < 0 or self.backoff_s < 0:
            raise InvalidRequestError(
                f"max_retries ({self.max_retries}) and backoff_s ({self.backoff_s}) must be >= 0", param="max_retries"
            )
        if self.image_format not in ("png", "jpeg"):
            raise InvalidRequestError(f"image_format ({self.image_format!r}) must be png or jpeg")
