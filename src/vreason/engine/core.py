"""The engine core: a background thread that turns scheduler decisions into model steps. No torch.

Each step: apply aborts, ask the scheduler what to run, prefill the newly admitted requests, decode one
token for every running request, then deliver tokens and finish requests that stopped (end of turn, stop
string, grammar complete, length, context). Bookkeeping (scheduler, prefix cache, request table) happens
under one lock; the model work runs outside it, so submissions and aborts never wait for a forward pass.
A finished request's KV goes to the prefix cache, keyed by its prompt and answer, for follow-up questions.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from vreason.engine.caches import PrefixCache
from vreason.engine.interface import EngineStats
from vreason.engine.request import Finish, RequestState
from vreason.engine.scheduler import Scheduler, SchedulerConfig

logger = logging.getLogger("vreason.engine")


class EngineCore:
    def __init__(
        self,
        runner: Any,  # BatchRunner: prefill(requests) -> tokens, decode() -> tokens, release(id, keep), rows
        scheduler_config: SchedulerConfig,
        prefix_cache: PrefixCache,
        decode_text: Callable[[Sequence[int]], str],
        eos_ids: Sequence[int],
        max_context: int = 0,
    ):
        self.runner = runner
        self.scheduler = Scheduler(scheduler_config)
        self.prefix_cache = prefix_cache
        self.decode_text = decode_text
        self.eos_ids = frozenset(eos_ids)
        self.max_context = max_context
        self.requests: dict[str, RequestState] = {}
        self.finished_total = 0
        self.aborted_total = 0
        self.steps = 0
        self._lock = threading.Condition()
        self._stopped = False
        self._thread = threading.Thread(target=self._loop, name="vreason-engine", daemon=True)
        self._thread.start()

    # -- called from other threads -------------------------------------------------------------------------
    def submit(self, request: RequestState) -> None:
        """Queue a request (raises EngineOverloadedError / InvalidRequestError instead of queueing)."""
        with self._lock:
            if self._stopped:
                raise RuntimeError("the engine is shut down")
            limit = len(request.prompt_ids) - 1  # at least one prompt token is computed for the first logits
            match = self.prefix_cache.lookup(request.inputs.cache_key, limit) if limit > 0 else None
            if match is not None:
                length = _clip_before_images(match.length, request.inputs.images)
                if length:
                    request.num_cached_tokens, request.cached_prefix = length, match.payload
            request.num_cached_images = sum(1 for i in request.inputs.images if i.features is not None)
            self.scheduler.add(request)
            self.requests[request.request_id] = request
            self._lock.notify()

    def abort(self, request_id: str) -> None:
        with self._lock:
            request = self.requests.get(request_id)
            if request is not None:
                request.abort_requested = True
                self._lock.notify()

    def stats(self) -> EngineStats:
        with self._lock:
            return EngineStats(
                waiting=len(self.scheduler.waiting),
                running=len(self.scheduler.running),
                finished_total=self.finished_total,
                aborted_total=self.aborted_total,
                rejected_total=self.scheduler.rejected_total,
                caches={"prefix": self.prefix_cache.stats()},
            )

    def shutdown(self) -> None:
        with self._lock:
            self._stopped = True
            for request in list(self.requests.values()):
                request.abort_requested = True
            self._lock.notify()
        self._thread.join(timeout=30)

    # -- the engine thread ---------------------------------------------------------------------------------
    def _loop(self) -> None:
        while True:
            with self._lock:
                while not self.scheduler.has_work() and not self._stopped:
                    self._lock.wait()
                for request in [r for r in self.requests.values() if r.abort_requested]:
                    self._finish(request, "abort")
                if self._stopped and not self.scheduler.has_work():
                    return
                out = self.scheduler.schedule()
                for request in out.expired:
                    self._finish(request, "timeout")
            try:
                self._step(out.prefill)
            except Exception as err:  # a fault in the model step: fail the requests in it, keep serving
                logger.exception("engine step failed")
                with self._lock:
                    self._fail_running(err)

    def _step(self, prefill: list[RequestState]) -> None:
        self.steps += 1
        if prefill:
            tokens = self.runner.prefill(prefill)
            with self._lock:
                for request, token in zip(prefill, tokens, strict=False):
                    self._accept(request, token)
        if self.runner.rows:
            rows = [row.request for row in self.runner.rows]
            tokens = self.runner.decode()
            with self._lock:
                for request, token in zip(rows, tokens, strict=False):
                    self._accept(request, token)

    def _accept(self, request: RequestState, token: int) -> None:
        if request.request_id not in self.requests:
            return
        now = time.perf_counter()
        if not request.output_ids:
            request.first_token_at = now
        request.output_ids.append(token)
        constraint = request.constraint
        if constraint is not None:
            constraint.accept(token)
        request.sink(token)
        reason = None
        params = request.params
        grammar_done = constraint is not None and constraint.is_terminated()
        end_of_turn = token in self.eos_ids and not params.ignore_eos
        if end_of_turn or (params.stop and self._hit_stop(request)) or grammar_done:
            reason = "stop"
        elif len(request.output_ids) >= params.max_new_tokens or (
            self.max_context and request.prompt_len + len(request.output_ids) >= self.max_context
        ):
            reason = "length"
        if reason is not None:
            self._finish(request, reason)

    def _hit_stop(self, request: RequestState) -> bool:
        # A stop string completes at the end of the text; every non-special token adds at least one character.
        window = max(len(s) for s in request.params.stop) + 4
        tail = self.decode_text(request.output_ids[-window:])
        return any(stop in tail for stop in request.params.stop)

    def _fail_running(self, err: BaseException) -> None:
        """End every admitted request with `err` and start over with an empty batch."""
        self.runner.reset()
        for request in list(self.scheduler.running):
            self._finish(request, "error", err)

    def _finish(self, request: RequestState, reason: str, error: BaseException | None = None) -> None:
        if self.requests.pop(request.request_id, None) is None:
            return
        self.scheduler.remove(request)
        payload = self.runner.release(request.request_id, keep=reason in ("stop", "length", "abort"))
        if payload is not None:
            key = request.inputs.cache_key + tuple(request.output_ids[: payload.length - request.prompt_len])
            self.prefix_cache.insert(key, payload, payload.nbytes)
        request.cached_prefix = None
        if reason == "abort":
            self.aborted_total += 1
        else:
            self.finished_total += 1
        request.sink(
            Finish(
                reason,
                num_cached_tokens=request.num_cached_tokens,
                num_cached_images=request.num_cached_images,
                first_token_at=request.first_token_at,
                finished_at=time.perf_counter(),
                error=error,
            )
        )


def _clip_before_images(length: int, images: Sequence[Any]) -> int:
    """A reused prefix must not end inside an image span: the rest of the image would need its features
    (cache keys make this rare: equal image keys mean equal spans; this keeps the invariant explicit)."""
    for image in images:
        if image.start < length < image.start + image.num_tokens:
            return image.start
    return length
