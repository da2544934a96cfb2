"""The Python API on a tiny random Qwen3-VL: same tokens as plain transformers, streaming equals
non-streaming, sampling controls hold, conversations keep their history."""

from __future__ import annotations

import pytest
import torch
from PIL import Image

from tests.oracle import transformers_twin
from vreason import VReason
from vreason.engine.types import Answer, Message, StreamDelta
from vreason.errors import InvalidRequestError, MediaError

GREEDY = {"temperature": 0.0, "presence_penalty": 0.0}


@pytest.fixture(scope="module")
def red():
    return Image.new("RGB", (96, 64), (220, 20, 20))


@pytest.fixture(scope="module")
def blue():
    return Image.new("RGB", (64, 64), (20, 20, 220))


def _plain_generate(vr: VReason, images, question: str, max_new_tokens: int) -> list[int]:
    """What a user of bare transformers would write, on the same model and processor."""
    twin = transformers_twin(vr.loaded)
    processor, model = twin.processor, twin.model
    content = [{"type": "image"} for _ in images] + [{"type": "text", "text": question}]
    text = processor.apply_chat_template([{"role": "user", "content": content}], add_generation_prompt=True,
                                         tokenize=False)
    prepared = [vr.prepare_image(img).image for img in images]
    inputs = processor(text=[text], images=prepared, return_tensors="pt")
    inputs["pixel_values"] = inputs["pixel_values"].to(model.dtype)
    with torch.inference_mode():
        out = model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=False)
    return out[0, inputs["input_ids"].shape[1] :].tolist()


def test_greedy_is_token_identical_to_transformers_generate(vr, red, blue):
    for images in ([red], [red, blue]):
        answer = vr.ask(images, "What color is the shape?", max_new_tokens=24, **GREEDY)
        assert answer.token_ids == _plain_generate(vr, images, "What color is the shape?", 24)
        assert answer.text == vr.loaded.processor.tokenizer.decode(answer.token_ids, skip_special_tokens=True)


def test_answer_fields(vr, red):
    answer = vr.ask(red, "Describe the image.", max_new_tokens=8, **GREEDY)
    assert isinstance(answer, Answer)
    assert answer.thinking is None
    # 96x64 upscaled to the 4096-pixel minimum: 96x64 -> 3x2 tokens of 32 px... at least 4 visual tokens.
    assert answer.usage.image_tokens >= 4
    assert answer.usage.prompt_tokens > answer.usage.image_tokens
    assert answer.usage.completion_tokens == len(answer.token_ids) <= 8
    assert answer.timings.total_s >= answer.timings.ttft_s > 0
    data = answer.to_dict()
    assert data["usage"]["total_tokens"] == answer.usage.prompt_tokens + answer.usage.completion_tokens


def test_max_new_tokens_holds(vr, red):
    answer = vr.ask(red, "Tell me a long story.", max_new_tokens=5, **GREEDY)
    if answer.finish_reason == "length":
        assert answer.usage.completion_tokens == 5
    else:
        assert answer.usage.completion_tokens <= 5
        assert answer.token_ids[-1] in (151645, 151643)


def test_stream_yields_exactly_the_non_streaming_text(vr, red):
    for sampling in (GREEDY, {"temperature": 1.0, "top_p": 0.9, "seed": 11}):
        answer = vr.ask(red, "What is this?", max_new_tokens=30, **sampling)
        streamed = "".join(vr.stream(red, "What is this?", max_new_tokens=30, **sampling))
        assert streamed == answer.text
        assert len(answer.text) > 0


def test_stream_chat_ends_with_answer(vr, red):
    events = list(vr.stream_chat([Message.user("Hi", [red])], max_new_tokens=6, **GREEDY))
    assert isinstance(events[-1], Answer)
    assert all(isinstance(e, StreamDelta) for e in events[:-1])


def test_seed_makes_sampling_repeatable(vr, red):
    runs = [vr.ask(red, "What is this?", max_new_tokens=16, temperature=1.0, seed=s).token_ids for s in (5, 5, 6)]
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]


def test_stop_string_truncates(vr, red):
    full = vr.ask(red, "What is this?", max_new_tokens=24, **GREEDY)
    assert len(full.text) > 6
    stop = full.text[3:6]
    cut = vr.ask(red, "What is this?", max_new_tokens=24, stop=[stop], **GREEDY)
    assert cut.text == full.text[: full.text.find(stop)]
    assert cut.finish_reason == "stop"
    assert "".join(vr.stream(red, "What is this?", max_new_tokens=24, stop=[stop], **GREEDY)) == cut.text


def test_presence_penalty_changes_sampling_distribution(vr, red):
    plain = vr.ask(red, "Say something.", max_new_tokens=24, temperature=0.0, presence_penalty=0.0)
    penalised = vr.ask(red, "Say something.", max_new_tokens=24, temperature=0.0, presence_penalty=2.0)
    # Greedy decoding of a random model repeats tokens; the penalty must break that.
    assert len(set(penalised.token_ids)) >= len(set(plain.token_ids))
    assert penalised.token_ids != plain.token_ids


def test_chat_with_history_and_dict_messages(vr, red, blue):
    conv = vr.conversation(system="You are terse.")
    first = conv.ask("What color?", images=[red], max_new_tokens=6, **GREEDY)
    second = conv.ask("And this one?", images=[blue], max_new_tokens=6, **GREEDY)
    assert [m.role for m in conv.messages] == ["system", "user", "assistant", "user", "assistant"]
    assert conv.messages[2].text == first.text
    assert second.usage.prompt_tokens > first.usage.prompt_tokens + first.usage.completion_tokens
    as_dicts = vr.chat(
        [
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": [{"type": "image", "image": red}, {"type": "text", "text": "What color?"}]},
            {"role": "assistant", "content": first.text},
            {"role": "user", "content": [{"type": "image", "image": blue}, {"type": "text", "text": "And this one?"}]},
        ],
        max_new_tokens=6,
        **GREEDY,
    )
    assert as_dicts.token_ids == second.token_ids
    before = conv.id
    conv.reset()
    assert [m.role for m in conv.messages] == ["system"]
    assert conv.id != before  # a new conversation: remote backends need not route it with the old one


def test_request_errors_are_clear(vr, red):
    with pytest.raises(InvalidRequestError, match="temperature"):
        vr.ask(red, "q", temperature=5)
    with pytest.raises(MediaError, match="no such file"):
        vr.ask("missing.png", "q")
    with pytest.raises(InvalidRequestError, match="last message must be from the user"):
        vr.chat([Message.assistant("hello")])
    with pytest.raises(InvalidRequestError, match="over the limit of 16"):
        vr.ask([red] * 17, "q")
    with pytest.raises(InvalidRequestError, match="over the model's context of 8192 tokens"):
        vr.ask(red, "q", max_new_tokens=9000)


def test_max_pixels_changes_visual_tokens(vr):
    big = Image.new("RGB", (640, 640), (0, 128, 0))
    small = vr.ask(big, "q", max_new_tokens=1, max_pixels=16 * 32 * 32, **GREEDY)
    large = vr.ask(big, "q", max_new_tokens=1, max_pixels=100 * 32 * 32, **GREEDY)
    assert small.usage.image_tokens == 16
    assert large.usage.image_tokens == 100


def test_thinking_model_output_goes_to_thinking(tiny_thinking_dir, red):
    thinker = VReason(str(tiny_thinking_dir))
    assert thinker.loaded.thinking
    assert thinker.default_sampling.temperature == 0.6
    answer = thinker.ask(red, "Why?", max_new_tokens=12, **GREEDY)
    raw = thinker.loaded.processor.tokenizer.decode(answer.token_ids, skip_special_tokens=True)
    if "</think>" in raw:
        assert answer.text == raw.split("</think>", 1)[1].lstrip()
    else:  # the prompt opened <think>: everything generated so far is thinking
        assert answer.thinking == raw.strip()
        assert answer.text == ""


def test_other_sizes_load_without_code_change(tmp_path, qwen_tokenizer, red):
    from vreason.models.scratch import ScratchSizes, build_scratch_checkpoint

    sizes = ScratchSizes(text_hidden=96, text_layers=3, text_heads=6, text_kv_heads=3, head_dim=16,
                         text_intermediate=192, vision_depth=3, vision_hidden=48, vision_heads=3)
    other = VReason(str(build_scratch_checkpoint(tmp_path / "m", sizes, tokenizer=qwen_tokenizer)), dtype="float32")
    assert other.loaded.model.config.text_config.num_hidden_layers == 3
    answer = other.ask(red, "What?", max_new_tokens=4, **GREEDY)
    assert 1 <= answer.usage.completion_tokens <= 4


def test_chat_many_keeps_order_applies_per_request_overrides_and_raises_after_all(vr, image_file):
    convs = [[{"role": "user", "content": f"Count to {n}."}] for n in range(4)]
    greedy = vr.chat_many(convs, temperature=0, max_new_tokens=4)
    alone = [vr.chat(c, temperature=0, max_new_tokens=4).token_ids for c in convs]
    assert [a.token_ids for a in greedy] == alone
    lengths = vr.chat_many(convs, per_request=[{"max_new_tokens": n + 1} for n in range(4)], temperature=0)
    assert [a.usage.completion_tokens for a in lengths] == [1, 2, 3, 4]
    seeded = vr.chat_many(convs[:2], per_request=[{"seed": 5}, {"seed": 5}], temperature=1.0, max_new_tokens=6)
    again = vr.chat_many(convs[:2], per_request=[{"seed": 5}, {"seed": 5}], temperature=1.0, max_new_tokens=6)
    assert [a.token_ids for a in seeded] == [a.token_ids for a in again]
    bad = [*convs[:2], [{"role": "user", "content": [{"type": "image", "image": str(image_file) + ".missing"}]}]]
    with pytest.raises(MediaError):
        vr.chat_many(bad, temperature=0, max_new_tokens=2)
    with pytest.raises(InvalidRequestError, match="per_request has 1 entries for 4"):
        vr.chat_many(convs, per_request=[{}])
