"""The remote backend's balancer and health bookkeeping: pure data structures, driven by hand."""

from __future__ import annotations

import pytest

from vreason.engine.backends.balancer import Balancer, Upstream, normalize_upstream
from vreason.engine.backends.health import HealthPolicy, UpstreamHealth
from vreason.engine.backends.openai_wire import ChunkReader, conversation_key, sampling_fields
from vreason.engine.backends.upstream_errors import failure_from_status
from vreason.engine.sampling import GREEDY, INSTRUCT_DEFAULTS
from vreason.errors import EngineOverloadedError, InvalidRequestError, ModelLoadError, RequestTimeoutError


def upstreams(n: int, policy: HealthPolicy | None = None) -> list[Upstream]:
    return [Upstream.from_url(f"http://10.0.0.{i}:8000", policy) for i in range(1, n + 1)]


def test_upstream_urls_normalize_to_an_api_base():
    assert normalize_upstream("http://h:8000") == "http://h:8000/v1"
    assert normalize_upstream("http://h:8000/v1/") == "http://h:8000/v1"
    assert normalize_upstream(" https://dash.example/compatible-mode/v1 ") == "https://dash.example/compatible-mode/v1"
    for bad in ("h:8000", "ftp://h/v1", "http://"):
        with pytest.raises(InvalidRequestError, match="http"):
            normalize_upstream(bad)
    with pytest.raises(InvalidRequestError, match="differ"):
        Balancer([Upstream.from_url("http://h:1"), Upstream.from_url("http://h:1/v1")])
    with pytest.raises(InvalidRequestError, match="at least one"):
        Balancer([])


def test_least_outstanding_wins_and_ties_rotate():
    ups = upstreams(3)
    balancer = Balancer(ups)
    chosen = [balancer.acquire() for _ in range(6)]
    assert [u.outstanding for u in ups] == [2, 2, 2]  # spread evenly
    assert len({id(u) for u in chosen[:3]}) == 3
    balancer.release(ups[1], ok=True)
    balancer.release(ups[1], ok=True)
    assert balancer.acquire() is ups[1]  # now the least loaded
    assert ups[1].served_total == 2


def test_affinity_keeps_a_conversation_on_one_upstream_until_it_is_overloaded():
    ups = upstreams(3)
    balancer = Balancer(ups, affinity_slack=2)
    home = balancer.acquire("conversation-a")
    for _ in range(2):  # within the slack: stays home even though home is the busiest
        assert balancer.acquire("conversation-a") is home
    assert home.outstanding == 3
    moved = balancer.acquire("conversation-a")  # 3 above the least loaded: load wins, the key moves
    assert moved is not home
    balancer.release(home, ok=True)
    balancer.release(home, ok=True)
    balancer.release(home, ok=True)
    assert balancer.acquire("conversation-a") is moved  # remembered where it went last


def test_new_keys_spread_by_rendezvous_and_only_a_removed_upstreams_keys_move():
    ups = upstreams(4)
    balancer = Balancer(ups, affinity_slack=10**6)  # affinity only, to see the hashing alone
    keys = [f"k{i}" for i in range(400)]
    before = {k: balancer.choose(k).api_base for k in keys}
    counts = {u.api_base: list(before.values()).count(u.api_base) for u in ups}
    assert min(counts.values()) > 60  # roughly 100 each
    ups[2].health.record_failure(0.0, "refused", hard=True)
    fresh = Balancer(ups, affinity_slack=10**6)  # no memory: rendezvous alone decides
    after = {k: fresh.choose(k).api_base for k in keys}
    moved = [k for k in keys if before[k] != after[k]]
    assert moved
    assert all(before[k] == ups[2].api_base for k in moved)


def test_unavailable_and_excluded_upstreams_are_skipped():
    ups = upstreams(2)
    balancer = Balancer(ups)
    ups[0].health.record_failure(0.0, "connection refused", hard=True)
    assert all(balancer.choose() is ups[1] for _ in range(3))
    assert balancer.choose(exclude=[ups[1]]) is None


def test_health_takes_out_after_failures_and_puts_back_after_probes():
    health = UpstreamHealth(HealthPolicy(fail_threshold=3, recover_threshold=2))
    assert not health.record_failure(1.0, "504")
    assert not health.record_failure(2.0, "504")
    health.record_success(2.5, from_probe=False)  # a success resets the count
    assert not health.record_failure(3.0, "504")
    assert not health.record_failure(4.0, "504")
    assert health.record_failure(5.0, "504")
    assert not health.available
    assert health.changed_at == 5.0
    assert not health.record_success(6.0, from_probe=False)  # a late request's success is no proof
    assert not health.record_success(7.0)
    assert health.record_success(8.0)  # two good probes in a row
    assert health.available
    assert (health.times_taken_out, health.times_put_back) == (1, 1)
    assert health.record_failure(9.0, "refused", hard=True)  # a refused connection: out at once


def test_health_policy_is_validated():
    with pytest.raises(InvalidRequestError, match="interval_s"):
        HealthPolicy(interval_s=0)
    with pytest.raises(InvalidRequestError, match="fail_threshold"):
        HealthPolicy(fail_threshold=0)


def test_http_statuses_map_to_the_local_errors():
    bad = failure_from_status(400, b'{"error": {"message": "bad top_p", "param": "top_p"}}', "u")
    assert isinstance(bad.error, InvalidRequestError)
    assert bad.error.param == "top_p"
    assert not bad.retryable
    busy = failure_from_status(503, b"overloaded", "u", {"retry-after": "4"})
    assert isinstance(busy.error, EngineOverloadedError)
    assert busy.retryable
    assert busy.error.retry_after_s == 4.0
    assert isinstance(failure_from_status(404, b'{"message": "no model x"}', "u").error, ModelLoadError)
    timeout = failure_from_status(504, b"", "u")
    assert isinstance(timeout.error, RequestTimeoutError)
    assert timeout.retryable


def test_conversation_key_covers_the_first_user_message_only():
    system = {"role": "system", "content": "Be brief."}
    first = {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:image/png;base64,AAA"}}]}
    follow_up = [system, first, {"role": "assistant", "content": "red"}, {"role": "user", "content": "Why?"}]
    assert conversation_key([system, first]) == conversation_key(follow_up)
    other = {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:image/png;base64,BBB"}}]}
    assert conversation_key([system, other]) != conversation_key([system, first])


def test_sampling_fields_are_all_sent_so_the_upstream_adds_no_defaults_of_its_own():
    assert sampling_fields(GREEDY) == {
        "max_tokens": 512,
        "temperature": 0.0,
        "top_p": 1.0,
        "top_k": 0,
        "presence_penalty": 0.0,
        "frequency_penalty": 0.0,
        "repetition_penalty": 1.0,
    }
    fields = sampling_fields(INSTRUCT_DEFAULTS.updated(seed=7, stop=("END",)))
    assert (fields["top_p"], fields["top_k"], fields["presence_penalty"]) == (0.8, 20, 1.5)
    assert (fields["seed"], fields["stop"]) == (7, ["END"])
    assert "response_format" not in fields


def test_chunk_reader_reads_content_reasoning_usage_and_errors():
    reader = ChunkReader()
    lines = [
        ": keep-alive",
        'data: {"choices": [{"delta": {"reasoning": "think"}}]}',
        'data: {"choices": [{"delta": {"content": "re"}}]}',
        "",
        'data: {"choices": [{"delta": {"content": "d"}, "finish_reason": "length"}]}',
        'data: {"choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 3, '
        '"prompt_tokens_details": {"cached_tokens": 4}}}',
        "data: [DONE]",
    ]
    deltas = [d for line in lines for d in reader.feed(line)] + reader.finish()
    assert "".join(d.text for d in deltas if d.channel == "text") == "red"
    assert reader.answer_parts() == ("think", "red")
    assert reader.answer_finish == "length"
    assert (reader.prompt_tokens, reader.completion_tokens, reader.cached_tokens, reader.done) == (5, 3, 4, True)
    broken = ChunkReader()
    broken.feed('data: {"error": {"message": "boom", "code": 500}}')
    assert broken.error is not None


def test_data_uri_cache_encodes_each_picture_once_within_its_budget():
    from PIL import Image

    from vreason.engine.backends.image_cache import DataUriCache, image_data_uri

    red, blue = Image.new("RGB", (64, 32), (200, 0, 0)), Image.new("RGB", (64, 32), (0, 0, 200))
    cache = DataUriCache()
    first = cache.data_uri(red, "png")
    assert cache.data_uri(red.copy(), "png") == first == image_data_uri(red)  # same pixels, another object
    assert cache.data_uri(blue, "png") != first
    assert (cache.hits, cache.misses) == (1, 2)
    small = DataUriCache(max_bytes=len(first) + 10)
    small.data_uri(red, "png")
    small.data_uri(blue, "png")  # evicts red
    small.data_uri(red, "png")
    assert (small.hits, small.misses, small.evictions, len(small)) == (0, 3, 2, 1)
    assert small.bytes_used <= small.budget_bytes


def test_a_re_sent_deferred_picture_is_decoded_once_for_the_wire(monkeypatch):
    # every turn of a remote conversation re-sends its pictures: one that waits compressed (a PNG of 256x256
    # or more) is remembered by its bytes, so later turns neither decode nor re-encode it
    import io

    import numpy as np
    from PIL import Image

    from vreason.engine.backends.image_cache import DataUriCache, image_data_uri
    from vreason.engine.backends.openai_wire import encode_messages
    from vreason.engine.types import Message
    from vreason.media import PixelBudget, image_input
    from vreason.media.image_input import load_image

    pixels = np.random.default_rng(3).integers(0, 255, (300, 420, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    prepared = load_image(buffer.getvalue())
    assert prepared.encoded is not None
    budget = PixelBudget(max_pixels=64 * 32 * 32)
    expected = image_data_uri(budget.fit(prepared))
    decodes = []
    decode = image_input.decode_scaled
    monkeypatch.setattr(image_input, "decode_scaled", lambda *a: decodes.append(a[1]) or decode(*a))
    cache = DataUriCache()

    def sent_image(message: dict) -> str:
        return next(p["image_url"]["url"] for p in message["content"] if p["type"] == "image_url")

    turns = [Message.user("What is it?", [prepared])]
    for _ in range(3):
        wire = encode_messages(turns, budget, cache=cache)
        assert sent_image(wire.messages[0]) == expected
        turns = [*turns, Message.assistant("A picture."), Message.user("And now?")]
    width, height = budget.target_size(420, 300)
    assert wire.image_tokens == (width // 32) * (height // 32)
    assert len(decodes) == 1
    assert (cache.hits, cache.misses) == (2, 1)
    # the same file loaded again (a new request) finds the same entry by its bytes
    again = encode_messages([Message.user("Again?", [load_image(buffer.getvalue())])], budget, cache=cache)
    assert sent_image(again.messages[0]) == expected
    assert len(decodes) == 1
