"""The reasoning layer's plumbing on tiny random Qwen3-VL checkpoints (the real Qwen tokenizer): what the model
says is noise, so these tests hold the shapes, counts and limits, not the answers."""

from __future__ import annotations

import json

import pytest
from PIL import Image

from tests.conftest import png_bytes

pytestmark = pytest.mark.slow

GREEDY = {"temperature": 0.0, "presence_penalty": 0.0}


@pytest.fixture(scope="module")
def pictures() -> list[bytes]:
    return [png_bytes((64 + 16 * i, 48), (40 * i, 200 - 30 * i, 90)) for i in range(6)]


def test_chain_trace_has_every_step_sample_and_count(vr, pictures):
    from vreason.reasoning.answer_extraction import ANSWER_TAG
    from vreason.reasoning.chains import run_chain

    trace = run_chain(vr, pictures[0], ["Describe it.", "And then {previous}?"], vote=3, cot=True, max_new_tokens=3,
                      seed=5)
    assert len(trace.steps) == 2
    for step in trace.steps:
        assert step.prompt.endswith(f"{ANSWER_TAG} <answer>")  # the chain-of-thought request
        assert len(step.samples) == 3
        assert step.vote is not None
        assert step.completion_tokens == sum(s.completion_tokens for s in step.samples) <= 3 * 3
        assert step.time_s > 0
        assert step.vote.answer in {s.answer.lower().strip(" .") for s in step.samples} | {""}
    assert trace.steps[1].prompt.startswith(f"And then {trace.steps[0].answer}?")
    assert trace.steps[0].prompt_tokens < trace.steps[1].prompt_tokens
    data = json.loads(trace.to_json())
    assert data["images"] == [f"<{len(pictures[0])} bytes>"]
    assert set(data["steps"][0]) >= {"prompt", "raw_output", "answer", "usage", "time_s", "vote", "samples"}


def test_thinking_model_answers_are_extracted_from_the_thinking_when_cut_off(tiny_thinking_dir, pictures):
    from vreason import VReason
    from vreason.reasoning.answer_extraction import extract_final_answer
    from vreason.reasoning.chains import run_chain

    thinker = VReason(str(tiny_thinking_dir))
    try:
        step = run_chain(thinker, pictures[1], ["What is it?"], cot=True, max_new_tokens=3, **GREEDY).steps[0]
    finally:
        thinker.close()
    assert step.thinking is not None  # a thinking checkpoint opens <think> in its prompt
    assert step.answer == extract_final_answer(step.raw_output, step.thinking)
    if not step.raw_output.strip():  # three random tokens rarely close </think>: the answer comes from thinking
        assert step.answer == extract_final_answer("", step.thinking)


def test_exact_token_count_matches_what_the_engine_reports(vr, pictures):
    from vreason.engine.types import Message
    from vreason.reasoning.token_count import ExactCounter, counter_for

    counter = counter_for(vr)
    assert isinstance(counter, ExactCounter)
    messages = [Message.system("Be brief."), Message.user("First?", [pictures[0], pictures[2]]),
                Message.assistant("Something."), Message.user("Second, longer question about the picture?",
                                                              [Image.new("RGB", (900, 300), (9, 9, 9))])]
    answer = vr.chat(messages, max_new_tokens=1)
    assert counter.count(messages) == answer.usage.prompt_tokens


def test_managed_conversation_never_passes_its_budget(vr, pictures):
    from vreason.reasoning.context_budget import ContextPolicy, ManagedConversation

    budget = 160
    conversation = ManagedConversation(vr, system="You answer about pictures.",
                                       policy=ContextPolicy(max_prompt_tokens=budget, keep_recent_turns=2,
                                                            summary_max_new_tokens=4))
    for i in range(8):
        answer = conversation.ask(f"Question {i}: what is in picture {i}?", pictures[i % len(pictures)],
                                  max_new_tokens=3, **GREEDY)
        assert answer.usage.prompt_tokens <= budget
    assert len(conversation.sent_prompt_tokens) == 8
    assert max(conversation.sent_prompt_tokens) <= budget
    assert len(conversation.compactions) >= 1
    assert sum(c.turns_dropped for c in conversation.compactions) == 8 - len(conversation.turns)
    assert conversation.notes  # what left the window is remembered
    images_in_prompt = sum(len(m.images) for m in conversation.messages())
    assert images_in_prompt == len(conversation.turns)  # images of dropped turns are gone, replaced by notes
    assert conversation.messages()[0].text.startswith("You answer about pictures.")


def test_a_question_too_large_for_the_budget_is_refused_clearly(vr):
    from vreason.errors import InvalidRequestError
    from vreason.reasoning.context_budget import ContextPolicy, ManagedConversation

    conversation = ManagedConversation(vr, policy=ContextPolicy(max_prompt_tokens=40))
    with pytest.raises(InvalidRequestError, match=r"needs \d+ prompt tokens, over the budget of 40"):
        conversation.ask("word " * 200, max_new_tokens=1)
