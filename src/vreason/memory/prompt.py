"""Memory in the conversation: requests recognised in what the user writes, recalled items turned into short
notes with ids, the ids an answer cites read back.

Requests (the start of the user's text, any case): "Remember: X" / "Remember that X" / "Note: X" store X as a
fact (with the turn's images), "Correction: X" / "Actually, X" store a correction, "Forget m42 m43",
"Forget everything" / "Forget all", "Forget X" (the items that mention every word of X, and their pictures).
Notes go into the system message: a header asking for citations, then one line per item, e.g.
`[m42] 2026-11-30, session 3: part #17 is a red hexagon`; a fact about a picture names the picture's item.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from vreason.memory.types import MemoryItem, RecallHit

NOTES_HEADER = (
    "Memories of this user from earlier conversations. Use them if they answer the question, and cite the id of "
    "each one you use, like [m42]:"
)
_REMEMBER = re.compile(r"^\s*(?:please\s+)?(?:remember(?:\s+that)?|note)\s*[:,-]?\s+(?P<body>\S.*)$", re.I | re.S)
_CORRECT = re.compile(r"^\s*(?:correction|actually)\s*[:,-]\s*(?P<body>\S.*)$", re.I | re.S)
_FORGET = re.compile(r"^\s*(?:please\s+)?forget(?:\s+about|\s+that)?\s*[:,-]?\s+(?P<what>\S.*?)[.!]?\s*$", re.I | re.S)
_EVERYTHING = re.compile(r"^(?:everything|all|all memories|all of it|it all)$", re.I)
_IDS = re.compile(r"\bm(\d{1,18})\b")


@dataclass(frozen=True)
class Remember:
    text: str
    kind: str = "fact"  # or "correction"


@dataclass(frozen=True)
class Forget:
    query: str = ""
    ids: tuple[str, ...] = ()
    everything: bool = False


def parse_request(text: str) -> Remember | Forget | None:
    if match := _CORRECT.match(text):
        return Remember(match.group("body").strip(), "correction")
    if match := _REMEMBER.match(text):
        return Remember(match.group("body").strip())
    if match := _FORGET.match(text):
        what = match.group("what").strip()
        if _EVERYTHING.match(what):
            return Forget(everything=True)
        words = re.split(r"[\s,]+(?:and\s+)?", what)
        if all(re.fullmatch(r"\[?m\d{1,18}\]?", w) for w in words if w):
            return Forget(ids=tuple(w.strip("[]") for w in words if w))
        return Forget(query=what)
    return None


def cited_ids(text: str, allowed: set[str] | None = None) -> list[str]:
    """Ids written in an answer ("[m42]", "m42"), in order, once each; only those in `allowed` if given."""
    found = [f"m{n}" for n in _IDS.findall(text)]
    return [i for i in dict.fromkeys(found) if allowed is None or i in allowed]


def notes_block(hits: list[RecallHit], pictures: list[MemoryItem] = ()) -> str:
    """The notes for a prompt: one line per recalled item, then one per picture those items are about (the
    picture's own item: the model's description and facts) when the picture was not recalled itself."""
    if not hits:
        return ""
    items = [h.item for h in hits]
    shown = {i.image_sha256 for i in items if i.kind == "image"}
    extra = [p for p in pictures if p.image_sha256 not in shown]
    by_sha = {i.image_sha256: i.id for i in [*items, *extra] if i.kind == "image"}
    lines = []
    for item in [*items, *extra]:
        related = None
        if item.kind != "image" and item.image_sha256:
            related = f"about picture {by_sha[item.image_sha256]}" if item.image_sha256 in by_sha else None
        lines.append(item.note(related))
    return "\n".join([NOTES_HEADER, *lines])


def recalled_notes(hits: list[RecallHit], related: list[MemoryItem] = (), attached: list[str] = ()) -> str:
    """What memory adds to the system message of a recalled question: `notes_block`, then the line naming the
    pictures sent with the question (`attached`: their ids), if any. The demo model is trained on this text
    (train/memory_rows.py), so both take it from here."""
    notes = notes_block(hits, related)
    if not attached:
        return notes
    return notes + "\nThe pictures of " + ", ".join(f"[{i}]" for i in attached) + " are attached to the question."
