"""The engine core: the engine thread's loop of schedule -> prefill -> update -> decode -> update. No torch.

Each step asks the scheduler what to run, frees what it says has ended, has the runner execute exactly the
rest (the prefill pass, then the decode pass over what is still running), and hands each pass's sampled
tokens back to the scheduler, which applies the finish rules. The core then
frees the requests that finished, keeps their KV in the prefix cache (keyed by prompt and answer, for
follow-up questions) and only then tells their owners, so a follow-up sent right after an answer finds it.
Bookkeeping happens under one lock; the model work runs outside it, so submissions and aborts never wait
for a forward pass. The core learns of stop strings from the front end (`stop`), never decodes text itself.
"""

from __future__ import annotations

import atexit
import logging
import threading
import weakref
from collections.abc import Callable, Sequence
from typing import Protocol

from vreason.engine.caches import PrefixCache
from vreason.engine.interface import EngineStats
from vreason.engine.request import Finish, FinishReason, ImageSpan, KVPayload, RequestState, Status
from vreason.engine.scheduler import RunnerOutput, Scheduler

logger = logging.getLogger("vreason.engine")


class ModelRunner(Protocol):
    """What the core needs from the model side (engine/batch_runner.BatchRunner)."""

    def execute_prefill(self, requests: Sequence[RequestState]) -> RunnerOutput:
        """Compute these newly admitted prompts as new rows; one sampled token per request."""
        ...

    def execute_decode(self, requests: Sequence[RequestState]) -> RunnerOutput:
        """One token for each of these requests: exactly the rows the runner holds."""
        ...

    def release(self, request_id: str, keep: bool) -> KVPayload | None:
        """Free a request's row; with `keep`, return a copy of its KV (None when it holds none)."""
        ...

    def reset(self) -> None:
        """Forget every row (after a failed step)."""
        ...


class EngineCore:
    def __init__(self, runner: ModelRunner, scheduler: Scheduler, prefix_cache: PrefixCache, start: bool = True):
        self.runner = runner
        self.scheduler = scheduler
        self.prefix_cache = prefix_cache
        self.requests: dict[str, RequestState] = {}
        self.steps = 0
        self._lock = threading.Condition()
        self._stopped = False
        self._thread: threading.Thread | None = None
        if start:  # tests drive `step()` by hand instead
            self._thread = threading.Thread(target=self._loop, name="vreason-engine", daemon=True)
            self._thread.start()
            # A daemon thread still inside a torch op (the last answer's KV copied into the prefix cache, after
            # the answer went out) while the interpreter tears torch down aborts the process ("terminate called
            # without an active exception"): a script or `vreason ask` that exits without closing its engine
            # stops the loop first. Held weakly: the engine is still freed when dropped.
            atexit.register(_shutdown_at_exit, weakref.ref(self))

    # -- called from other threads -------------------------------------------------------------------------
    def submit(self, request: RequestState) -> None:
        """Queue a request (raises EngineOverloadedError / InvalidRequestError instead of queueing)."""
        assert request.inputs is not None, "the front end prepares a request's inputs before submitting it"
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
        self._end(request_id, FinishReason.ABORT)

    def stop(self, request_id: str) -> None:
        """The front end found a stop string in the text: the answer is complete."""
        self._end(request_id, FinishReason.STOP)

    def stats(self) -> EngineStats:
        with self._lock:
            return EngineStats(
                waiting=len(self.scheduler.waiting),
                running=len(self.scheduler.running),
                finished_total=self.scheduler.finished_total,
                aborted_total=self.scheduler.aborted_total,
                rejected_total=self.scheduler.rejected_total,
                caches={"prefix": self.prefix_cache.stats()},
            )

    def shutdown(self) -> None:
        """Abort what is left and stop the loop; once is enough (later calls only wait for the loop's end)."""
        with self._lock:
            if not self._stopped:
                self._stopped = True
                self.scheduler.finish_requests(list(self.requests.values()), FinishReason.ABORT)
                self._lock.notify()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _end(self, request_id: str, reason: FinishReason) -> None:
        with self._lock:
            request = self.requests.get(request_id)
            if request is not None:
                self.scheduler.finish_requests([request], reason)
                self._lock.notify()

    # -- the engine thread ---------------------------------------------------------------------------------
    def _loop(self) -> None:
        while True:
            with self._lock:
                while not self.scheduler.has_work() and not self._stopped:
                    self._lock.wait()
                if self._stopped and not self.scheduler.has_work():
                    return
            try:
                self.step()
            except Exception as err:  # a fault outside the model step (freeing, caching): keep serving
                logger.exception("engine step failed")
                self._recover(err)

    def _recover(self, err: BaseException) -> None:
        """End every admitted request with `err`, tell whoever was not yet told, start over with no rows."""
        with self._lock:
            failed = self.scheduler.fail_running(err)
            self.runner.reset()
            untold = [r for r in self.requests.values() if r.status is Status.FINISHED and r not in failed]
            self._tell([*failed, *untold])

    def step(self) -> None:
        """One iteration: schedule, free what ended between steps, then prefill and decode, each pass followed
        by the scheduler's update (a request that ends on its first token is not decoded)."""
        with self._lock:
            out = self.scheduler.schedule()
            self._close(out.finished)
        if not out.has_model_work:
            return
        self.steps += 1
        if out.prefill:
            self._run(self.runner.execute_prefill, out.prefill)
        with self._lock:  # free what ended meanwhile (an abort, an owner gone); decode what still runs
            self._close(self.scheduler.take_ended())
            decode = [r for r in out.decode if r.status is Status.RUNNING]
        if decode:
            self._run(self.runner.execute_decode, decode)

    def _run(self, execute: Callable[[Sequence[RequestState]], RunnerOutput], requests: list[RequestState]) -> None:
        try:
            result = execute(requests)
        except Exception as err:  # a fault in the model step: fail the requests in it, keep serving
            logger.exception("engine model step failed")
            self._recover(err)
            return
        with self._lock:
            outputs = self.scheduler.update_from_output(requests, result)
            finished = [o.request for o in outputs if o.finish is not None]
            self._free(finished)  # before anyone hears of the answer: a follow-up must find its KV
            for output in outputs:
                self._deliver(output.request, output.token)
            self._tell(finished)

    def _close(self, requests: Sequence[RequestState]) -> None:
        self._free(requests)
        self._tell(requests)

    def _free(self, requests: Sequence[RequestState]) -> None:
        for request in requests:
            assert request.status is Status.FINISHED
            assert request.finish_reason is not None
            request.cached_prefix = None  # here, on the engine thread: a prefill may be reading it until now
            payload = self.runner.release(request.request_id, keep=request.keep_kv and request.finish_reason.keeps_kv)
            if payload is not None and request.inputs is not None:
                answer = request.output_ids[: payload.length - request.prompt_len]
                self.prefix_cache.insert(request.inputs.cache_key + tuple(answer), payload, payload.nbytes)

    def _tell(self, requests: Sequence[RequestState]) -> None:
        for request in requests:
            if self.requests.pop(request.request_id, None) is not None:
                self._deliver(request, request.finish_item())

    def _deliver(self, request: RequestState, item: int | Finish) -> None:
        """Hand `item` to the request's owner; an owner that cannot take it (its event loop has closed) loses
        the request, never the engine thread."""
        try:
            request.sink(item)
        except Exception:
            logger.warning("request %s: its owner stopped listening; aborting it", request.request_id, exc_info=True)
            self.scheduler.finish_requests([request], FinishReason.ABORT)
            self.requests.pop(request.request_id, None)


def _clip_before_images(length: int, images: Sequence[ImageSpan]) -> int:
    """A reused prefix must not end inside an image span: the rest of the image would need its features
    (cache keys make this rare: equal image keys mean equal spans; this keeps the invariant explicit)."""
    for image in images:
        if image.start < length < image.start + image.num_tokens:
            return image.start
    return length


def _shutdown_at_exit(core: weakref.ref[EngineCore]) -> None:
    engine = core()
    if engine is not None:
        engine.shutdown()
