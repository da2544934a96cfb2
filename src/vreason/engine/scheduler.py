"""The scheduler: waiting and running queues, admission, iteration-level batching. No torch.

Every engine step asks `schedule()` which requests to prefill (newly admitted) and which to decode (running).
Admission is first-come-first-served and stops at the first request that does not fit, so a large request is
never starved by smaller ones behind it. A request fits when the running batch has a free row
(`max_batch_size`), its worst-case KV footprint fits the token budget (`max_kv_tokens`), and the uncached
prompt tokens of this step's prefill stay under `max_prefill_tokens` (the first request of a step is always
allowed, however long). Finished and aborted requests leave between steps, so new ones join a running batch
without waiting for it to drain. The waiting queue is bounded: `add` refuses with EngineOverloadedError.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field

from vreason.engine.request import RequestState, Status
from vreason.errors import EngineOverloadedError, InvalidRequestError


@dataclass(frozen=True)
class SchedulerConfig:
    max_batch_size: int = 64  # rows in the decode batch
    max_kv_tokens: int = 131_072  # sum of prompt + max_new_tokens over running requests
    max_prefill_tokens: int = 8192  # uncached prompt tokens prefilled in one step
    max_waiting: int = 1024  # queued requests beyond which new ones are refused

    def __post_init__(self) -> None:
        for name in ("max_batch_size", "max_kv_tokens", "max_prefill_tokens", "max_waiting"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise InvalidRequestError(f"{name} ({value!r}) must be a positive integer", param=name)


@dataclass
class SchedulerOutput:
    prefill: list[RequestState] = field(default_factory=list)  # admitted this step: compute their prompts
    decode: list[RequestState] = field(default_factory=list)  # running since an earlier step: one token each
    expired: list[RequestState] = field(default_factory=list)  # past their deadline: the core ends them


class Scheduler:
    def __init__(self, config: SchedulerConfig | None = None):
        self.config = config or SchedulerConfig()
        self.waiting: deque[RequestState] = deque()
        self.running: list[RequestState] = []
        self.rejected_total = 0

    @property
    def reserved_kv_tokens(self) -> int:
        return sum(r.max_total_tokens for r in self.running)

    def has_work(self) -> bool:
        return bool(self.waiting or self.running)

    def add(self, request: RequestState) -> None:
        if request.max_total_tokens > self.config.max_kv_tokens:
            raise InvalidRequestError(
                f"prompt ({request.prompt_len} tokens) + max_new_tokens ({request.params.max_new_tokens}) is over "
                f"the engine's KV budget of {self.config.max_kv_tokens} tokens; lower max_new_tokens",
                param="max_new_tokens",
            )
        if len(self.waiting) >= self.config.max_waiting:
            self.rejected_total += 1
            raise EngineOverloadedError(
                f"the engine is overloaded ({len(self.waiting)} requests waiting, limit {self.config.max_waiting}); "
                "retry shortly",
                retry_after_s=1.0,
            )
        request.status = Status.WAITING
        self.waiting.append(request)

    def schedule(self, now: float | None = None) -> SchedulerOutput:
        now = time.monotonic() if now is None else now
        out = SchedulerOutput()
        out.expired = [r for r in (*self.waiting, *self.running) if r.expired(now)]
        for request in out.expired:
            self.remove(request)
        out.decode = list(self.running)
        reserved = self.reserved_kv_tokens
        prefill_tokens = 0
        while self.waiting and len(self.running) < self.config.max_batch_size:
            head = self.waiting[0]
            if reserved + head.max_total_tokens > self.config.max_kv_tokens:
                break
            if out.prefill and prefill_tokens + head.num_new_prompt_tokens > self.config.max_prefill_tokens:
                break
            self.waiting.popleft()
            head.status = Status.RUNNING
            self.running.append(head)
            out.prefill.append(head)
            reserved += head.max_total_tokens
            prefill_tokens += head.num_new_prompt_tokens
        return out

    def remove(self, request: RequestState) -> None:
        """Take a request out of whichever queue holds it (finished, aborted or expired)."""
        if request.status is Status.RUNNING:
            self.running.remove(request)
        elif request.status is Status.WAITING:
            self.waiting.remove(request)
        request.status = Status.FINISHED
