"""The scheduler owns each request's life: queues, admission, and the finish rules. No torch.

Every engine step calls `schedule()`, which says which requests the runner prefills (newly admitted), which
it decodes (every running one, the newly admitted included) and which ended between steps (abort, a stop
string the front end found, a deadline) and must be freed. The runner executes exactly that in two passes,
prefill then decode, each returning one sampled token per request; after each, `update_from_output()`
applies the tokens and the finish rules (end of turn, max_new_tokens, the model's context, a complete
grammar) and returns what each request gained, so a request that ends on its first token is not decoded.
A request is finished in one place only (`_finish`), whatever ended it.

Admission is first-come-first-served and stops at the first request that does not fit, so a large request is
never starved by smaller ones behind it. A request fits when the running batch has a free row
(`max_batch_size`), its worst-case KV footprint fits the token budget (`max_kv_tokens`: reserved up front, so
nothing is ever preempted mid-answer), and the uncached prompt tokens of this step's prefill stay under
`max_prefill_tokens` (the first request of a step is always allowed, however long). One that could never fit
is refused at `add`, as is any request past the bounded waiting queue (EngineOverloadedError).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from vreason.engine.request import FinishReason, RequestState, Status
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
    """What the runner does this step."""

    # Admitted this step: the runner computes their uncached prompt tokens and samples a first token.
    prefill: list[RequestState] = field(default_factory=list)
    # Running after admission (the newly admitted too): one token each, after the prefill pass, for those
    # still running by then.
    decode: list[RequestState] = field(default_factory=list)
    # Ended since the last step outside a model step (abort, stop string, deadline): the runner frees them.
    finished: list[RequestState] = field(default_factory=list)

    @property
    def has_model_work(self) -> bool:
        return bool(self.prefill or self.decode)


@dataclass
class RunnerOutput:
    """What the runner did: one sampled token per request it prefilled or decoded."""

    sampled: dict[str, int] = field(default_factory=dict)  # request id -> token


@dataclass
class RequestOutput:
    """One request's gain from a step: a new token, and the finish when this step ended it."""

    request: RequestState
    token: int
    finish: FinishReason | None = None  # set: free the request and tell its owner


class Scheduler:
    def __init__(self, config: SchedulerConfig | None = None, eos_ids: Iterable[int] = (), max_context: int = 0):
        self.config = config or SchedulerConfig()
        self.eos_ids = frozenset(eos_ids)
        self.max_context = max_context  # 0: no limit beyond max_new_tokens
        self.waiting: deque[RequestState] = deque()
        self.running: list[RequestState] = []
        self._ended_between_steps: list[RequestState] = []
        self.rejected_total = 0  # refused because the queue was full
        self.finished_total = 0
        self.aborted_total = 0

    @property
    def reserved_kv_tokens(self) -> int:
        return sum(r.max_total_tokens for r in self.running)

    def has_work(self) -> bool:
        return bool(self.waiting or self.running or self._ended_between_steps)

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

    def finish_requests(self, requests: Iterable[RequestState], reason: FinishReason) -> None:
        """End requests between steps (abort, a stop string found by the front end); the next `schedule()`
        hands them to the runner to free. Requests already finished are left as they are."""
        for request in requests:
            if request.status is not Status.FINISHED:
                self._finish(request, reason)
                self._ended_between_steps.append(request)

    def take_ended(self) -> list[RequestState]:
        """Requests ended outside a model pass since the last call: the runner must free them."""
        ended, self._ended_between_steps = self._ended_between_steps, []
        return ended

    def schedule(self, now: float | None = None) -> SchedulerOutput:
        now = time.monotonic() if now is None else now
        self.finish_requests([r for r in (*self.waiting, *self.running) if r.expired(now)], FinishReason.TIMEOUT)
        out = SchedulerOutput(finished=self.take_ended())
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
        out.decode = list(self.running)
        return out

    def update_from_output(
        self, executed: Sequence[RequestState], result: RunnerOutput, sampled_at: float | None = None
    ) -> list[RequestOutput]:
        """Apply the tokens sampled for `executed` (one runner pass) and the finish rules. A request that ended
        while the pass ran (an abort from another thread) gets nothing: its token is dropped. `sampled_at`:
        time.perf_counter() (timings); `schedule(now)` takes time.monotonic() (deadlines)."""
        sampled_at = time.perf_counter() if sampled_at is None else sampled_at
        outputs: list[RequestOutput] = []
        for request in executed:
            token = result.sampled.get(request.request_id)
            if token is None or request.status is not Status.RUNNING:
                continue
            if not request.output_ids:
                request.first_token_at = sampled_at
            request.output_ids.append(token)
            if request.constraint is not None:
                request.constraint.accept(token)
            reason = self._finish_reason(request, token)
            if reason is not None:
                self._finish(request, reason)
            outputs.append(RequestOutput(request, token, reason))
        return outputs

    def fail_running(self, error: BaseException) -> list[RequestState]:
        """End every admitted request with `error` (the model step failed); the runner starts over empty."""
        failed = list(self.running)
        for request in failed:
            request.error = error
            self._finish(request, FinishReason.ERROR)
        return failed

    def _finish_reason(self, request: RequestState, token: int) -> FinishReason | None:
        params = request.params
        if token in self.eos_ids and not params.ignore_eos:
            return FinishReason.STOP
        if request.constraint is not None and request.constraint.is_terminated():
            return FinishReason.STOP
        generated = len(request.output_ids)
        if generated >= params.max_new_tokens:
            return FinishReason.LENGTH
        if self.max_context and request.prompt_len + generated >= self.max_context:
            return FinishReason.LENGTH
        return None

    def _finish(self, request: RequestState, reason: FinishReason) -> None:
        """The one place a request ends: out of its queue, its reason recorded, counted."""
        if request.status is Status.RUNNING:
            self.running.remove(request)
        elif request.status is Status.WAITING:
            self.waiting.remove(request)
        request.status = Status.FINISHED
        request.finish_reason = reason
        if reason is FinishReason.ABORT:
            self.aborted_total += 1
        else:
            self.finished_total += 1
