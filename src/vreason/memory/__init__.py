"""Multimodal memory across sessions: per-user pictures, facts, corrections and conversation notes, recalled
into prompts with ids the answers cite, forgotten on request.

    store = open_store()                                    # SQLite under ~/.local/share/vreason, or a URL
    mem = AsyncMemory(store, user="ana", vr=async_vreason)  # or vr.memory(user="ana") for the blocking Memory
    await mem.remember("this is part #17", images=["part.png"])
    hits = await mem.recall("what colour was part #17?")    # [RecallHit(item=MemoryItem(id="m2", ...), ...)]

Files: types.py (dataclasses), location.py (where the store is, and the engine that opens it), schema.py (tables,
migrations), store.py (SQLAlchemy reads/writes, one namespace per call), images.py (content hash, thumbnail,
pHash), embedding.py (MiniLM), vector_index.py (per-user matrices), text_search.py (FTS5 / tsvector), recall.py
(hybrid score), prompt.py (requests, notes, citations), notes.py (a conversation condensed), describe.py (the
model's description and facts of a new picture), turn.py (a chat turn with memory), handle.py (`AsyncMemory`),
sync.py (`Memory`), transfer.py (export/import), retention.py (limits).
"""

from vreason.memory.handle import AsyncMemory
from vreason.memory.store import MemoryStore, open_store
from vreason.memory.sync import Memory
from vreason.memory.turn import MemoryResult, MemoryTurn
from vreason.memory.types import (
    MemoryAnswer,
    MemoryItem,
    MemoryNotFoundError,
    MemoryStats,
    RecallHit,
    RetentionPolicy,
)

__all__ = [
    "AsyncMemory",
    "Memory",
    "MemoryAnswer",
    "MemoryItem",
    "MemoryNotFoundError",
    "MemoryResult",
    "MemoryStats",
    "MemoryStore",
    "MemoryTurn",
    "RecallHit",
    "RetentionPolicy",
    "open_store",
]
