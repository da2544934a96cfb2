"""The batching engine against the oracle: with greedy decoding in fp32, every request's tokens equal those of
plain `model.generate` on that request alone — in a concurrent batch with mixed image sizes and prompt lengths,
when it joins a running batch, when its prefix KV or its image features come from the caches, and when
neighbours are aborted. Also: timeouts, the bounded queue, constrained JSON output. Tiny random Qwen3-VL."""

from __future__ import annotations

import asyncio
import json
import time

import numpy as np
import pytest
from PIL import Image

from tests.oracle import transformers_twin
from vreason import VReason
from vreason.engine.interface import GenerationRequest
from vreason.engine.local_engine import EngineConfig, LocalEngine
from vreason.engine.prompt import build_prompt
from vreason.engine.sampling import GREEDY, OutputFormat
from vreason.engine.scheduler import SchedulerConfig
from vreason.engine.types import Answer, Message
from vreason.errors import EngineOverloadedError, RequestTimeoutError
from vreason.media_step import MediaResolver

pytestmark = pytest.mark.slow

NEW_TOKENS = 12
PARAMS = GREEDY.updated(max_new_tokens=NEW_TOKENS)


def noise(width: int, height: int, seed: int) -> Image.Image:
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    return Image.fromarray(pixels)


@pytest.fixture(scope="module")
def fp32(tiny_model_dir):
    vr = VReason(str(tiny_model_dir), dtype="float32")
    assert vr.loaded.model_code == "native"  # vreason's own model code, held to transformers' generate here
    yield vr
    vr.close()


def reference(vr: VReason, messages: list[Message], new_tokens: int = NEW_TOKENS, ignore_eos: bool = False):
    engine = vr.engine
    prompt = build_prompt(engine.loaded.processor, vr.aio.media.resolve(messages), engine.budget)
    kwargs = {"text": [prompt.text], "return_tensors": "pt"}
    if prompt.pixels:
        kwargs["images"] = list(prompt.pixels)
        kwargs["images_kwargs"] = {"size": engine.budget.processor_size()}
    twin = transformers_twin(engine.loaded)
    inputs = twin.processor(**kwargs)
    model = twin.model
    out = model.generate(
        **inputs,
        max_new_tokens=new_tokens,
        min_new_tokens=new_tokens if ignore_eos else 0,
        do_sample=False,
        temperature=1.0,
        top_p=1.0,
        top_k=50,
    )
    return out[0, inputs["input_ids"].shape[1] :].tolist()


def conversations() -> list[list[Message]]:
    return [
        [Message.user("Hello there.")],
        [Message.user("Describe this picture in detail.", [noise(64, 64, 1)])],
        [Message.user("What differs?", [noise(96, 160, 2), noise(200, 120, 3)])],
        [Message.system("Be brief."), Message.user("a " * 60 + "summarise", [noise(130, 70, 4)])],
        [Message.user("What is it?", [noise(256, 256, 5)])],
    ]


def request(messages, **kwargs) -> GenerationRequest:
    return GenerationRequest(MediaResolver().resolve(messages), kwargs.pop("params", PARAMS), **kwargs)


async def collect(engine, req, on_event=None) -> Answer:
    answer = None
    async for event in engine.generate(req):
        if on_event is not None:
            await on_event(event)
        if isinstance(event, Answer):
            answer = event
    return answer


def test_concurrent_batch_with_mixed_images_matches_generate_alone(fp32):
    convs = conversations()
    expected = [reference(fp32, c) for c in convs]
    answers = fp32.chat_many(convs, temperature=0, presence_penalty=0, max_new_tokens=NEW_TOKENS)
    assert [a.token_ids for a in answers] == expected
    assert all(a.usage.completion_tokens == NEW_TOKENS or a.finish_reason == "stop" for a in answers)


def test_decode_steps_through_the_prepacked_head_match_generate_alone(fp32, monkeypatch):
    """Decode steps through the oneDNN-prepacked output head (engine/output_head.py), kept here whatever the
    timings, at a row count where this CPU's oneDNN gives the plain product's bits (it may at some counts only:
    an AMD EPYC at 4, 8 and 12-32 rows). That count is one bucket of its own, and as many requests run. The
    module's engine is shared: the head's decision starts afresh, timings and reasons included."""
    import torch

    from vreason.engine import output_head

    if not torch.backends.mkldnn.is_available():
        pytest.skip("torch without oneDNN")
    head = fp32.engine.core.runner.head
    assert head.copy is not None, "a float32 model on CPU multiplies with the float32 (hidden, vocab) copy"
    real_linear = output_head._linear
    packed = torch.ops.mkldnn._reorder_linear_weight(head.copy.t().contiguous())
    with torch.inference_mode():
        same = [rows for rows in range(2, 6)
                if torch.equal(real_linear(x := torch.randn(rows, head.copy.shape[0]), packed), x @ head.copy)]
    if not same:
        pytest.skip("oneDNN's prepacked product gives other bits than the plain one at 2-5 rows on this CPU: the "
                    "engine keeps the plain product there, as it should")
    rows = max(same)
    calls = []
    monkeypatch.setattr(output_head, "_linear", lambda *args: calls.append(1) or real_linear(*args))
    monkeypatch.setattr(output_head, "PACKED_BUCKETS", ((rows, rows),))
    monkeypatch.setattr(output_head, "PACKED_MIN_GAIN", 0.0)  # whatever the timings: keep the packed product
    monkeypatch.setattr(head, "_packed", None)
    monkeypatch.setattr(head, "packed_states", {(rows, rows): "untried"})
    monkeypatch.setattr(head, "packed_timings", {})
    monkeypatch.setattr(head, "plain_why", {})
    convs = conversations()[:rows]
    expected = [reference(fp32, c) for c in convs]
    answers = fp32.chat_many(convs, temperature=0, presence_penalty=0, max_new_tokens=NEW_TOKENS)
    assert [a.token_ids for a in answers] == expected  # whichever product ran
    state = head.packed_states[(rows, rows)]
    assert state != "untried", f"no decode step of {rows} rows reached the head"
    if state != "packed":  # read from the head itself: its warning may not reach this test
        pytest.skip(f"the head runs the plain product at {rows} rows: {head.plain_why[(rows, rows)]}")
    assert len(calls) > 1 + output_head.PACKED_TRIES, "steps after the decision ran the packed product"


def test_request_joining_a_running_batch_matches_generate_alone(fp32):
    first, late = conversations()[1], conversations()[3]
    long_tokens = 160  # long enough that the first request is still decoding when the second arrives
    expected_first, expected_late = reference(fp32, first, long_tokens, ignore_eos=True), reference(fp32, late)
    engine = fp32.engine
    started = asyncio.Event()

    async def on_event(event):
        started.set()  # the first text delta: the request is decoding

    async def scenario():
        params = GREEDY.updated(max_new_tokens=long_tokens, ignore_eos=True)
        long_run = asyncio.ensure_future(collect(engine, request(first, params=params), on_event))
        await asyncio.wait([asyncio.ensure_future(started.wait()), long_run], return_when=asyncio.FIRST_COMPLETED)
        assert not long_run.done(), "the first request must still be running when the second one arrives"
        joined = await collect(engine, request(late))
        return await long_run, joined

    a, b = fp32.bridge.run(scenario())
    assert a.token_ids == expected_first
    assert b.token_ids == expected_late


def test_rows_joining_a_longer_running_row_keep_its_kv_when_the_cache_regrows(fp32):
    """Nine rows need a regrowth from 8 rows of KV; the regrowth sizes columns to what is asked, and must keep
    the running row's columns past what the joining prompts need (engine/kv_slots.py)."""
    first, short = conversations()[1], conversations()[0]
    long_tokens = 400
    expected_first = reference(fp32, first, long_tokens, ignore_eos=True)
    expected_short = reference(fp32, short)
    engine = fp32.engine
    runner = engine.core.runner
    assert not runner.rows
    runner.slots.clear()  # the module's engine is shared: start from empty buffers, whatever ran before

    async def scenario():
        params = GREEDY.updated(max_new_tokens=long_tokens, ignore_eos=True)
        long_run = asyncio.ensure_future(collect(engine, request(first, params=params)))
        while not long_run.done() and not (runner.rows and runner.rows[0].length > 300):
            await asyncio.sleep(0.002)
        assert not long_run.done(), "the long request must still be running when the others arrive"
        assert runner.slots.rows == 8
        assert runner.slots.columns == 512
        joined = await asyncio.gather(*(collect(engine, request(short)) for _ in range(8)))
        # still decoding: its row 0 holds its KV past the 256 columns the joining prompts asked for (a random
        # model's greedy tokens can miss lost KV, so the columns are checked as well as the tokens)
        assert not long_run.done()
        assert runner.rows[0].length > 300
        assert all(k[0, :, 256:300].abs().amax() > 0 for k in runner.slots.keys)
        return await long_run, joined

    a, joined = fp32.bridge.run(scenario())
    assert runner.slots.rows == 16  # the regrowth happened
    assert a.token_ids == expected_first
    assert [b.token_ids for b in joined] == [expected_short] * 8


def test_follow_up_reuses_the_prefix_and_matches_a_cold_run(fp32):
    # The history's answers are fixed text: a random model's own output (runs of newlines) is re-tokenized
    # differently when the template renders it back, which ends the shared prefix at the assistant header.
    image = noise(160, 160, 7)
    turn1 = [Message.user("What is in the image?", [image]), Message.assistant("A red square."), Message.user("Sure?")]
    first = fp32.chat(turn1, temperature=0, presence_penalty=0, max_new_tokens=NEW_TOKENS)
    history = [*turn1, Message.assistant("Yes, quite sure."), Message.user("And what colour is the background?")]
    expected = reference(fp32, history)
    follow_up = fp32.chat(history, temperature=0, presence_penalty=0, max_new_tokens=NEW_TOKENS)
    assert follow_up.token_ids == expected
    # everything the first request prefilled (template, image, two turns) came from the cache
    assert follow_up.usage.cached_tokens >= first.usage.prompt_tokens
    assert follow_up.usage.cached_tokens < follow_up.usage.prompt_tokens


def test_seen_image_in_a_new_request_skips_the_vision_tower_and_matches(fp32):
    image = noise(192, 128, 8)
    fp32.chat([Message.user("First look.", [image])], temperature=0, max_new_tokens=2)
    other = [Message.system("You inspect parts."), Message.user("Anything broken here?", [image])]
    expected = reference(fp32, other)
    hits_before = fp32.engine.stats().caches["vision"].hits
    answer = fp32.chat(other, temperature=0, presence_penalty=0, max_new_tokens=NEW_TOKENS)
    assert answer.token_ids == expected
    assert answer.usage.cached_images == 1
    assert fp32.engine.stats().caches["vision"].hits == hits_before + 1


def test_a_seen_prepared_image_is_not_resized_again(fp32, monkeypatch):
    # the prompt's pixels are made when first read: an image whose features are cached under the content key
    # it carries is neither decoded nor resized by the next request (prompt.FittedImages)
    from vreason.media.image_input import PreparedImage

    prepared = fp32.prepare_image(noise(200, 136, 9))  # 200x136 is resized to the budget's multiples of 32
    resized = []
    pixels = PreparedImage.pixels
    monkeypatch.setattr(PreparedImage, "pixels", lambda self, size: resized.append(size) or pixels(self, size))
    fp32.chat([Message.user("First look.", [prepared])], temperature=0, max_new_tokens=2)
    assert len(resized) == 1
    other = [Message.system("You inspect parts."), Message.user("Anything broken here?", [prepared])]
    expected = reference(fp32, other)
    resized.clear()
    answer = fp32.chat(other, temperature=0, presence_penalty=0, max_new_tokens=NEW_TOKENS)
    assert answer.token_ids == expected
    assert answer.usage.cached_images == 1
    assert resized == []


def test_a_seen_picture_loaded_again_from_its_bytes_is_not_decoded(fp32, monkeypatch):
    # a deferred picture (here a PNG that waits compressed) is keyed by its bytes: the same file loaded again
    # into a new PreparedImage, with no content key carried, finds its features without a decode or resize
    import io

    from vreason.media import image_input
    from vreason.media.image_input import PreparedImage, load_image

    buffer = io.BytesIO()
    noise(320, 256, 10).save(buffer, format="PNG")
    data = buffer.getvalue()
    first, again = load_image(data), load_image(data)
    assert first is not again
    assert first.encoded == data
    assert again.content_keys == {}
    fp32.chat([Message.user("First look.", [first])], temperature=0, max_new_tokens=2)
    decoded = []
    decode = image_input.decode_scaled
    monkeypatch.setattr(image_input, "decode_scaled", lambda *a: decoded.append(a[1]) or decode(*a))
    monkeypatch.setattr(PreparedImage, "pixels", lambda self, size: pytest.fail("a seen picture was resized"))
    answer = fp32.chat([Message.user("Anything broken here?", [again])], temperature=0, max_new_tokens=2)
    assert answer.usage.cached_images == 1
    assert decoded == []
    assert again.encoded == data  # still compressed: nothing asked for its pixels


def test_a_prompt_with_nothing_worth_reusing_prefills_through_the_causal_kernel_and_matches(fp32, monkeypatch):
    # the template's first few tokens match earlier prompts, but under 1/32 of this one: computed again, so the
    # whole prompt prefills as one causal block (SDPA's is_causal, no mask tensor) and stays exact
    import torch

    causal_blocks = []
    sdpa = torch.nn.functional.scaled_dot_product_attention

    def spy(query, key, value, *args, **kwargs):
        if kwargs.get("is_causal") and query.shape[2] > 1:
            causal_blocks.append(query.shape[2])
        return sdpa(query, key, value, *args, **kwargs)

    fp32.chat([Message.user("Which corner is darkest?", [noise(64, 64, 12)])], temperature=0, max_new_tokens=2)
    conversation = [Message.user("Which corner is brightest?", [noise(512, 320, 11)])]  # same template start
    expected = reference(fp32, conversation)
    monkeypatch.setattr(torch.nn.functional, "scaled_dot_product_attention", spy)
    answer = fp32.chat(conversation, temperature=0, presence_penalty=0, max_new_tokens=NEW_TOKENS)
    assert answer.token_ids == expected
    assert answer.usage.cached_tokens == 0  # a short template match is not worth its KV
    assert causal_blocks, "the prefill should have gone through SDPA's causal path"
    assert set(causal_blocks) == {answer.usage.prompt_tokens}  # every layer, the whole prompt at once


def test_aborting_neighbours_leaves_the_others_exact(fp32):
    convs = conversations()[1:4]
    expected = [reference(fp32, c, 20) for c in convs]
    engine = fp32.engine
    params = GREEDY.updated(max_new_tokens=20)
    aborted_before = engine.stats().aborted_total

    async def abandon(req):
        stream = engine.generate(req)
        count = 0
        async for _ in stream:  # leave after a few deltas: closing the stream aborts the request
            count += 1
            if count == 3:
                break
        await stream.aclose()

    async def scenario():
        keep_a = asyncio.ensure_future(collect(engine, request(convs[0], params=params)))
        endless = GREEDY.updated(max_new_tokens=2000, ignore_eos=True)  # would outlive the others unless aborted
        gone = asyncio.ensure_future(abandon(request(convs[1], params=endless, stream=True)))
        keep_b = asyncio.ensure_future(collect(engine, request(convs[2], params=params)))
        await gone
        return await keep_a, await keep_b

    a, b = fp32.bridge.run(scenario())
    assert a.token_ids == expected[0]
    assert b.token_ids == expected[2]
    deadline = time.monotonic() + 10  # the abort lands at the engine's next step
    while engine.stats().running and time.monotonic() < deadline:
        time.sleep(0.01)
    stats = engine.stats()
    assert stats.aborted_total == aborted_before + 1
    assert stats.running == 0
    assert stats.waiting == 0


def test_deadline_ends_a_request_with_a_timeout_error(fp32):
    req = request(conversations()[0], params=GREEDY.updated(max_new_tokens=400), timeout_s=0.05)
    with pytest.raises(RequestTimeoutError, match="deadline"):
        fp32.bridge.run(collect(fp32.engine, req))


def test_full_queue_refuses_with_overloaded_and_keeps_serving(fp32):
    engine = LocalEngine(fp32.engine.loaded, EngineConfig(scheduler=SchedulerConfig(max_batch_size=1, max_waiting=1)))

    async def burst():
        reqs = [request(conversations()[0], params=GREEDY.updated(max_new_tokens=30)) for _ in range(4)]
        return await asyncio.gather(*(collect(engine, r) for r in reqs), return_exceptions=True)

    try:
        results = fp32.bridge.run(burst())
        refused = [r for r in results if isinstance(r, EngineOverloadedError)]
        served = [r for r in results if isinstance(r, Answer)]
        assert refused
        assert served
        assert len(refused) + len(served) == 4
        assert engine.stats().rejected_total == len(refused)
        again = fp32.bridge.run(collect(engine, request(conversations()[0])))  # still serving
        assert again.usage.completion_tokens > 0
    finally:
        engine.shutdown()


def test_json_schema_output_is_enforced_while_decoding(fp32):
    schema = {
        "type": "object",
        "properties": {"colour": {"type": "string", "maxLength": 8}, "count": {"type": "integer"}},
        "required": ["colour", "count"],
        "additionalProperties": False,
    }
    answer = fp32.chat(
        [Message.user("Describe as JSON.", [noise(64, 64, 9)])],
        temperature=0,
        max_new_tokens=60,
        output_format=OutputFormat("json_schema", json.dumps(schema)),
    )
    data = json.loads(answer.text)  # a random model writes valid JSON only because decoding is constrained
    assert set(data) == {"colour", "count"}
    assert isinstance(data["count"], int)


def test_visual_gate_bounds_prepared_pixels_and_keeps_answers_exact(fp32):
    # The tightest gate: one image request between "preparing" and "first token" at a time.
    engine = LocalEngine(fp32.engine.loaded, EngineConfig(pending_visual_tokens=1))
    held: list[int] = []
    acquire = engine.visual_gate.acquire

    async def recording_acquire(tokens):
        await acquire(tokens)
        held.append(engine.visual_gate.held)

    engine.visual_gate.acquire = recording_acquire
    convs = conversations()

    async def burst():
        return await asyncio.gather(*(collect(engine, request(c)) for c in convs))

    try:
        answers = fp32.bridge.run(burst())
        assert [a.token_ids for a in answers] == [reference(fp32, c) for c in convs]
        assert len(held) == 4  # the four requests with images passed the gate, the text one did not need to
        one_at_a_time = [engine._visual_tokens(request(c)) for c in convs[1:]]
        assert all(h in one_at_a_time for h in held)  # never two requests' tokens held together
        assert engine.visual_gate.held == 0  # released at the first token, nothing leaks
        aborted = request(convs[4], params=GREEDY.updated(max_new_tokens=200))

        async def abandon():
            stream = engine.generate(aborted)
            await stream.__anext__()
            await stream.aclose()

        fp32.bridge.run(abandon())
        assert engine.visual_gate.held == 0
    finally:
        engine.shutdown()
