"""Request state inside the local engine, and the contracts of what rides along with it. No torch.

The scheduler reads lengths, deadlines and the finish rules' inputs; the model runner reads the prepared
inputs. Both sides meet here through small protocols (`PromptInputs`, `OutputConstraint`, `KVPayload`) so
the scheduler and its tests never import tensors. Tokens leave through `sink`, a thread-safe callable set
by the async front end.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from vreason.engine.sampling import SamplingParams


class Status(enum.Enum):
    WAITING = "waiting"
    RUNNING = "running"
    FINISHED = "finished"


class FinishReason(str, enum.Enum):
    STOP = "stop"  # end-of-turn token, a stop string (told by the front end) or a complete grammar
    LENGTH = "length"  # max_new_tokens or the model's context
    ABORT = "abort"  # the client went away or asked to stop
    TIMEOUT = "timeout"  # past the request's deadline
    ERROR = "error"  # the model step failed

    @property
    def keeps_kv(self) -> bool:
        """Whether the request's KV is worth keeping for follow-ups (an aborted answer may still be resent)."""
        return self in (FinishReason.STOP, FinishReason.LENGTH, FinishReason.ABORT)


class ImageSpan(Protocol):
    """Where an image's placeholder tokens sit in a prompt (engine/inputs.ImageSlot)."""

    start: int
    num_tokens: int
    features: object | None  # the vision tower's output when the vision cache had it; None: to be encoded


class PromptInputs(Protocol):
    """A prompt as the runner will compute it (engine/inputs.PreparedInputs)."""

    token_ids: list[int]
    cache_key: tuple[int, ...]  # token ids with image placeholders replaced by the image's key
    images: Sequence[ImageSpan]


class OutputConstraint(Protocol):
    """Grammar state of constrained decoding (engine/grammar.OutputConstraint)."""

    def accept(self, token_id: int) -> bool: ...

    def is_terminated(self) -> bool: ...


class KVPayload(Protocol):
    """A copy of some KV positions, as the prefix cache stores it (engine/kv_slots.KVPayload)."""

    length: int

    @property
    def nbytes(self) -> int: ...


@dataclass
class Finish:
    """The last item a request's sink receives."""

    reason: FinishReason
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
    inputs: PromptInputs | None = None  # what the runner computes; None only in scheduler tests
    sink: Callable[[int | Finish], None] = lambda item: None
    deadline: float | None = None  # time.monotonic() deadline; None: no limit
    arrival: float = field(default_factory=time.monotonic)
    status: Status = Status.WAITING
    output_ids: list[int] = field(default_factory=list)
    num_cached_tokens: int = 0  # set at admission: the prefix reused from the cache
    cached_prefix: KVPayload | None = None  # the prefix cache's KV for those tokens, held until prefill copies it
    num_cached_images: int = 0
    first_token_at: float = 0.0
    constraint: OutputConstraint | None = None  # per-request grammar state for constrained decoding
    finish_reason: FinishReason | None = None  # set once, by the scheduler
    error: BaseException | None = None  # with FinishReason.ERROR
    keep_kv: bool = True  # False: its KV goes back to the pool when it ends, not into the prefix cache

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

    def finish_item(self) -> Finish:
        assert self.finish_reason is not None, "only a finished request has a finish item"
        return Finish(
            self.finish_reason,
            num_cached_tokens=self.num_cached_tokens,
            num_cached_images=self.num_cached_images,
            first_token_at=self.first_token_at,
            finished_at=time.perf_counter(),
            error=self.error,
        )
