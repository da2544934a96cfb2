"""The per-user vector cache stays current across store objects (another process writing, deleting) and reads
only what is new when rows were only added; it rechecks the database at most once per RECHECK_SECONDS, except
right after a write through its own store. Full-text OR searches over SQLite rank only the rarest words within
RANK_BUDGET rows."""

from __future__ import annotations

import numpy as np

from vreason.memory import text_search, vector_index
from vreason.memory.recall import recall
from vreason.memory.store import MemoryStore, NewItem


def note(text: str) -> NewItem:
    return NewItem("s", "fact", text, "api")


def test_cache_follows_writes_and_deletes_of_other_store_objects(tmp_path, embedder, monkeypatch):
    monkeypatch.setattr(vector_index, "RECHECK_SECONDS", 0.0)  # every lookup checks, as after the interval
    url = f"sqlite:///{tmp_path / 'm.sqlite3'}"
    reader, writer = MemoryStore(url, embedder), MemoryStore(url, embedder)
    first = writer.add("ana", [note("a"), note("b")])
    assert list(reader.vectors.get("ana").ids) == [i.row_id for i in first]
    cached = reader.vectors.get("ana")
    assert reader.vectors.get("ana") is cached  # unchanged: the same object, nothing read
    third = writer.add("ana", [note("c")])
    grown = reader.vectors.get("ana")
    assert list(grown.ids) == [*(i.row_id for i in first), third[0].row_id]
    assert grown.matrix.shape == (3, 384)
    np.testing.assert_array_equal(grown.matrix[:2], cached.matrix)
    writer.delete("ana", [first[0].row_id])
    writer.add("ana", [note("d")])  # same count as before plus one, but a row went away: a full reload
    assert sorted(reader.vectors.get("ana").ids) == sorted([first[1].row_id, third[0].row_id, third[0].row_id + 1])
    writer.add("bob", [note("e")])
    assert len(reader.vectors.get("ana").ids) == 3  # another user's rows are not in ana's matrix
    plain = MemoryStore(url, embedder=None)
    plain.add("ana", [note("no vector")])  # a row without an embedding: counted, not in the matrix
    assert len(reader.vectors.get("ana").ids) == 3


def test_recheck_interval_own_writes_at_once_others_later_and_never_a_forgotten_item(tmp_path, embedder, monkeypatch):
    monkeypatch.setattr(vector_index, "RECHECK_SECONDS", 3600.0)
    url = f"sqlite:///{tmp_path / 'm.sqlite3'}"
    reader, writer = MemoryStore(url, embedder), MemoryStore(url, embedder)
    (red,) = reader.add("ana", [note("the red bicycle is in the garage")])
    assert list(reader.vectors.get("ana").ids) == [red.row_id]
    (blue,) = reader.add("ana", [note("the blue kayak is on the roof")])  # its own write: seen at once
    assert list(reader.vectors.get("ana").ids) == [red.row_id, blue.row_id]
    cached = reader.vectors.get("ana")
    (green,) = writer.add("ana", [note("the green tent is in the attic")])  # another process: seen after the interval
    assert reader.vectors.get("ana") is cached
    writer.delete("ana", [red.row_id])
    found = [h.item.row_id for h in recall(reader, "ana", "where is the bicycle?")]
    assert red.row_id not in found  # still in the cached matrix, but its row is gone: never returned
    monkeypatch.setattr(vector_index, "RECHECK_SECONDS", 0.0)
    assert list(reader.vectors.get("ana").ids) == [blue.row_id, green.row_id]


def test_or_search_ranks_the_rarest_words_within_the_budget(tmp_path, monkeypatch):
    store = MemoryStore(f"sqlite:///{tmp_path / 'm.sqlite3'}", embedder=None)
    rows = store.add("ana", [note(f"part #{n} is a square") for n in range(6)] + [note("part #7 is a red circle")])
    store.add("bob", [note("a red circle") for _ in range(5)])  # another user's rows do not count
    monkeypatch.setattr(text_search, "RANK_BUDGET", 3)
    # "part" (7 rows) and "square" (6) are over the budget: only "red" and "circle" (1 row each) are ranked
    assert store.text_search("ana", "which part is a red square circle?") == [(rows[-1].row_id, 1.0)]
    # a word matching nothing is left out; a lone word over the budget gives its newest rows, all scored 1.0
    assert store.text_search("ana", "part with a unicorn", limit=2) == [(rows[-1].row_id, 1.0), (rows[-2].row_id, 1.0)]
    assert store.text_search("ana", "unicorn zebra") == []
    # one word is always kept (all over the budget: the first), and an AND search keeps every word (it decides
    # what a forget deletes)
    assert len(store.text_search("ana", "square part")) == 6
    assert len(store.text_search("ana", "part square", all_words=True)) == 6
    assert store.text_search("ana", "part circle", all_words=True) == [(rows[-1].row_id, 1.0)]
