"""Request state inside the local engine: what the scheduler and the engine core track per request.

No torch: the model runner's prepared inputs ride along as an opaque `inputs` object, and the scheduler
reads only lengths and deadlines. Tokens leave through `sink`, a thread-safe callable set by the async front.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from vreason.engine.sampling import SamplingParams


class Status(enum.Enum):
    WAITING = "waiting"
    RUNNING = "running"
    FINISHED = "finished"


@dataclass
class Finish:
    """The last item a request's sink receives."""

    reason: str  # "stop" | "length" | "abort" | "timeout" | "error"
    num_cached_tokens: int = 0  # prompt tokens whose KV came from the prefix cache
    num_cached_images: int = 0  # images whose features came from the vision cache
    first_token_at: float = 0.0
    finished_at: float = 0.0
    error: BaseException | None = None


@dataclass
class RequestState:
    request_id: str
    prompt_ids: list[int]
    params: SamplingParams
    inputs: Any = None  # the runner's prepared inputs (tensors); the scheduler never looks inside
    sink: Callable[[int | Finish], None] = lambda item: None
    deadline: float | None = None  # time.monotonic() deadline; None: no limit
    arrival: float = field(default_factory=time.monotonic)
    status: Status = Status.WAITING
    output_ids: list[int] = field(default_factory=list)
    num_cached_tokens: int = 0  # set at admission: the prefix reused from the cache
    cached_prefix: Any = None  # the prefix cache's KV for those tokens, held until prefill copies it
    num_cached_images: int = 0
    first_token_at: float = 0.0
    abort_requested: bool = False
    constraint: Any = None  # per-request grammar state for constrained decoding (engine/grammar.py)

    @property
    def prompt_len(self) -> int:
        return len(self.prompt_ids)

    @property
    def max_total_tokens(self) -> int:
        """The most KV positions this request can ever occupy: what admission reserves."""
        return self.prompt_len + self.params.max_new_tokens

    @property
    def num_new_prompt_tokens(self) -> int:
        """Prompt tokens that prefill must still compute."""
        return self.prompt_len - self.num_cached_tokens

    def expired(self, now: float) -> bool:
        return self.deadline is not None and now >= self.deadline
