"""The engine interface every surface uses: a request in, an async stream of deltas out, ending with the Answer.

Surfaces (Python API, CLI, server, UI) and the reasoning layer depend on `Engine` only, so the local batching
engine, a vLLM backend or a remote OpenAI-compatible endpoint can stand behind them. Closing the stream early
(or `abort(request_id)`) stops the request and frees what it held. No torch here.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from vreason.engine.sampling import SamplingParams
from vreason.engine.types import Answer, Message, StreamDelta
from vreason.media import MediaPolicy, PixelBudget


@dataclass
class GenerationRequest:
    messages: Sequence[Message]  # resolved by the media step: every image part holds a PreparedImage
    params: SamplingParams
    budget: PixelBudget | None = None  # None: the engine's default
    stream: bool = True  # False skips the incremental detokenization work
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    # Deadline for waiting plus generating; past it the request ends with RequestTimeoutError. None: no limit.
    timeout_s: float | None = None
    # Requests of one conversation share a prefix; backends with several replicas route them together.
    conversation_id: str | None = None
    # False: the request's KV is not kept in the prefix cache when it ends (a one-off prompt no follow-up
    # extends, such as a live window about to slide); lookups still reuse what is cached.
    keep_kv: bool = True


@dataclass
class CacheStats:
    hits: int = 0
    misses: int = 0
    evictions: int = 0
    entries: int = 0
    bytes_used: int = 0
    bytes_budget: int = 0

    @property
    def hit_rate(self) -> float:
        total = self.hits + self.misses
        return self.hits / total if total else 0.0


@dataclass
class EngineStats:
    """A snapshot for metrics and health checks."""

    waiting: int = 0  # admitted, not yet started
    running: int = 0  # in the decode batch
    finished_total: int = 0
    aborted_total: int = 0
    rejected_total: int = 0  # refused because the queue was full
    caches: dict[str, CacheStats] = field(default_factory=dict)  # "vision", "prefix", ...


Event = StreamDelta | Answer


@runtime_checkable
class Engine(Protocol):
    model_name: str
    thinking: bool  # a Thinking checkpoint: answers carry `thinking`
    # the built-in demo model or one trained from it: it reads only shapes-world question forms (models/demo.py)
    demo_family: bool
    policy: MediaPolicy  # what media the engine may load
    budget: PixelBudget  # default pixel budget per image
    max_images_per_request: int | None

    @property
    def default_params(self) -> SamplingParams: ...

    def generate(self, request: GenerationRequest) -> AsyncIterator[Event]:
        """Deltas (when request.stream) then exactly one Answer. Errors raise VReasonError subclasses."""
        ...

    async def abort(self, request_id: str) -> None: ...

    def stats(self) -> EngineStats: ...

    async def close(self) -> None: ...
