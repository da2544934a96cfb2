"""What the model sees in a picture the first time memory stores it: a one-sentence description and short facts
(objects, colours, counts, text), each the model's own answer to one short question, asked in one batch.

Facts are asked in the question forms the model knows. A general Qwen3-VL checkpoint gets open questions; the
built-in demo model was trained only on shapes-world question forms (its model card: colour, shape, counting,
reading), and answers anything else with a guess, so it and every model trained from it (`vr.demo_family`: its
tokenizer is the demo's) are asked those forms. Answers that say nothing ("no",
"none", empty) are dropped; a description that says nothing is replaced by the facts' own words.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from vreason.articles import with_article
from vreason.media import PreparedImage

if TYPE_CHECKING:
    from vreason.async_api import AsyncVReason

GENERAL_QUESTIONS = {
    "description": "Describe this image in one sentence.",
    "objects": "List the main objects in this image, separated by commas.",
    "color": "What are the main colors in this image?",
    "count": "How many objects are in this image?",
    "text": "What text is written in this image? Answer none if there is none.",
}
SHAPE_KINDS = ("circle", "rectangle", "triangle", "star", "hexagon")  # the demo model's shapes
SHAPES_QUESTIONS = {
    "description": "Describe this image in one sentence.",
    "shape": "What is the shape?",
    "color": "What color is the shape?",
    "count": "how many shapes are there?",  # the trained form; "How many shapes are in this image?" gets "322"
    **{f"{kind}s": f"how many {kind}s are there?" for kind in SHAPE_KINDS},
}
NUMBER_WORDS = {"1": "one", "2": "two", "3": "three", "4": "four", "5": "five"}
EMPTY_ANSWERS = {"", "no", "none", "nothing", "n/a", "unknown", "yes"}
FACT_SAMPLING = {"temperature": 0.0, "presence_penalty": 0.0, "max_new_tokens": 48}


def questions_for(demo_family: bool) -> dict[str, str]:
    return SHAPES_QUESTIONS if demo_family else GENERAL_QUESTIONS


async def describe_picture(vr: AsyncVReason, image: PreparedImage) -> tuple[str, dict[str, str]]:
    """(description, facts) from the model's answers; one batched request."""
    from vreason.async_api import user_message

    questions = questions_for(vr.demo_family)
    answers = await vr.chat_many([[user_message(q, [image])] for q in questions.values()], **FACT_SAMPLING)
    said = {
        name: " ".join(answer.text.split()).strip().rstrip(".") for name, answer in zip(questions, answers, strict=True)
    }
    facts = {name: text for name, text in said.items() if name != "description" and text.lower() not in EMPTY_ANSWERS}
    description = said.get("description", "")
    if description.lower() in EMPTY_ANSWERS or len(description.split()) < 3:
        description = facts_description(facts)
    return description, facts


def facts_description(facts: dict[str, str]) -> str:
    """The picture's description in the facts' own words, for when the model's says nothing: "a red circle", "an
    orange star", "3 shapes: 2 circles (two circles), 1 star (one star)", or "name: value, ..." of a general
    model's facts."""
    if "shape" in facts:
        count = facts.get("count")
        if count in (None, "1"):
            words = f"{facts.get('color', '')} {facts['shape']}".strip()
            return with_article(words) or "a picture"
        # per-kind counts with their number words, so "which part had two triangles?" finds the picture by words
        kinds = [
            f"{n} {noun} ({NUMBER_WORDS.get(n, n)} {noun})"
            for kind in SHAPE_KINDS
            if (n := facts.get(f"{kind}s", "")).isdigit() and n != "0"
            for noun in [kind if n == "1" else f"{kind}s"]
        ]
        return f"{count} shapes: " + ", ".join(kinds) if kinds else f"{count} shapes"
    return ", ".join(f"{k}: {v}" for k, v in facts.items()) or "a picture"
