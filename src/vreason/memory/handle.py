"""`AsyncMemory`: one user's memory, the async interface every surface uses (server routes, the Python API's
sync `Memory`, the CLI through it).

Store calls run in worker threads (`asyncio.to_thread`), so a recall or a write never blocks the event loop the
engine's streams share. A handle writes nothing on its own: only `remember*`, `add_many`, `import_` and a
turn's remember request (turn.py) store anything. Pictures are described by the model only when first stored
for this user (by content hash), and then, with a local model, keep its pooled vision features ("a similar
picture" in recall).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vreason.errors import InvalidRequestError
from vreason.media import ImageSource, PreparedImage
from vreason.memory.describe import describe_picture
from vreason.memory.images import stored_image, with_vision
from vreason.memory.recall import recall
from vreason.memory.retention import apply_retention
from vreason.memory.store import MemoryStore, NewItem
from vreason.memory.transfer import export_user, import_user
from vreason.memory.types import (
    MemoryAnswer,
    MemoryItem,
    MemoryStats,
    RecallHit,
    RetentionPolicy,
    check_kind,
    check_user,
    parse_id,
)

if TYPE_CHECKING:
    from vreason.async_api import AsyncVReason
    from vreason.engine.types import Message
    from vreason.memory.turn import MemoryResult, MemoryTurn

Picture = ImageSource | PreparedImage
SOURCES = ("cli", "api", "server", "ui", "import", "eval")


class AsyncMemory:
    def __init__(
        self,
        store: MemoryStore,
        user: str,
        vr: AsyncVReason | None = None,
        session: str | None = None,
        source: str = "api",
    ):
        self.store = store
        self.user = check_user(user)
        self.vr = vr
        self.session = session or uuid.uuid4().hex[:8]
        self.source = source if source in SOURCES else "api"

    # --- writing ------------------------------------------------------------------------------------------

    async def remember(self, text: str, images: Sequence[Picture] = (), kind: str = "fact") -> list[MemoryItem]:
        """Store `text` as a fact/correction/note, about `images` (each stored and described once)."""
        check_kind(kind)
        if kind == "image":
            raise ValueError("use remember_image for pictures")
        text = " ".join(text.split())
        pictures = [await self.remember_image(image) for image in images]
        if not text:
            return pictures
        item = NewItem(
            self.session,
            kind,
            text,
            self.source,
            image_sha256=pictures[0].image_sha256 if pictures else None,
            facts={"images": [p.id for p in pictures]} if pictures else {},
        )
        written = await asyncio.to_thread(self.store.add, self.user, [item])
        return [*pictures, *written]

    async def remember_image(self, image: Picture) -> MemoryItem:
        """The picture's item: the existing one if this user stored the same picture before, else a new one with
        the model's description and facts (no model: no description)."""
        prepared = image if isinstance(image, PreparedImage) else await self._prepare(image)
        picture = await asyncio.to_thread(stored_image, image if not isinstance(image, PreparedImage) else prepared)
        existing = await asyncio.to_thread(self.store.image_item, self.user, picture.sha256)
        if existing is not None:
            return existing
        description, facts = ("a picture", {})
        if self.vr is not None:
            description, facts = await describe_picture(self.vr, prepared)
            vector = await self.vr.image_embedding(prepared)  # None: no local vision tower, pHash alone
            if vector is not None:
                picture = with_vision(picture, vector, self.vr.model_name)
        item = NewItem(
            self.session,
            "image",
            description,
            self.source,
            image_sha256=picture.sha256,
            facts={"facts": facts, "width": picture.width, "height": picture.height, "phash": picture.phash},
        )
        (written,) = await asyncio.to_thread(self.store.add, self.user, [item], [picture])
        return written

    async def remember_conversation(self, messages: Sequence[Message | dict[str, Any]]) -> MemoryItem:
        """The conversation condensed into one note (notes.py), for when the user asks to keep it."""
        from vreason.memory.notes import condense

        text = await condense(self.vr, messages)
        if not text.strip():
            raise InvalidRequestError("the conversation is empty: nothing to remember")
        (item,) = await asyncio.to_thread(self.store.add, self.user, [NewItem(self.session, "note", text, self.source)])
        return item

    async def add_many(
        self,
        texts: Sequence[str],
        kind: str = "fact",
        created_at: Sequence[float] | None = None,
        session: str | None = None,
    ) -> list[MemoryItem]:
        """Many text items at once, embedded in batches (benchmarks, imports)."""
        check_kind(kind)
        now = time.time()
        new = [
            NewItem(
                session or self.session,
                kind,
                " ".join(t.split()),
                self.source,
                created_at=created_at[i] if created_at is not None else now,
            )
            for i, t in enumerate(texts)
        ]
        return await asyncio.to_thread(self.store.add, self.user, new)

    # --- reading ------------------------------------------------------------------------------------------

    async def recall(self, query: str, images: Sequence[Picture] = (), k: int = 5) -> list[RecallHit]:
        prepared = [await self._prepare(i) for i in images]
        vision, model = [], None
        if prepared and self.vr is not None:
            vision = [v for v in [await self.vr.image_embedding(p) for p in prepared] if v is not None]
            model = self.vr.model_name
        return await asyncio.to_thread(recall, self.store, self.user, query, prepared, k, None, vision, model)

    async def list(
        self, kind: str | None = None, session: str | None = None, limit: int = 50, offset: int = 0
    ) -> list[MemoryItem]:
        return await asyncio.to_thread(self.store.list, self.user, kind, session, limit, offset)

    async def get(self, item_id: str | int) -> MemoryItem:
        return await asyncio.to_thread(self.store.get, self.user, parse_id(item_id))

    async def image(self, sha256: str, thumbnail: bool = False) -> bytes:
        data, _ = await asyncio.to_thread(self.store.picture, self.user, sha256, thumbnail)
        return data

    async def image_with_type(self, sha256: str, thumbnail: bool = False) -> tuple[bytes, str]:
        return await asyncio.to_thread(self.store.picture, self.user, sha256, thumbnail)

    async def stats(self) -> MemoryStats:
        return await asyncio.to_thread(self.store.stats, self.user)

    # --- forgetting, moving, limits -----------------------------------------------------------------------

    async def forget(
        self, ids: Sequence[str | int] | None = None, query: str | None = None, everything: bool = False
    ) -> int:
        """Hard delete: by ids, by a query (items mentioning all its words, with their pictures), or all."""
        if everything:
            count = await asyncio.to_thread(self.store.delete_all, self.user)
        elif ids:
            count = await asyncio.to_thread(self.store.delete, self.user, [parse_id(i) for i in ids])
        elif query:
            found = await asyncio.to_thread(self.store.text_search, self.user, query, 1000, True)
            count = await asyncio.to_thread(self.store.delete, self.user, [i for i, _ in found], True)
        else:
            return 0
        if count:
            await asyncio.to_thread(self.store.compact)
        return count

    async def export(self, directory: str | Path) -> Path:
        return await asyncio.to_thread(export_user, self.store, self.user, Path(directory))

    async def import_(self, path: str | Path) -> int:
        return await asyncio.to_thread(import_user, self.store, self.user, Path(path))

    async def apply_retention(self, policy: RetentionPolicy) -> int:
        removed = await asyncio.to_thread(apply_retention, self.store, self.user, policy)
        if removed:
            await asyncio.to_thread(self.store.compact)
        return removed

    # --- a chat turn with memory (turn.py) ----------------------------------------------------------------

    async def prepare(
        self, messages: Sequence[Message | dict[str, Any]], recall: bool = True, k: int = 5
    ) -> MemoryTurn:
        from vreason.memory.turn import prepare_turn

        return await prepare_turn(self, messages, recall, k)

    async def finish(self, turn: MemoryTurn, answer_text: str, write: bool = True) -> MemoryResult:
        from vreason.memory.turn import finish_turn

        return await finish_turn(self, turn, answer_text, write)

    async def answer(
        self,
        question: str,
        images: Sequence[Picture] = (),
        recall: bool = True,
        write: bool = True,
        k: int = 5,
        **sampling: Any,
    ) -> MemoryAnswer:
        """A question (with pictures) answered with this user's memory; "Remember: ..." / "Forget ..." are
        carried out when `write` is on. See turn.py."""
        from vreason.async_api import user_message

        return await self.answer_messages([user_message(question, list(images))], recall, write, k, **sampling)

    async def answer_messages(
        self,
        messages: Sequence[Message | dict[str, Any]],
        recall: bool = True,
        write: bool = True,
        k: int = 5,
        **sampling: Any,
    ) -> MemoryAnswer:
        from vreason.memory.turn import answer_turn

        return await answer_turn(self, messages, recall, write, k, sampling)

    async def _prepare(self, image: Picture) -> PreparedImage:
        if isinstance(image, PreparedImage):
            return image
        if self.vr is not None:
            return await self.vr.prepare_image(image)
        from vreason.media import load_image

        return await asyncio.to_thread(load_image, image)
