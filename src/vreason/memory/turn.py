"""One chat turn with memory: `prepare_turn` before the model, `finish_turn` after it, `answer_turn` for both.

prepare: the last user message is read for a remember/forget request (prompt.py); such a turn needs no model
(`reply_without_model`), nor does a demo-family model's turn with nothing recalled and no picture anywhere in the
conversation (`blind`: that model reads pictures, not text, and would only guess; the reply says nothing matched).
Otherwise the question (and its pictures) recall up to k items; their notes join the system message and up to
`MAX_PICTURES` recalled pictures go into the last user message, before its own parts, so the model can look again
(the engine's pixel budget resizes them like any image; a picture already in the question is not sent twice).
finish: a request is carried out only when `write` is on (no memory is written unless asked); the answer's
cited ids are read back (only ids that were in the prompt count).

`answer_turn` also answers from a recalled picture's facts when the model's answer cites nothing and the question
asks for something those facts hold (a colour, shape, count, text): the facts are the model's own words from
when it first saw the picture, so the answer is still the model's, given with its sources. This is what lets a
small model (the built-in demo model reads pictures but not notes) answer "what colour was part #17?".
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from vreason.engine.types import Answer, ImagePart, Message, TextPart, Timings, Usage
from vreason.memory.prompt import Forget, Remember, cited_ids, parse_request, recalled_notes
from vreason.memory.types import MemoryAnswer, MemoryItem, RecallHit

# `mem` below is an AsyncMemory (handle.py); typed loosely because handle.py imports this module.
AsyncMemory = Any

MAX_PICTURES = 2
NOTHING_RECALLED = "Nothing remembered matches this question, and it has no picture to look at."
ATTRIBUTES = {
    "color": re.compile(r"\bcolou?rs?\b", re.I),
    "count": re.compile(r"\bhow many\b|\bcount\b|\bnumber of\b", re.I),
    "shape": re.compile(r"\bshape\b|\bwhat kind\b", re.I),
    "text": re.compile(r"\btext\b|\bwritten\b|\bsay\b|\bread\b", re.I),
    "objects": re.compile(r"\bobjects?\b|\bwhat (?:is|was) (?:in|on)\b", re.I),
}
# "how many circles": a count of one kind, which the picture's facts hold under that word ("circles": the demo
# model's per-kind counts) or not at all; the picture's total count would answer it wrongly
KIND_COUNT = re.compile(r"\bhow many (\w+s)\b", re.I)
ALL_KINDS = {"shapes", "objects", "things", "items", "pieces", "parts", "elements"}


@dataclass
class MemoryTurn:
    messages: list[Message]  # what to send to the model
    question: str
    images: list[Any]  # the turn's own pictures
    recalled: list[RecallHit] = field(default_factory=list)
    pictures: list[str] = field(default_factory=list)  # ids of the picture items whose pictures were attached
    related: list[MemoryItem] = field(default_factory=list)  # picture items that recalled facts are about
    request: Remember | Forget | None = None
    blind: bool = False  # a demo-family model, nothing recalled, no picture in the conversation

    @property
    def reply_without_model(self) -> bool:
        return self.request is not None or self.blind

    @property
    def in_prompt(self) -> list[str]:
        return list(dict.fromkeys([*(h.id for h in self.recalled), *(p.id for p in self.related)]))


@dataclass
class MemoryResult:
    cited: list[str] = field(default_factory=list)
    used: list[str] = field(default_factory=list)
    written: list[MemoryItem] = field(default_factory=list)
    forgotten: int = 0
    reply: str | None = None  # the text to send instead of a model answer (remember/forget requests)


async def prepare_turn(mem: AsyncMemory, messages: Sequence[Message | dict], recall: bool, k: int) -> MemoryTurn:
    parsed = [m if isinstance(m, Message) else Message.from_dict(m) for m in messages]
    last = next((i for i in range(len(parsed) - 1, -1, -1) if parsed[i].role == "user"), None)
    if last is None:
        return MemoryTurn(parsed, "", [])
    question = parsed[last].text.strip()
    images = list(parsed[last].images)
    request = parse_request(question)
    turn = MemoryTurn(parsed, question, images, request=request)
    if request is not None or not recall:
        return turn
    turn.recalled = await mem.recall(question, images, k)
    if not turn.recalled:
        # another user's "what colour was part #17?" got "red" from the demo model (run 56), a guess: it had no picture
        turn.blind = bool(getattr(mem.vr, "demo_family", False)) and not any(m.images or m.videos for m in parsed)
        return turn
    recalled_pictures = {h.item.image_sha256: h.item for h in turn.recalled if h.item.kind == "image"}
    for hit in turn.recalled:
        sha = hit.item.image_sha256
        if sha and sha not in recalled_pictures and all(p.image_sha256 != sha for p in turn.related):
            picture = await asyncio.to_thread(mem.store.image_item, mem.user, sha)
            if picture is not None:
                turn.related.append(picture)
    attach: list[ImagePart] = []
    for picture in [*(h.item for h in turn.recalled), *turn.related]:
        sha = picture.image_sha256
        matched = any("image" in h.why and h.item.image_sha256 == sha for h in turn.recalled)
        # a picture matched by the question's own picture is there already
        if picture.kind != "image" or matched or len(attach) >= MAX_PICTURES or picture.id in turn.pictures:
            continue
        data, _ = await mem.image_with_type(sha)
        attach.append(ImagePart(data))
        turn.pictures.append(picture.id)
    notes = recalled_notes(turn.recalled, turn.related, turn.pictures)
    out = list(parsed)
    if out and out[0].role == "system":
        out[0] = Message("system", [TextPart(out[0].text + "\n\n" + notes)])
    else:
        out.insert(0, Message.system(notes))
        last += 1
    out[last] = replace(out[last], content=[*attach, *out[last].content])
    turn.messages = out
    return turn


async def finish_turn(mem: AsyncMemory, turn: MemoryTurn, answer_text: str, write: bool) -> MemoryResult:
    request = turn.request
    if isinstance(request, Remember):
        if not write:
            return MemoryResult(reply="Not remembered: writing to memory is off for this request.")
        written = await mem.remember(request.text, turn.images, request.kind)
        ids = " ".join(f"[{i.id}]" for i in written)
        return MemoryResult(written=written, reply=f"Remembered {ids}: {request.text}")
    if isinstance(request, Forget):
        if not write:
            return MemoryResult(reply="Nothing forgotten: writing to memory is off for this request.")
        count = await mem.forget(list(request.ids) or None, request.query or None, request.everything)
        return MemoryResult(forgotten=count, reply=f"Forgot {count} {'memory' if count == 1 else 'memories'}.")
    if turn.blind:
        return MemoryResult(reply=NOTHING_RECALLED)
    allowed = set(turn.in_prompt)
    cited = cited_ids(answer_text, allowed)
    return MemoryResult(cited=cited, used=cited or turn.in_prompt)


async def answer_turn(
    mem: AsyncMemory, messages: Sequence[Message | dict], recall: bool, write: bool, k: int, sampling: dict[str, Any]
) -> MemoryAnswer:
    """The whole turn for `messages` (the last user message is the question): prepare, the model, finish, and the
    facts fallback described above."""
    if mem.vr is None:
        raise ValueError("answering needs a model: AsyncMemory(..., vr=AsyncVReason)")
    turn = await prepare_turn(mem, messages, recall, k)
    if turn.reply_without_model:
        result = await finish_turn(mem, turn, "", write)
        return MemoryAnswer(result.reply or "", None, [], [], [], result.written, result.forgotten)
    answer = await mem.vr.chat(turn.messages, **sampling)
    result = await finish_turn(mem, turn, answer.text, write)
    text, used = answer.text, result.used
    if not result.cited:
        fact = await fact_answer(mem, turn.question, turn.recalled)
        if fact is not None:
            value, ids = fact
            text = fact_text(answer.text, value, ids)
            result.cited, used = ids, ids
    return MemoryAnswer(text, answer, turn.recalled, result.cited, used, result.written, result.forgotten, turn.related)


def fact_text(answer: str, value: str, ids: Sequence[str]) -> str:
    """The answer with the facts' citations when it says the facts' value as a word of its own ("red", "it was
    red"), else the value with them: an answer "11" or "reddish" does not say "1" or "red"."""
    cite = " ".join(f"[{i}]" for i in ids)
    says = re.search(rf"(?<!\w){re.escape(value.strip())}(?!\w)", answer, re.I) if value.strip() else None
    return f"{answer.strip()} {cite}" if says else f"{value} {cite}"


async def fact_answer(mem: AsyncMemory, question: str, hits: list[RecallHit]) -> tuple[str, list[str]] | None:
    """(value, cited ids) when the question asks for an attribute that the best recalled picture's facts hold."""
    wanted = [name for name, pattern in ATTRIBUTES.items() if pattern.search(question)]
    kind = KIND_COUNT.search(question)
    if kind and kind.group(1).lower() not in ALL_KINDS:
        wanted = [kind.group(1).lower() if name == "count" else name for name in wanted]
    if not wanted:
        return None
    for hit in hits:
        sha = hit.item.image_sha256
        if sha is None:
            continue
        picture = hit.item if hit.item.kind == "image" else await _picture_item(mem, sha)
        facts = (picture.facts.get("facts") or {}) if picture else {}
        for name in wanted:
            if facts.get(name):
                ids = list(dict.fromkeys([hit.id, picture.id]))
                return str(facts[name]), ids
    return None


async def _picture_item(mem: AsyncMemory, sha: str) -> MemoryItem | None:
    return await asyncio.to_thread(mem.store.image_item, mem.user, sha)


def memory_answer_object(text: str, model: str = "") -> Answer:
    """An `Answer` for a turn the model did not take part in (remember/forget confirmations)."""
    start = time.perf_counter()
    return Answer(text, None, "stop", Usage(0, 0), Timings(total_s=time.perf_counter() - start), model=model)
