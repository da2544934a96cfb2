"""The memory layer's small dataclasses: what a store returns and what the surfaces print or send.

An item's public id is `m<row id>` ("m42"); ids are global integers, but every lookup is also filtered by the
user's namespace, so another user's id is simply "not found". Times are UTC.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from vreason.errors import InvalidRequestError, VReasonError

if TYPE_CHECKING:
    from vreason.engine.types import Answer

KINDS = ("image", "fact", "correction", "note")
USER_PATTERN = re.compile(r"^[A-Za-z0-9_.@-]{1,128}$")
ID_PATTERN = re.compile(r"^m?(\d{1,18})$")


class MemoryNotFoundError(VReasonError):
    """An item id that this user's memory does not hold (unknown, forgotten, or another user's)."""


def check_user(user: str | None) -> str:
    if not user or not USER_PATTERN.match(user):
        raise InvalidRequestError(
            f"memory user {user!r}: give 1-128 characters of letters, digits, '_', '.', '@' or '-'", param="user"
        )
    return user


def check_kind(kind: str) -> str:
    if kind not in KINDS:
        raise InvalidRequestError(f"memory kind {kind!r}: one of {', '.join(KINDS)}", param="kind")
    return kind


def parse_id(value: str | int) -> int:
    """42, "42" or "m42" -> 42; anything else is a one-line error."""
    match = ID_PATTERN.match(str(value).strip())
    if not match:
        raise InvalidRequestError(f"memory id {value!r}: expected an id like m42", param="id")
    return int(match.group(1))


def utc(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, tz=timezone.utc)


@dataclass(frozen=True)
class MemoryItem:
    id: str  # "m42"
    user: str
    session: str
    kind: str  # image | fact | correction | note
    text: str  # an image's description, a fact as stated, a note's condensed turns
    created_at: datetime
    source: str  # cli | api | server | ui | import
    image_sha256: str | None = None  # the picture this item is about (image items: their own)
    facts: dict[str, Any] = field(default_factory=dict)  # an image's extracted facts; links to other images
    bytes: int = 0  # what this item costs: its text and embedding (images are counted once, by the store)

    @property
    def row_id(self) -> int:
        return int(self.id[1:])

    def note(self, related: str | None = None) -> str:
        """The line that stands for this item in a prompt: `[m42] 2026-11-30, session 3: part #17 is red`."""
        body = self.text if self.kind != "image" else f"picture: {self.text}"
        if self.kind == "correction":
            body = f"correction: {body}"
        facts = self.facts.get("facts") if self.kind == "image" else None
        if facts:
            body += " (" + "; ".join(f"{k}: {v}" for k, v in facts.items()) + ")"
        if related:
            body += f" [{related}]"
        return f"[{self.id}] {self.created_at:%Y-%m-%d}, session {self.session}: {body}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "user": self.user,
            "session": self.session,
            "kind": self.kind,
            "text": self.text,
            "created_at": self.created_at.isoformat(),
            "source": self.source,
            "image_sha256": self.image_sha256,
            "facts": self.facts,
            "bytes": self.bytes,
        }


@dataclass(frozen=True)
class RecallHit:
    item: MemoryItem
    score: float
    why: tuple[str, ...]  # which signals found it: "text", "embedding", "image" (same picture), "similar" (picture)

    @property
    def id(self) -> str:
        return self.item.id

    def to_dict(self) -> dict[str, Any]:
        return {**self.item.to_dict(), "score": round(self.score, 4), "why": list(self.why)}


@dataclass(frozen=True)
class MemoryStats:
    items: int
    images: int
    bytes: int  # item text + embeddings + image originals and thumbnails
    oldest: datetime | None
    newest: datetime | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "items": self.items,
            "images": self.images,
            "bytes": self.bytes,
            "oldest": self.oldest.isoformat() if self.oldest else None,
            "newest": self.newest.isoformat() if self.newest else None,
        }


@dataclass(frozen=True)
class RetentionPolicy:
    """Per-namespace limits; the oldest items go first. None: no limit."""

    max_age_days: float | None = None
    max_items: int | None = None
    max_bytes: int | None = None

    def __post_init__(self) -> None:
        for name in ("max_age_days", "max_items", "max_bytes"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise InvalidRequestError(f"{name} ({value}) must be >= 0", param=name)


@dataclass
class MemoryAnswer:
    """One turn with memory: the text to show, the recalled items, the ids the answer cites."""

    text: str
    answer: Answer | None  # None when the turn was a remember/forget request answered without the model
    recalled: list[RecallHit] = field(default_factory=list)
    cited: list[str] = field(default_factory=list)  # ids written in the answer (and recalled)
    used: list[str] = field(default_factory=list)  # cited, else the ids put into the prompt
    written: list[MemoryItem] = field(default_factory=list)
    forgotten: int = 0
    related: list[MemoryItem] = field(default_factory=list)  # pictures the recalled items are about

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "recalled": [h.to_dict() for h in self.recalled],
            "related": [i.to_dict() for i in self.related],
            "cited": self.cited,
            "used": self.used,
            "written": [i.to_dict() for i in self.written],
            "forgotten": self.forgotten,
        }
