"""Answering the memory benchmark's questions (eval/memory_data.py) in one of four modes, over `AsyncVReason`.

- `memory`: every turn the user asked to be remembered is written to the memory store as it happens (a picture
  with the description and facts the model itself gives when it first sees it: memory/describe.py); each
  question recalls from the store (the user's own namespace, only what was written before it) and is answered
  from what came back, by its row's `flow`:
  attach — the first recalled memory with a picture; `ask` is put to that picture;
  select — `ask` is put to every recalled picture; the answer is the name the user gave the first one whose
  answer is the row's `select` (read from what the user said about it: "this is part #17");
  compare — the rectangle is found (`ask`, a grounding question) in the first recalled picture and in the
  picture shown with the question; the answer is whether the recalled one's area is larger.
  The question is put in the model's words (`ask`): the built-in demo model reads pictures, not notes.
- `product`: the same store and writes, and the product's own chat turn (`AsyncMemory.answer`: recall, the
  notes and recalled pictures in the prompt, the user's question in their own words, the model, citations);
  the answer is scored with its citations ("brown [m6]") taken out, and they are kept beside it.
- `none`: the question alone (with the picture shown with it, if any): what the model knows without memory.
- `history`: every earlier turn of the user (texts and pictures, each acknowledged) and then the question, in
  one conversation: the whole history in context, as far as it fits (a request the engine refuses for its
  length or image count is recorded as an error, and counts as wrong).

The store is reached only through `MemoryBackend` (eval/memory_backend.py adapts vreason.memory); recall is
timed around the backend's recall alone. Greedy decoding.
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from vreason.errors import VReasonError
from vreason.eval.memory_file import MemoryData, Question, Turn
from vreason.reasoning.grounding import parse_detections
from vreason.scoring.metrics import normalize
from vreason.scoring.records import PredictionRecord

if TYPE_CHECKING:
    from vreason.async_api import AsyncVReason
    from vreason.engine.types import Message
    from vreason.memory import MemoryAnswer

MODES = ("memory", "product", "none", "history")
RECALL_K = 5
BATCH = 16  # questions handed to the engine at once
ACK = "Noted."  # the assistant's reply to each earlier turn in the history mode
CITATION = re.compile(r"\s*\[m\d+\]")
NAME = re.compile(r"\b(?:this is|it is)\s+([^.]+)", re.IGNORECASE)


@dataclass
class Recalled:
    id: str
    text: str  # the memory's text (a fact as stated, or a picture's description)
    image: str | None  # the remembered picture, read back from the store into a file; None for a text memory
    stated: str = ""  # what the user said about it (a picture's linked facts; a fact's own text)


class MemoryBackend(Protocol):
    async def write(self, turn: Turn) -> list[str]:
        """Store the turn if the user asked to remember it; the new items' ids."""

    async def recall(self, question: Question, k: int) -> list[Recalled]:
        """The asking user's `k` best memories for the question, best first."""

    async def answer(self, question: Question, k: int, sampling: dict[str, Any]) -> MemoryAnswer:
        """The product's own chat turn with memory (recall, prompt, model, citations), writing nothing."""


@dataclass
class Outcome:
    """One question answered in one mode: the record to score, and what recall did."""

    record: PredictionRecord
    recalled: list[str] = field(default_factory=list)  # memory ids, best first
    needed: list[str] = field(default_factory=list)  # the memory ids written for the question's `needs`
    recall_s: float | None = None
    cited: list[str] = field(default_factory=list)  # product mode: the ids the answer cites

    @property
    def hit_rank(self) -> int | None:
        """1-based rank of the first needed memory among those recalled; None when none was."""
        ranks = [self.recalled.index(m) + 1 for m in self.needed if m in self.recalled]
        return min(ranks) if ranks else None


def name_of(text: str) -> str:
    """The name a user gave the thing shown: "Remember: this is part #17." -> "part #17"."""
    found = NAME.search(text)
    return found.group(1) if found else ""


def box_area(text: str, size: tuple[int, int]) -> float | None:
    """Pixel area of the first box in a grounding answer (0-1000 coordinates on an image of `size`)."""
    boxes = [d.box for d in parse_detections(text) if d.box is not None]
    if not boxes:
        return None
    x1, y1, x2, y2 = boxes[0]
    return abs(x2 - x1) * size[0] / 1000 * abs(y2 - y1) * size[1] / 1000


async def replay(
    vr: AsyncVReason,
    data: MemoryData,
    mode: str,
    backend: MemoryBackend | None,
    sampling: dict[str, Any],
    k: int = RECALL_K,
) -> list[Outcome]:
    """Play the users' events in order and answer every question in `mode`; outcomes in question order.

    Writes and recalls happen in event order, so a question sees only what was stored before it; the model's
    questions of the `memory`, `none` and `history` modes are then asked in batches."""
    written: dict[str, list[str]] = {}  # turn id -> its memory ids
    history: dict[str, list[Turn]] = {}
    outcomes: dict[str, Outcome] = {}
    plans: list[tuple[Outcome, Question, list[Recalled], list[Turn]]] = []
    for event in data.events:
        if isinstance(event, Turn):
            history.setdefault(event.user, []).append(event)
            if backend is not None and mode in ("memory", "product"):
                written[event.id] = await backend.write(event)
            continue
        record = PredictionRecord(
            id=event.id,
            kind=event.family,
            images=[event.image] if event.image else [],
            prompt=event.question,
            prediction="",
            answers=list(event.answers),
        )
        outcome = outcomes[event.id] = Outcome(record, needed=[m for t in event.needs for m in written.get(t, [])])
        hits: list[Recalled] = []
        if backend is not None and mode == "memory":
            started = time.perf_counter()
            hits = await backend.recall(event, k)
            outcome.recall_s = time.perf_counter() - started
            outcome.recalled = [h.id for h in hits]
        elif backend is not None and mode == "product":  # the whole turn now: it must see only earlier writes
            await _product_answer(backend, outcome, event, k, sampling)
            continue
        plans.append((outcome, event, hits, list(history.get(event.user, []))))
    for start in range(0, len(plans), BATCH):
        batch = plans[start : start + BATCH]
        await asyncio.gather(*(_answer(vr, o, q, hits, mode, earlier, sampling) for o, q, hits, earlier in batch))
    return list(outcomes.values())


async def _product_answer(
    backend: MemoryBackend, outcome: Outcome, q: Question, k: int, sampling: dict[str, Any]
) -> None:
    record = outcome.record
    started = time.perf_counter()
    try:
        result = await backend.answer(q, k, sampling)
        record.prediction = CITATION.sub("", result.text).strip()  # scored without its citations, kept apart
        outcome.recalled, outcome.cited = [h.id for h in result.recalled], list(result.cited)
    except VReasonError as err:
        record.error = str(err)
    record.latency_s = round(time.perf_counter() - started, 4)


async def _answer(
    vr: AsyncVReason,
    outcome: Outcome,
    q: Question,
    hits: list[Recalled],
    mode: str,
    history: list[Turn],
    sampling: dict[str, Any],
) -> None:
    record = outcome.record
    started = time.perf_counter()
    try:
        if mode == "memory":
            record.prediction = await _from_memory(vr, q, hits, sampling, record)
        elif mode == "history":
            record.prediction = (await vr.chat(_history_messages(history, q), **sampling)).text
        else:
            record.prediction = (await vr.ask(q.image, q.question, **sampling)).text
    except VReasonError as err:
        record.error = str(err)
    record.latency_s = round(time.perf_counter() - started, 4)


async def _from_memory(
    vr: AsyncVReason, q: Question, hits: list[Recalled], sampling: dict[str, Any], record: PredictionRecord
) -> str:
    pictures = [h for h in hits if h.image]
    if not pictures:
        return (await vr.ask(q.image, q.question, **sampling)).text  # nothing to look at: as without memory
    if q.flow == "attach":
        record.images, record.prompt = [pictures[0].image], q.ask
        return (await vr.ask(pictures[0].image, q.ask, **sampling)).text
    if q.flow == "select":
        answers = await vr.ask_many([(h.image, q.ask) for h in pictures], **sampling)
        for hit, answer in zip(pictures, answers, strict=True):
            if normalize(answer.text) == normalize(q.select or ""):
                record.images, record.prompt = [hit.image], q.ask
                return name_of(hit.stated)
        return ""
    # compare: the recalled box against today's, by the areas of the boxes the model finds
    first = pictures[0].image
    recalled, today = await vr.ask_many([(first, q.ask), (q.image, q.ask)], **sampling)
    sizes = [(await vr.prepare_image(src)).original_size for src in (first, q.image)]
    areas = [box_area(recalled.text, sizes[0]), box_area(today.text, sizes[1])]
    record.images, record.prompt = [first, q.image or ""], q.ask
    if None in areas:
        return ""
    return "yes" if areas[0] > areas[1] else "no"


def _question_message(q: Question) -> Message:
    from vreason.engine.types import Message

    return Message.user(q.question, [q.image] if q.image else [])


def _history_messages(history: list[Turn], q: Question) -> list[Message]:
    from vreason.engine.types import Message

    messages: list[Message] = []
    for turn in history:
        messages += [Message.user(turn.text, [turn.image] if turn.image else []), Message.assistant(ACK)]
    return [*messages, _question_message(q)]
