"""The async reasoning functions over a recording stand-in for `AsyncVReason` (our own interface): what they
send to the engine and how (one `chat_many` batch for votes and tiles, no thread of their own), with no model.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from typing import Any

from PIL import Image, ImageDraw

from vreason.engine.sampling import SamplingParams
from vreason.engine.types import Answer, Message, Timings, Usage
from vreason.media import PreparedImage
from vreason.media_step import MediaResolver
from vreason.reasoning.chains import VOTE_TEMPERATURE, arun_chain
from vreason.reasoning.tile_runner import aask_tiled


def answer(text: str) -> Answer:
    return Answer(text, None, "stop", Usage(prompt_tokens=10, completion_tokens=2), Timings())


class RecordingVReason:
    """Answers from a script (by seed, else by the question's text) and records every call it gets."""

    model_name = "recording"
    default_sampling = SamplingParams(temperature=0.0)
    media = MediaResolver()  # its image limit is checked before images are read

    def __init__(self, by_seed: dict[int, str] | None = None, text: str = "red"):
        self.by_seed = by_seed or {}
        self.text = text
        self.calls: list[tuple[str, Any]] = []

    async def prepare_image(self, source: Any) -> PreparedImage:
        return source if isinstance(source, PreparedImage) else PreparedImage(source, "picture")

    async def chat(self, messages: Sequence[Message], **sampling: Any) -> Answer:
        self.calls.append(("chat", (list(messages), sampling)))
        return answer(self.text)

    async def chat_many(self, conversations: Sequence[Sequence[Message]],
                        per_request: Sequence[dict[str, Any]] | None = None, **sampling: Any) -> list[Answer]:
        self.calls.append(("chat_many", ([list(c) for c in conversations], per_request, sampling)))
        seeds = [extra.get("seed") for extra in per_request] if per_request else [None] * len(conversations)
        return [answer(self.by_seed.get(seed, self.text)) for seed in seeds]  # type: ignore[arg-type]


def test_a_vote_of_five_is_one_chat_many_batch_with_a_seed_each_and_no_thread(started_threads):
    vr = RecordingVReason(by_seed={11: "red", 12: "blue", 13: "red", 14: "Red.", 15: "green"})
    picture = PreparedImage(Image.new("RGB", (32, 32), (200, 0, 0)), "picture")
    threads_before = threading.active_count()

    trace = asyncio.run(arun_chain(vr, [picture], ["What color is the shape?"], vote=5, seed=11, max_new_tokens=8))

    assert started_threads == []
    assert threading.active_count() == threads_before
    assert [kind for kind, _ in vr.calls] == ["chat_many"]
    conversations, per_request, sampling = vr.calls[0][1]
    assert len(conversations) == 5
    assert all(c == conversations[0] for c in conversations)  # five samples of the same question
    assert conversations[0][-1].images == [picture]
    assert per_request == [{"seed": 11}, {"seed": 12}, {"seed": 13}, {"seed": 14}, {"seed": 15}]
    # greedy default (the built-in model's): votes sample, with the cut of Qwen's Instruct recommendation
    assert sampling == {"max_new_tokens": 8, "temperature": VOTE_TEMPERATURE, "top_p": 0.8, "top_k": 20}
    step = trace.steps[0]
    assert [s.raw_output for s in step.samples] == ["red", "blue", "red", "Red.", "green"]
    assert step.vote is not None
    assert (step.vote.answer, step.vote.agreement) == ("red", 0.6)
    assert step.completion_tokens == 5 * 2


def test_a_vote_without_a_seed_shares_the_callers_sampling_and_later_steps_see_the_history():
    vr = RecordingVReason(text="circle")
    trace = asyncio.run(arun_chain(vr, None, ["What shape?", "Is the {previous} big?"], vote=3, temperature=0.9))
    assert [kind for kind, _ in vr.calls] == ["chat_many", "chat_many"]
    for _, (conversations, per_request, sampling) in vr.calls:
        assert len(conversations) == 3
        assert per_request is None
        assert sampling == {"temperature": 0.9}
    second = vr.calls[1][1][0][0]
    assert [m.role for m in second] == ["user", "assistant", "user"]
    assert second[-1].text == "Is the circle big?"
    assert trace.answer == "circle"


def test_a_single_sample_is_one_chat_with_the_callers_sampling():
    vr = RecordingVReason(text="red")
    asyncio.run(arun_chain(vr, None, ["What color?"], seed=3, temperature=0.0))
    assert vr.calls == [("chat", ([Message.user("What color?")], {"seed": 3, "temperature": 0.0}))]


def test_tiles_and_the_overview_go_in_one_batch_and_blank_tiles_are_not_asked():
    canvas = Image.new("RGB", (200, 200), (255, 255, 255))
    ImageDraw.Draw(canvas).ellipse((20, 20, 60, 60), fill=(220, 20, 20))  # only the top-left tile shows it
    vr = RecordingVReason(text="red")
    result = asyncio.run(aask_tiled(vr, PreparedImage(canvas, "canvas"), "What color?", grid=(2, 2), overlap=0.0,
                                    max_new_tokens=4))
    assert [kind for kind, _ in vr.calls] == ["chat_many"]
    conversations, per_request, sampling = vr.calls[0][1]
    assert [c[0].images[0].label for c in conversations] == ["canvas tile r0c0", "canvas"]  # tile, then overview
    assert conversations[0][0].images[0].original_size == (100, 100)
    assert per_request is None
    assert sampling == {"temperature": 0.0, "presence_penalty": 0.0, "max_new_tokens": 4}
    assert [t.text for t in result.tiles] == ["red", None, None, None]
    assert result.findings[0].sources == ["r0c0", "overview"]
