"""The engine core's request lifecycle with a fake runner: no torch, no model, steps driven by hand."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass, field

import pytest

from vreason.engine.caches import PrefixCache
from vreason.engine.core import EngineCore
from vreason.engine.request import Finish, FinishReason, RequestState, Status
from vreason.engine.sampling import SamplingParams
from vreason.engine.scheduler import RunnerOutput, Scheduler, SchedulerConfig
from vreason.errors import InvalidRequestError

EOS = 0


@dataclass
class FakeInputs:
    token_ids: list[int]
    cache_key: tuple[int, ...]
    images: list = field(default_factory=list)


@dataclass
class FakePayload:
    length: int

    @property
    def nbytes(self) -> int:
        return self.length


class FakeRunner:
    """Rows as KV lengths; each request samples from its own script (then 5s), like a model would."""

    def __init__(self, scripts: dict[str, list[int]] | None = None):
        self.scripts = scripts or {}
        self.rows: dict[str, int] = {}
        self.released: list[tuple[str, bool]] = []
        self.steps: list[tuple[str, list[str]]] = []
        self.fail_next = False

    def execute_prefill(self, requests: list[RequestState]) -> RunnerOutput:
        self.steps.append(("prefill", [r.request_id for r in requests]))
        self._maybe_fail()
        for request in requests:
            self.rows[request.request_id] = request.prompt_len
        return RunnerOutput({r.request_id: self._next(r) for r in requests})

    def execute_decode(self, requests: list[RequestState]) -> RunnerOutput:
        self.steps.append(("decode", [r.request_id for r in requests]))
        self._maybe_fail()
        assert {r.request_id for r in requests} == set(self.rows), "decode differs from the rows held"
        for request in requests:
            self.rows[request.request_id] += 1
        return RunnerOutput({r.request_id: self._next(r) for r in requests})

    def _maybe_fail(self) -> None:
        if self.fail_next:
            self.fail_next = False
            raise RuntimeError("the device fell over")

    def _next(self, request: RequestState) -> int:
        script = self.scripts.get(request.request_id, [])
        step = len(request.output_ids)
        return script[step] if step < len(script) else 5

    def release(self, request_id: str, keep: bool) -> FakePayload | None:
        self.released.append((request_id, keep))
        length = self.rows.pop(request_id, None)
        return FakePayload(length) if keep and length else None

    def reset(self) -> None:
        self.rows.clear()


def make_core(runner: FakeRunner, max_context: int = 0, **config) -> EngineCore:
    scheduler = Scheduler(SchedulerConfig(**config), eos_ids=[EOS], max_context=max_context)
    return EngineCore(runner, scheduler, PrefixCache(1 << 20), start=False)


def make_request(request_id: str, prompt: list[int] | None = None, max_new: int = 8, **kwargs) -> RequestState:
    prompt = prompt or [11, 12, 13, 14]
    received: list[int | Finish] = []
    request = RequestState(
        request_id, prompt, SamplingParams(temperature=0, max_new_tokens=max_new),
        inputs=FakeInputs(prompt, tuple(prompt)), sink=received.append, **kwargs,
    )
    request.received = received  # type: ignore[attr-defined]
    return request


def finish_of(request: RequestState) -> Finish:
    last = request.received[-1]  # type: ignore[attr-defined]
    assert isinstance(last, Finish), f"{request.request_id} has not finished: {request.received}"  # type: ignore[attr-defined]
    return last


def tokens_of(request: RequestState) -> list[int]:
    return [t for t in request.received if isinstance(t, int)]  # type: ignore[attr-defined]


def run_until_idle(core: EngineCore, limit: int = 100) -> None:
    for _ in range(limit):
        if not core.scheduler.has_work():
            return
        core.step()
    raise AssertionError("the core never went idle")


def test_end_of_turn_token_finishes_with_stop_after_delivering_it():
    core = make_core(FakeRunner({"a": [7, 8, EOS]}))
    request = make_request("a")
    core.submit(request)
    run_until_idle(core)
    assert tokens_of(request) == [7, 8, EOS]
    assert finish_of(request).reason is FinishReason.STOP


def test_max_new_tokens_finishes_with_length():
    core = make_core(FakeRunner())
    request = make_request("a", max_new=3)
    core.submit(request)
    run_until_idle(core)
    assert tokens_of(request) == [5, 5, 5]
    assert finish_of(request).reason is FinishReason.LENGTH


def test_the_models_context_finishes_with_length():
    core = make_core(FakeRunner(), max_context=6)
    request = make_request("a", prompt=[1, 2, 3, 4], max_new=1)
    request.params = SamplingParams(temperature=0, max_new_tokens=50)
    core.submit(request)
    run_until_idle(core)
    assert len(tokens_of(request)) == 2
    assert finish_of(request).reason is FinishReason.LENGTH


def test_a_step_prefills_the_new_requests_then_decodes_every_running_one():
    runner = FakeRunner()
    core = make_core(runner)
    first = make_request("a", max_new=8)
    core.submit(first)
    core.step()
    core.step()
    second = make_request("b", max_new=8)
    core.submit(second)
    core.step()
    assert runner.steps == [
        ("prefill", ["a"]), ("decode", ["a"]), ("decode", ["a"]), ("prefill", ["b"]), ("decode", ["a", "b"]),
    ]
    assert (len(tokens_of(first)), len(tokens_of(second))) == (4, 2)


def test_a_request_that_ends_on_its_first_token_is_not_decoded():
    runner = FakeRunner({"a": [EOS]})
    core = make_core(runner)
    request = make_request("a")
    core.submit(request)
    core.step()
    assert runner.steps == [("prefill", ["a"])]
    assert finish_of(request).reason is FinishReason.STOP


def test_a_finished_request_is_freed_and_its_kv_cached_before_its_owner_hears():
    runner = FakeRunner({"a": [7, EOS]})
    core = make_core(runner)
    seen_at_finish: list[int] = []
    request = make_request("a")
    request.sink = lambda item: seen_at_finish.append(len(core.prefix_cache)) if isinstance(item, Finish) else None
    core.submit(request)
    run_until_idle(core)
    assert runner.released == [("a", True)]
    assert seen_at_finish == [1]


def test_a_follow_up_reuses_the_cached_prompt_and_answer():
    core = make_core(FakeRunner({"a": [7, EOS]}))
    core.submit(make_request("a", prompt=[11, 12, 13, 14]))
    run_until_idle(core)
    follow_up = make_request("b", prompt=[11, 12, 13, 14, 7, 20, 21])
    core.submit(follow_up)
    assert follow_up.num_cached_tokens == 5  # the prompt and the answer's first token: the KV the row held


def test_abort_of_a_running_request_ends_it_between_steps_and_keeps_its_kv():
    runner = FakeRunner()
    core = make_core(runner)
    request = make_request("a", max_new=50)
    core.submit(request)
    core.step()
    core.abort("a")
    core.step()
    assert finish_of(request).reason is FinishReason.ABORT
    assert runner.released == [("a", True)]
    assert len(tokens_of(request)) == 2  # prefill and one decode, in the first step
    assert core.stats().aborted_total == 1


def test_abort_of_a_waiting_request_never_reaches_the_model():
    runner = FakeRunner()
    core = make_core(runner, max_batch_size=1)
    core.submit(make_request("a", max_new=50))
    waiting = make_request("b")
    core.submit(waiting)
    core.abort("b")
    core.step()
    assert finish_of(waiting).reason is FinishReason.ABORT
    assert all("b" not in ids for _, ids in runner.steps)


def test_a_stop_string_told_by_the_front_end_finishes_with_stop():
    core = make_core(FakeRunner())
    request = make_request("a", max_new=50)
    core.submit(request)
    core.step()
    core.stop("a")
    core.step()
    assert finish_of(request).reason is FinishReason.STOP
    assert len(tokens_of(request)) == 2


def test_a_token_sampled_while_the_request_ended_is_dropped():
    scheduler = Scheduler(SchedulerConfig(), eos_ids=[EOS])
    request = make_request("a", max_new=50)
    scheduler.add(request)
    out = scheduler.schedule(now=0)
    scheduler.finish_requests([request], FinishReason.ABORT)  # from another thread, during the forward pass
    assert scheduler.update_from_output(out.prefill, RunnerOutput({"a": 9})) == []
    assert request.output_ids == []


def test_past_its_deadline_a_request_ends_with_timeout_and_its_kv_is_dropped():
    runner = FakeRunner()
    core = make_core(runner)
    request = make_request("a", max_new=50, deadline=0.0)  # already past
    core.submit(request)
    core.step()
    assert finish_of(request).reason is FinishReason.TIMEOUT
    assert runner.steps == []
    assert runner.released == [("a", False)]


def test_kv_budget_holds_a_request_back_until_room_frees():
    runner = FakeRunner()
    core = make_core(runner, max_kv_tokens=20)
    first, second = make_request("a", max_new=10), make_request("b", max_new=10)  # 14 tokens each
    core.submit(first)
    core.submit(second)
    core.step()
    assert runner.steps[0] == ("prefill", ["a"])
    run_until_idle(core)
    assert finish_of(second).reason is FinishReason.LENGTH
    assert ("prefill", ["b"]) in runner.steps[1:]


def test_a_request_that_can_never_fit_the_kv_budget_is_refused_at_submit():
    core = make_core(FakeRunner(), max_kv_tokens=20)
    with pytest.raises(InvalidRequestError, match="KV budget of 20"):
        core.submit(make_request("a", max_new=30))
    assert not core.requests


def test_a_failed_step_ends_its_requests_with_the_error_and_the_core_keeps_serving():
    runner = FakeRunner()
    core = make_core(runner)
    broken = make_request("a")
    core.submit(broken)
    runner.fail_next = True
    core.step()
    finish = finish_of(broken)
    assert (finish.reason, str(finish.error)) == (FinishReason.ERROR, "the device fell over")
    later = make_request("b", max_new=2)
    core.submit(later)
    run_until_idle(core)
    assert finish_of(later).reason is FinishReason.LENGTH


def test_shutdown_aborts_what_is_left():
    core = make_core(FakeRunner())
    request = make_request("a", max_new=50)
    core.submit(request)
    core.step()
    core.shutdown()
    run_until_idle(core)
    assert finish_of(request).reason is FinishReason.ABORT
    assert request.status is Status.FINISHED


def test_the_core_scheduler_and_request_state_import_no_torch():
    code = (
        "import sys; import vreason.engine.core, vreason.engine.scheduler, vreason.engine.request; "
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_an_owner_that_stopped_listening_loses_its_request_not_the_engine():
    runner = FakeRunner()
    core = make_core(runner)
    gone = make_request("a", max_new=50)

    def closed_loop(item):
        raise RuntimeError("Event loop is closed")

    gone.sink = closed_loop
    other = make_request("b", max_new=3)
    core.submit(gone)
    core.submit(other)
    run_until_idle(core)
    assert gone.finish_reason is FinishReason.ABORT
    assert ("a", True) in runner.released
    assert finish_of(other).reason is FinishReason.LENGTH


def test_an_abort_during_the_step_does_not_pull_a_cached_prefix_from_under_the_prefill():
    runner = FakeRunner({"a": [7, EOS]})
    core = make_core(runner)
    core.submit(make_request("a"))
    run_until_idle(core)
    follow_up = make_request("b", prompt=[11, 12, 13, 14, 7, 20])
    core.submit(follow_up)
    seen_prefix = []
    execute = runner.execute_prefill

    def abort_while_running(requests):
        core.abort("b")  # from the event loop's thread, while the engine thread is in the forward pass
        seen_prefix.extend(r.cached_prefix for r in requests)
        return execute(requests)

    runner.execute_prefill = abort_while_running
    run_until_idle(core)
    assert seen_prefix
    assert seen_prefix[0] is not None
    assert finish_of(follow_up).reason is FinishReason.ABORT
    assert follow_up.cached_prefix is None  # released on the engine thread, with the row


def test_a_fault_outside_the_model_step_ends_its_requests_and_the_engine_thread_keeps_serving():
    import time

    runner = FakeRunner({"a": [EOS]})
    release = runner.release

    def release_fails_once(request_id, keep):
        runner.release = release
        raise MemoryError("no room to copy the KV")

    runner.release = release_fails_once
    scheduler = Scheduler(SchedulerConfig(), eos_ids=[EOS])
    core = EngineCore(runner, scheduler, PrefixCache(1 << 20))  # its own engine thread, as in serving
    done, running, later = make_request("a"), make_request("c", max_new=50), make_request("b", max_new=2)

    def wait_for(request):
        deadline = time.monotonic() + 5
        while not (request.received and isinstance(request.received[-1], Finish)):  # type: ignore[attr-defined]
            assert time.monotonic() < deadline, f"{request.request_id} never finished"
            time.sleep(0.01)
        return finish_of(request)

    try:
        core.submit(done)
        core.submit(running)
        assert wait_for(done).reason is FinishReason.STOP  # its answer was complete: it is told so
        assert wait_for(running).reason is FinishReason.ERROR
        core.submit(later)
        assert wait_for(later).reason is FinishReason.LENGTH
    finally:
        core.shutdown()
