"""The scheduler with fake requests: admission limits, FIFO fairness, bounded queue, deadlines. No model."""

from __future__ import annotations

import pytest

from vreason.engine.request import FinishReason, RequestState, Status
from vreason.engine.sampling import SamplingParams
from vreason.engine.scheduler import Scheduler, SchedulerConfig
from vreason.errors import EngineOverloadedError, InvalidRequestError


def make_requests(n: int, prompt_len: int = 10, max_new: int = 5, **kwargs) -> list[RequestState]:
    params = SamplingParams(temperature=0, max_new_tokens=max_new)
    return [RequestState(f"r{i}", list(range(prompt_len)), params, **kwargs) for i in range(n)]


def test_admits_up_to_the_batch_size_and_later_requests_join_between_steps():
    scheduler = Scheduler(SchedulerConfig(max_batch_size=3))
    for r in make_requests(5):
        scheduler.add(r)
    first = scheduler.schedule(now=0)
    assert [r.request_id for r in first.prefill] == ["r0", "r1", "r2"]
    assert first.decode == first.prefill  # decoded in the same step, after their prefill
    second = scheduler.schedule(now=0)
    assert second.prefill == []
    assert len(second.decode) == 3
    scheduler.finish_requests([first.prefill[1]], FinishReason.STOP)  # r1 finished between steps
    third = scheduler.schedule(now=0)
    assert [r.request_id for r in third.prefill] == ["r3"]
    assert [r.request_id for r in third.finished] == ["r1"]
    assert {r.request_id for r in third.decode} == {"r0", "r2", "r3"}
    assert [r.request_id for r in scheduler.running] == ["r0", "r2", "r3"]


def test_kv_budget_blocks_admission_in_fifo_order():
    scheduler = Scheduler(SchedulerConfig(max_kv_tokens=40))
    big = RequestState("big", list(range(20)), SamplingParams(temperature=0, max_new_tokens=10))  # 30 tokens
    small = make_requests(2, prompt_len=5, max_new=5)  # 10 each
    for r in (big, *small):
        scheduler.add(r)
    out = scheduler.schedule(now=0)
    assert [r.request_id for r in out.prefill] == ["big", "r0"]
    assert scheduler.reserved_kv_tokens == 40
    # r1 does not fit until something leaves; nothing behind it jumps the queue either
    assert scheduler.schedule(now=0).prefill == []
    scheduler.finish_requests([big], FinishReason.STOP)
    assert [r.request_id for r in scheduler.schedule(now=0).prefill] == ["r1"]


def test_head_of_line_request_is_not_starved_by_smaller_ones():
    scheduler = Scheduler(SchedulerConfig(max_kv_tokens=40))
    running = make_requests(1, prompt_len=15, max_new=5)[0]  # 20
    scheduler.add(running)
    scheduler.schedule(now=0)
    big = RequestState("big", list(range(25)), SamplingParams(temperature=0, max_new_tokens=5))  # 30: waits
    scheduler.add(big)
    for r in make_requests(3, prompt_len=2, max_new=2):  # would fit, but are behind `big`
        scheduler.add(r)
    assert scheduler.schedule(now=0).prefill == []
    scheduler.finish_requests([running], FinishReason.STOP)
    assert [r.request_id for r in scheduler.schedule(now=0).prefill][0] == "big"


def test_prefill_token_budget_splits_a_burst_over_steps_but_always_admits_one():
    scheduler = Scheduler(SchedulerConfig(max_prefill_tokens=25))
    for r in make_requests(4, prompt_len=10):
        scheduler.add(r)
    assert len(scheduler.schedule(now=0).prefill) == 2
    assert len(scheduler.schedule(now=0).prefill) == 2
    huge = RequestState("huge", list(range(100)), SamplingParams(temperature=0, max_new_tokens=1))
    scheduler.add(huge)
    assert [r.request_id for r in scheduler.schedule(now=0).prefill] == ["huge"]


def test_cached_prefix_tokens_do_not_count_against_the_prefill_budget():
    scheduler = Scheduler(SchedulerConfig(max_prefill_tokens=25))
    requests = make_requests(3, prompt_len=20)
    for r in requests:
        r.num_cached_tokens = 15  # 5 new tokens each
        scheduler.add(r)
    assert len(scheduler.schedule(now=0).prefill) == 3


def test_bounded_queue_refuses_with_overloaded_and_counts_it():
    scheduler = Scheduler(SchedulerConfig(max_waiting=2))
    a, b, c = make_requests(3)
    scheduler.add(a)
    scheduler.add(b)
    with pytest.raises(EngineOverloadedError, match="overloaded"):
        scheduler.add(c)
    assert scheduler.rejected_total == 1
    assert len(scheduler.waiting) == 2


def test_request_larger_than_the_kv_budget_is_refused_up_front():
    scheduler = Scheduler(SchedulerConfig(max_kv_tokens=50))
    with pytest.raises(InvalidRequestError, match="KV budget of 50"):
        scheduler.add(make_requests(1, prompt_len=40, max_new=20)[0])


def test_expired_requests_leave_both_queues():
    scheduler = Scheduler(SchedulerConfig(max_batch_size=1))
    running, waiting = make_requests(2, deadline=10.0)
    scheduler.add(running)
    scheduler.add(waiting)
    scheduler.schedule(now=0)
    out = scheduler.schedule(now=10.0)
    assert {r.request_id for r in out.finished} == {"r0", "r1"}
    assert not scheduler.has_work()
    assert running.status is Status.FINISHED
    assert running.finish_reason is FinishReason.TIMEOUT


@pytest.mark.parametrize("name", ["max_batch_size", "max_kv_tokens", "max_prefill_tokens", "max_waiting"])
def test_config_values_are_validated_with_the_value_in_the_message(name):
    with pytest.raises(InvalidRequestError, match=rf"{name} \(0\)"):
        SchedulerConfig(**{name: 0})
