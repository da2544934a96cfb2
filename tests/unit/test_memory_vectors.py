"""The per-user vector cache stays current across store objects (another process writing, deleting) and reads
only what is new when rows were only added."""

from __future__ import annotations

import numpy as np

from vreason.memory.store import MemoryStore, NewItem


def note(text: str) -> NewItem:
    return NewItem("s", "fact", text, "api")


def test_cache_follows_writes_and_deletes_of_other_store_objects(tmp_path, embedder):
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
