"""Multi-step chains: several questions about the same image(s), each step seeing the ones before it.

The chain is one conversation: the images sit in the first user turn, every step appends its question and
the model's answer, so each request starts with the previous request's messages and the engine's prefix
reuse skips re-encoding the images and the history. A step's question may also name earlier results:
`{previous}` / `{stepN}` (the parsed answer) and `{previous_boxes}` / `{stepN_boxes}` (its boxes as Qwen JSON,
0-1000). With `cot` each question asks for step-by-step reasoning ending in `Answer: ...`, and the answer is
extracted from that (or from a thinking model's output); with `vote=k` each step draws k samples at once
(batched by the engine: one `chat_many` call, each sample with its own seed) and keeps the majority answer
with its agreement score.

`arun_chain` is the chain over an `AsyncVReason` (what the server and the UI await); `run_chain` is its blocking
form over a `VReason`. Only the public API is used, so a chain runs the same on the local engine and on remote
backends.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from vreason.engine.sampling import INSTRUCT_DEFAULTS, nth_seed
from vreason.engine.types import Answer, Message
from vreason.errors import InvalidRequestError
from vreason.reasoning.answer_extraction import cot_instruction, extract_final_answer
from vreason.reasoning.grounding import Detection, parse_detections
from vreason.reasoning.image_args import prepare_images
from vreason.reasoning.trace import ChainTrace, SampleTrace, StepTrace
from vreason.reasoning.voting import majority_vote

if TYPE_CHECKING:
    from vreason.api import VReason
    from vreason.async_api import AsyncVReason, Images

MAX_STEPS = 32
MAX_VOTE = 16
# Self-consistency needs different samples: greedy decoding would give k copies of one answer.
VOTE_TEMPERATURE = 0.7
_PLACEHOLDER = re.compile(r"\{(previous|step(\d+))(_boxes)?\}")


async def arun_chain(
    vr: AsyncVReason,
    images: Images,
    steps: Sequence[str],
    *,
    vote: int = 1,
    cot: bool = False,
    system: str | None = None,
    **sampling: Any,
) -> ChainTrace:
    """Ask `steps` in order about `images`; returns the trace (the last step's answer is `trace.answer`)."""
    check_chain(steps, vote)
    started = time.perf_counter()
    prepared = await prepare_images(vr, images)
    sizes = [p.original_size for p in prepared]
    trace = ChainTrace(model=vr.model_name, images=[p.label for p in prepared])
    history: list[Message] = [Message.system(system)] if system else []
    relative: list[list[Detection]] = []  # each step's boxes in the model's own 0-1000 coordinates
    for index, question in enumerate(steps, start=1):
        text = fill_placeholders(question, trace.steps, relative)
        if cot:
            text = cot_instruction(text)
        user = Message.user(text, prepared if index == 1 else [])
        messages = [*history, user]
        step_started = time.perf_counter()
        answers = await _sample(vr, messages, vote, sampling)
        step = _step_trace(index, question, text, answers, cot, vote, sizes, time.perf_counter() - step_started)
        relative.append(parse_detections(step.raw_output))
        trace.steps.append(step)
        history += [user, Message.assistant(step.raw_output)]
    trace.time_s = time.perf_counter() - started
    return trace


def run_chain(
    vr: VReason,
    images: Images,
    steps: Sequence[str],
    *,
    vote: int = 1,
    cot: bool = False,
    system: str | None = None,
    **sampling: Any,
) -> ChainTrace:
    """Ask `steps` in order about `images`; returns the trace (the last step's answer is `trace.answer`)."""
    return vr.run(arun_chain(vr.aio, images, steps, vote=vote, cot=cot, system=system, **sampling))


def fill_placeholders(question: str, done: Sequence[StepTrace], relative: Sequence[list[Detection]]) -> str:
    """Replace {previous}, {stepN} and their _boxes forms; other braces (JSON in the question) stay as written."""

    def value(match: re.Match) -> str:
        name, number, boxes = match.group(1), match.group(2), match.group(3)
        position = len(done) if name == "previous" else int(number)
        if not 1 <= position <= len(done):
            raise InvalidRequestError(
                f"step {len(done) + 1} refers to {match.group(0)}, but only steps 1..{len(done)} come before it",
                param="steps",
            )
        if boxes:
            return json.dumps([_qwen_item(d) for d in relative[position - 1]])
        return done[position - 1].answer

    return _PLACEHOLDER.sub(value, question)


def _qwen_item(detection: Detection) -> dict:
    item: dict = {}
    if detection.box is not None:
        item["bbox_2d"] = [round(v) for v in detection.box]
    if detection.point is not None:
        item["point_2d"] = [round(v) for v in detection.point]
    item["label"] = detection.label
    return item


async def _sample(vr: AsyncVReason, messages: list[Message], vote: int, sampling: dict[str, Any]) -> list[Answer]:
    if vote == 1:
        return [await vr.chat(messages, **sampling)]
    params = dict(sampling)
    temperature = params.get("temperature")
    if temperature is None:
        temperature = vr.default_sampling.temperature
    if temperature <= 0:  # a greedy request, or a model answered greedily by default (the built-in): Qwen's cut
        params["temperature"] = VOTE_TEMPERATURE
        for name in ("top_p", "top_k"):  # unless the caller set them
            if params.get(name) is None:
                params[name] = getattr(INSTRUCT_DEFAULTS, name)
    seed = params.pop("seed", None)
    # Sample i gets seed + i, so the same seed gives the same k samples again; all k go in one batch.
    per_request = None if seed is None else [{"seed": nth_seed(seed, i)} for i in range(vote)]
    return await vr.chat_many([messages] * vote, per_request, **params)


def _step_trace(index: int, question: str, prompt: str, answers: list[Answer], cot: bool, vote: int,
                sizes: list[tuple[int, int]], elapsed: float) -> StepTrace:
    parsed = [_parse(a, cot or vote > 1) for a in answers]
    tally = majority_vote(parsed) if vote > 1 else None
    chosen = answers[tally.winner_index] if tally else answers[0]
    detections = parse_detections(chosen.text)
    coordinates = "pixels" if len(sizes) == 1 else "relative"
    if coordinates == "pixels":
        detections = [d.to_pixels(sizes[0]) for d in detections]
    return StepTrace(
        index=index,
        question=question,
        prompt=prompt,
        raw_output=chosen.text,
        thinking=chosen.thinking,
        answer=parsed[tally.winner_index] if tally else parsed[0],
        prompt_tokens=chosen.usage.prompt_tokens,
        completion_tokens=sum(a.usage.completion_tokens for a in answers),
        time_s=elapsed,
        finish_reason=chosen.finish_reason,
        cached_tokens=getattr(chosen.usage, "cached_tokens", 0),
        detections=detections,
        coordinates=coordinates,
        samples=[
            SampleTrace(a.text, a.thinking, p, a.usage.completion_tokens, a.finish_reason)
            for a, p in zip(answers, parsed, strict=True)
        ] if tally else [],
        vote=tally,
    )


def _parse(answer: Answer, extract: bool) -> str:
    """The answer of one output: extracted from chain-of-thought (or votes), else the whole text."""
    if extract or not answer.text.strip():
        return extract_final_answer(answer.text, answer.thinking)
    return answer.text.strip()


def check_chain(steps: Sequence[str], vote: int) -> None:
    """Raise InvalidRequestError (with the value) for an empty, too long or malformed chain or vote."""
    if isinstance(steps, str):
        raise InvalidRequestError("steps must be a list of questions, not one string", param="steps")
    if not steps:
        raise InvalidRequestError("a chain needs at least one step", param="steps")
    if len(steps) > MAX_STEPS:
        raise InvalidRequestError(f"{len(steps)} steps is over the limit of {MAX_STEPS}", param="steps")
    for i, step in enumerate(steps, start=1):
        if not isinstance(step, str) or not step.strip():
            raise InvalidRequestError(f"step {i} ({step!r}) must be a non-empty question", param="steps")
    if isinstance(vote, bool) or not isinstance(vote, int) or not 1 <= vote <= MAX_VOTE:
        raise InvalidRequestError(f"vote ({vote!r}) must be an integer from 1 to {MAX_VOTE}", param="vote")

