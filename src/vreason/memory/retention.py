"""Retention limits per namespace: items older than `max_age_days`, beyond the newest `max_items`, or beyond
`max_bytes` in all (item text, embeddings, pictures) are hard-deleted, oldest first. A picture's bytes count
with its image item, so dropping the item frees them (the store removes pictures nothing refers to).
"""

from __future__ import annotations

import time

from vreason.memory.store import MemoryStore
from vreason.memory.types import RetentionPolicy


def apply_retention(store: MemoryStore, user: str, policy: RetentionPolicy, now: float | None = None) -> int:
    """The number of items deleted."""
    now = time.time() if now is None else now
    rows, picture_bytes = store.sizes(user)
    doomed: set[int] = set()
    if policy.max_age_days is not None:
        cutoff = now - policy.max_age_days * 86400
        doomed.update(r.id for r in rows if r.created_at < cutoff)
    if policy.max_items is not None and len(rows) > policy.max_items:
        doomed.update(r.id for r in rows[: len(rows) - policy.max_items])
    if policy.max_bytes is not None:

        def cost(row) -> int:
            extra = picture_bytes.get(row.image_sha256, 0) if row.kind == "image" else 0
            return row.bytes + extra

        total = sum(cost(r) for r in rows if r.id not in doomed)
        for row in rows:
            if total <= policy.max_bytes:
                break
            if row.id not in doomed:
                doomed.add(row.id)
                total -= cost(row)
    return store.delete(user, doomed) if doomed else 0
