"""The reasoning layer on the built-in demo model, where the answers are knowable: it names colours well.

Tiling must find small shapes that one downscaled look misses; chains must carry answers forward and reuse
the shared prefix; votes must be reproducible; structured answers must come back validated; a long
conversation must keep working inside its budget and keep the early facts in its notes.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import pytest
from PIL import Image, ImageDraw
from pydantic import BaseModel, field_validator

from vreason.reasoning.answer_extraction import normalize_answer
from vreason.train.shapes_world import PALETTE, ShapesWorld

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
SHAPES = str(ROOT / "examples" / "shapes.png")  # one red circle
EXACT = {"temperature": 0.0, "presence_penalty": 0.0, "max_new_tokens": 8}
# Three 120-pixel discs on a 2048x2048 white canvas: 15 pixels each once the demo's 256x256 budget shrinks it.
SMALL_DISCS = {"red": (300, 300), "blue": (1500, 700), "green": (900, 1600)}


@pytest.fixture(scope="module")
def demo():
    from vreason import VReason

    return VReason()


@pytest.fixture(scope="module")
def big_canvas() -> Image.Image:
    canvas = Image.new("RGB", (2048, 2048), (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    for color, (x, y) in SMALL_DISCS.items():
        draw.ellipse((x, y, x + 120, y + 120), fill=PALETTE[color])
    return canvas


def test_tiling_finds_small_shapes_one_downscaled_pass_misses(demo, big_canvas):
    from vreason.reasoning.tile_runner import ask_tiled

    question = "What color is the shape?"
    single = normalize_answer(demo.ask(big_canvas, question, **EXACT).text)
    assert len(set(SMALL_DISCS) - {single}) >= 2  # one look at 256x256 names at most one of the three

    result = ask_tiled(demo, big_canvas, question, **EXACT)
    assert result.grid == (4, 4)  # chosen from the demo's 65,536-pixel budget (capped at 16 tiles)
    asked = [t for t in result.tiles if t.text is not None]
    assert 3 <= len(asked) <= 6  # the plain-white tiles were not asked
    # the tiles name all three; the downscaled overview's own guess may add one or repeat one (the shipped
    # model's overview says "red")
    assert {f.answer for f in result.findings if f.sources != ["overview"]} == set(SMALL_DISCS)
    red = next(f for f in result.findings if f.answer == "red")
    assert [s for s in red.sources if s != "overview"] == ["r0c0"]  # of the tiles, only the top-left shows it
    assert result.overview is not None
    assert result.overview.text is not None
    data = json.loads(json.dumps(result.to_dict()))
    assert len(data["tiles"]) == 16
    assert data["usage"]["prompt_tokens"] > 0


def test_chain_feeds_answers_forward_and_reuses_the_shared_prefix(demo):
    from vreason.reasoning.chains import run_chain

    steps = ["What color is the shape?", "what shape is in the image?", "is there a {step1} {previous}?"]
    trace = run_chain(demo, SHAPES, steps, **EXACT)
    first, second, third = trace.steps
    assert first.answer == "red"
    assert third.prompt == f"is there a red {second.answer}?"
    assert third.answer in ("yes", "no")
    assert first.prompt_tokens < second.prompt_tokens < third.prompt_tokens  # one growing conversation
    assert second.cached_tokens >= first.prompt_tokens  # the image and step 1 were not computed again
    assert third.cached_tokens >= second.prompt_tokens
    data = json.loads(trace.to_json())
    assert [s["answer"] for s in data["steps"]] == [first.answer, second.answer, third.answer]
    assert all(s["time_s"] > 0 for s in data["steps"])


def test_self_consistency_votes_and_the_same_seed_gives_the_same_samples(demo):
    from vreason.reasoning.chains import run_chain

    runs = [run_chain(demo, SHAPES, ["What color is the shape?"], vote=5, seed=11, max_new_tokens=8)
            for _ in range(2)]
    step = runs[0].steps[0]
    assert step.vote is not None
    assert step.vote.answer == "red"
    assert step.vote.agreement >= 0.6
    assert len(step.samples) == 5
    assert [s.raw_output for s in step.samples] == [s.raw_output for s in runs[1].steps[0].samples]


class Observation(BaseModel):
    color: Literal[tuple(PALETTE)]  # type: ignore[valid-type]


class StrictObservation(Observation):
    @field_validator("color")
    @classmethod
    def must_be_purple(cls, value: str) -> str:  # a rule JSON schema cannot express: only pydantic checks it
        if value != "purple":
            raise ValueError(f"{value} is not purple")
        return value


def test_structured_answers_come_back_validated(demo):
    from vreason.reasoning.structured import StructuredOutputError, ask_structured

    # The tiny demo model was never taught to read a schema or write JSON, so the question goes without one
    # (instruct=False); constrained decoding still makes the output a valid object. Inside JSON the colour is
    # off its training distribution, so only its validity is asserted here.
    found = ask_structured(demo, SHAPES, "What color is the shape?", Observation, instruct=False,
                           **{**EXACT, "max_new_tokens": 24})
    assert isinstance(found.value, Observation)
    assert found.value.color in PALETTE
    assert found.attempts == 1
    schema = {"type": "object", "properties": {"color": {"enum": list(PALETTE)}}, "required": ["color"],
              "additionalProperties": False}
    as_dict = ask_structured(demo, SHAPES, "What color is the shape?", schema, instruct=False,
                             **{**EXACT, "max_new_tokens": 24})
    assert set(as_dict.value) == {"color"}
    assert as_dict.value["color"] in PALETTE
    with pytest.raises(StructuredOutputError, match="after 2 attempt") as failure:
        ask_structured(demo, SHAPES, "What color is the shape?", StrictObservation, retries=1, instruct=False,
                       **{**EXACT, "max_new_tokens": 24})
    assert json.loads(failure.value.raw_output)["color"] in PALETTE  # valid JSON, rejected by the rule


def test_long_conversation_stays_in_budget_and_keeps_the_early_fact(demo):
    from vreason.reasoning.context_budget import ContextPolicy, ManagedConversation

    conversation = ManagedConversation(demo, policy=ContextPolicy(max_prompt_tokens=360, keep_recent_turns=1,
                                                                  notes_share=0.6))
    first = conversation.ask("what color is the shape?", SHAPES, **EXACT)
    assert first.text == "red"
    world = ShapesWorld(seed=31)
    for _ in range(5):
        scene = world.scene("color")
        conversation.ask(scene.qas[0].question, scene.image, **EXACT)
    assert max(conversation.sent_prompt_tokens) <= 360
    assert conversation.compactions
    assert all(c.tokens_after <= c.budget for c in conversation.compactions)
    assert len(conversation.turns) < 6
    assert sum(len(m.images) for m in conversation.messages()) == len(conversation.turns)  # dropped images left
    assert any("Assistant: red" in note.text for note in conversation.notes)  # the first answer survives
    final = conversation.ask("what color is the shape?", SHAPES, **EXACT)
    # The conversation goes on within budget after compacting. What the demo model answers behind a block of
    # notes is not asserted: it saw few such prompts (the shipped model says "circle" here).
    assert final.text
    assert conversation.sent_prompt_tokens[-1] <= 360
    assert len(conversation.messages()[-2].images) == 1  # the last turn kept its picture


def test_grounding_maps_boxes_onto_the_original_image(demo, tmp_path):
    from vreason.reasoning.grounding import parse_detections
    from vreason.reasoning.locate import locate

    wide = Image.open(SHAPES).resize((1024, 512))  # the model sees 256x256 pixels of it
    found = locate(demo, wide, "red circle", max_new_tokens=40)
    assert found.image_size == (1024, 512)
    relative = [d for d in parse_detections(found.raw_output) if d.box]
    assert relative  # the demo answers in Qwen's bbox_2d format (where it puts the box is not learned yet)
    expected = relative[0].box
    box = found.detections[0].box
    assert box == pytest.approx((expected[0] * 1.024, expected[1] * 0.512, expected[2] * 1.024,
                                 expected[3] * 0.512))


@pytest.fixture
def restored_logging() -> Iterator[None]:
    """The CLI points vreason's log handler at its stderr; in-process runs must not leave it on a closed stream."""
    logger = logging.getLogger("vreason")
    handlers, propagate, level = logger.handlers[:], logger.propagate, logger.level
    yield
    logger.handlers[:] = handlers
    logger.propagate = propagate
    logger.setLevel(level)


def test_cli_reason_and_ground(tmp_path, restored_logging):
    from typer.testing import CliRunner

    from vreason.cli.app import app

    runner = CliRunner()
    steps = ["What color is the shape?", "is there a {previous} shape?"]
    reason = runner.invoke(app, ["reason", SHAPES, "--steps", *steps, "--temperature", "0", "--presence-penalty", "0",
                                 "--max-new-tokens", "8", "--json"])
    assert reason.exit_code == 0, reason.output
    trace = json.loads(reason.stdout)
    assert [s["prompt"] for s in trace["steps"]] == ["What color is the shape?", "is there a red shape?"]
    assert trace["steps"][0]["answer"] == "red"
    assert trace["answer"] == trace["steps"][1]["answer"]

    out = tmp_path / "annotated.png"
    ground = runner.invoke(app, ["ground", SHAPES, "red circle", "--out", str(out), "--json", "--max-new-tokens", "40"])
    assert ground.exit_code == 0, ground.output
    data = json.loads(ground.stdout)
    assert data["image_size"] == [256, 256]
    assert data["annotated"] == str(out)
    assert Image.open(out).size == (256, 256)
