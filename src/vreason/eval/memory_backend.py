"""The memory benchmark's store: vreason.memory's `AsyncMemory`, one fresh SQLite store per run, seen through
the small interface eval/memory_items.py asks for (`MemoryBackend`).

A turn is written the way a chat turn is: its text is read for a remember request (`parse_request`: "Remember:
this is part #17." stores "this is part #17.", with the turn's picture, described by the model when first
seen); small talk stores nothing. Each (user, session) gets its own handle, so items carry the session.
A recalled picture is read back from the store (not from the benchmark's files) and kept once under
STORE/recalled/ so reports can show it; the name the user gave a picture is read from the fact items about it
(an image item's own text is the model's description).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING

from vreason.eval.memory_file import Question, Turn
from vreason.eval.memory_items import Recalled

if TYPE_CHECKING:
    from vreason.async_api import AsyncVReason
    from vreason.memory import AsyncMemory, MemoryAnswer, MemoryItem


class StoreBackend:
    def __init__(self, vr: AsyncVReason, directory: Path):
        from vreason.memory import open_store

        directory.mkdir(parents=True, exist_ok=True)
        self.vr = vr
        self.directory = directory
        self.store = open_store(directory=str(directory))
        self.handles: dict[tuple[str, int], AsyncMemory] = {}

    def handle(self, user: str, session: int) -> AsyncMemory:
        from vreason.memory import AsyncMemory

        key = (user, session)
        if key not in self.handles:
            self.handles[key] = AsyncMemory(self.store, user=user, vr=self.vr, session=f"s{session}", source="eval")
        return self.handles[key]

    async def write(self, turn: Turn) -> list[str]:
        from vreason.memory.prompt import Remember, parse_request

        request = parse_request(turn.text)
        if not isinstance(request, Remember):
            return []
        mem = self.handle(turn.user, turn.session)
        items = await mem.remember(request.text, images=[turn.image] if turn.image else [], kind=request.kind)
        return [item.id for item in items]

    async def recall(self, question: Question, k: int) -> list[Recalled]:
        mem = self.handle(question.user, question.session)
        hits = await mem.recall(question.question, images=[question.image] if question.image else [], k=k)
        return [await self._recalled(mem, hit.item) for hit in hits]

    async def answer(self, question: Question, k: int, sampling: dict) -> MemoryAnswer:
        """The product's own turn: recall, notes and pictures in the prompt, the model, citations (no writes)."""
        mem = self.handle(question.user, question.session)
        return await mem.answer(
            question.question,
            images=[question.image] if question.image else [],
            recall=True,
            write=False,
            k=k,
            **sampling,
        )

    async def _recalled(self, mem: AsyncMemory, item: MemoryItem) -> Recalled:
        if item.image_sha256 is None:
            return Recalled(item.id, item.text, None, item.text)
        path = self.directory / "recalled" / f"{item.image_sha256}.img"
        if not path.exists():
            path.parent.mkdir(exist_ok=True)
            path.write_bytes(await mem.image(item.image_sha256))
        stated = item.text
        if item.kind == "image":  # the name the user gave it lives in the facts stated about it
            about = await asyncio.to_thread(self._stated_about, item)
            stated = about or ""
        return Recalled(item.id, item.text, str(path), stated)

    def _stated_about(self, item: MemoryItem) -> str:
        rows = self.store.by_pictures(item.user, [item.image_sha256])
        found = self.store.by_ids(item.user, rows)
        return " ".join(i.text for _, i in sorted(found.items()) if i.kind != "image")

    def close(self) -> None:
        self.store.close()
