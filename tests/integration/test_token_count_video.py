"""The exact token count of a conversation with clips is what the engine reports for it (tiny random
Qwen3-VL): a clip decoded by the media step and one not decoded yet, an image beside it, history; and the
managed conversation's budget sees the clip."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from tests.video_samples import make_clip
from vreason import VReason
from vreason.engine.types import Message, TextPart, VideoPart
from vreason.reasoning.token_count import ExactCounter, counter_for


@pytest.fixture(scope="module")
def vr(tiny_model_dir):
    model = VReason(str(tiny_model_dir), dtype="float32")
    yield model
    model.close()


def test_exact_count_of_a_conversation_with_clips_is_the_engines(vr, tmp_path):
    clip = make_clip(tmp_path / "bar.mp4", width=96, height=64, frames=30, fps=10)
    other = make_clip(tmp_path / "other.mp4", width=64, height=64, frames=15, fps=5)
    counter = counter_for(vr)
    assert isinstance(counter, ExactCounter)
    decoded = vr.prepare_video({"video": str(clip), "fps": 4})
    picture = Image.fromarray(np.random.default_rng(0).integers(0, 256, (48, 80, 3), dtype=np.uint8))
    messages = [
        Message.system("Be brief."),
        Message("user", [VideoPart(decoded, decoded.sampling), TextPart("What moves?")]),
        Message.assistant("A white bar."),
        Message("user", [VideoPart(str(other), {"max_frames": 6}), TextPart("And here, next to this?")]),
    ]
    messages[-1].content.insert(1, Message.user("", [vr.prepare_image(picture)]).content[0])
    answer = vr.chat(messages, max_new_tokens=1)
    assert answer.usage.video_tokens > 0
    assert counter.count(messages) == answer.usage.prompt_tokens
    text_only = counter.count([Message.system("Be brief."), Message.user("What moves?")])
    assert counter.count(messages) - text_only > answer.usage.image_tokens  # the clips and image, and markers


def test_managed_conversation_about_clips_stays_in_its_budget(vr, tmp_path):
    from vreason.reasoning.context_budget import ContextPolicy, ManagedConversation

    clip = make_clip(tmp_path / "bar.mp4", width=96, height=64, frames=30, fps=10)
    video = vr.prepare_video({"video": str(clip), "max_frames": 4})
    budget = 160
    policy = ContextPolicy(max_prompt_tokens=budget, keep_recent_turns=1, summary_max_new_tokens=4)
    conversation = ManagedConversation(vr, system="You answer about clips.", policy=policy)
    alone = conversation.counter.count([Message("user", [VideoPart(video), TextPart("What moves?")])])
    assert budget // 2 < alone < budget  # two turns with the clip cannot fit: the window must move
    for i in range(3):
        answer = conversation.ask(f"Question {i}: what moves?", video=video, max_new_tokens=2, temperature=0.0)
        assert answer.usage.video_tokens > 0
        assert answer.usage.prompt_tokens <= budget
    assert sum(c.videos_replaced for c in conversation.compactions) == 3 - len(conversation.turns)
    assert conversation.compactions
    assert all(c.tokens_after <= budget for c in conversation.compactions)
    replaced = sum(c.videos_replaced for c in conversation.compactions)
    assert replaced >= 1
    # each clip that left the window was described by the model (the notes may drop descriptions to fit)
    assert sum(c.summaries_by_model for c in conversation.compactions) >= replaced
