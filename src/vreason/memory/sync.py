"""`Memory`: the blocking face of `AsyncMemory` for a Python prompt and the CLI, the way `VReason` is of
`AsyncVReason`: each call is awaited on a runner (a VReason's event loop via `vr.run`, else `asyncio.run`).

    mem = vr.memory(user="ana")                        # or Memory(AsyncMemory(open_store(), "ana"))
    mem.remember("this is part #17", images=["part.png"])
    mem.recall("what colour was part #17?")            # [RecallHit(item=MemoryItem(id="m2", ...), ...)]
    mem.answer("what colour was part #17?")            # MemoryAnswer(text="red [m2] [m1]", cited=[...])
    mem.forget(["m2"]); mem.export("ana-memory/")
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from vreason.memory.handle import AsyncMemory, Picture
from vreason.memory.turn import MemoryResult, MemoryTurn
from vreason.memory.types import MemoryAnswer, MemoryItem, MemoryStats, RecallHit, RetentionPolicy

T = TypeVar("T")


class Memory:
    def __init__(self, aio: AsyncMemory, run: Callable[[Awaitable[Any]], Any] | None = None):
        self.aio = aio
        self._run = run or asyncio.run

    def run(self, awaitable: Awaitable[T]) -> T:
        return self._run(awaitable)

    @property
    def user(self) -> str:
        return self.aio.user

    @property
    def session(self) -> str:
        return self.aio.session

    def remember(self, text: str, images: Sequence[Picture] = (), kind: str = "fact") -> list[MemoryItem]:
        return self.run(self.aio.remember(text, images, kind))

    def remember_image(self, image: Picture) -> MemoryItem:
        return self.run(self.aio.remember_image(image))

    def remember_conversation(self, messages: Sequence[Any]) -> MemoryItem:
        return self.run(self.aio.remember_conversation(messages))

    def add_many(
        self,
        texts: Sequence[str],
        kind: str = "fact",
        created_at: Sequence[float] | None = None,
        session: str | None = None,
    ) -> list[MemoryItem]:
        return self.run(self.aio.add_many(texts, kind, created_at, session))

    def recall(self, query: str, images: Sequence[Picture] = (), k: int = 5) -> list[RecallHit]:
        return self.run(self.aio.recall(query, images, k))

    def list(
        self, kind: str | None = None, session: str | None = None, limit: int = 50, offset: int = 0
    ) -> list[MemoryItem]:
        return self.run(self.aio.list(kind, session, limit, offset))

    def get(self, item_id: str | int) -> MemoryItem:
        return self.run(self.aio.get(item_id))

    def image(self, sha256: str, thumbnail: bool = False) -> bytes:
        return self.run(self.aio.image(sha256, thumbnail))

    def stats(self) -> MemoryStats:
        return self.run(self.aio.stats())

    def forget(self, ids: Sequence[str | int] | None = None, query: str | None = None, everything: bool = False) -> int:
        return self.run(self.aio.forget(ids, query, everything))

    def export(self, directory: str | Path) -> Path:
        return self.run(self.aio.export(directory))

    def import_(self, path: str | Path) -> int:
        return self.run(self.aio.import_(path))

    def apply_retention(self, policy: RetentionPolicy) -> int:
        return self.run(self.aio.apply_retention(policy))

    def prepare(self, messages: Sequence[Any], recall: bool = True, k: int = 5) -> MemoryTurn:
        return self.run(self.aio.prepare(messages, recall, k))

    def finish(self, turn: MemoryTurn, answer_text: str, write: bool = True) -> MemoryResult:
        return self.run(self.aio.finish(turn, answer_text, write))

    def answer(
        self,
        question: str,
        images: Sequence[Picture] = (),
        recall: bool = True,
        write: bool = True,
        k: int = 5,
        **sampling: Any,
    ) -> MemoryAnswer:
        return self.run(self.aio.answer(question, images, recall, write, k, **sampling))

    def answer_messages(
        self, messages: Sequence[Any], recall: bool = True, write: bool = True, k: int = 5, **sampling: Any
    ) -> MemoryAnswer:
        return self.run(self.aio.answer_messages(messages, recall, write, k, **sampling))
