"""The memory store against SQLite and a real PostgreSQL server, the same tests for both: recall by words,
meaning and picture; one user never reaches another's items; pictures stored once; forget is a hard delete;
export/import round trip; retention limits; 50 parallel writers lose nothing; migrations are versioned."""

from __future__ import annotations

import asyncio
import io
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import text

from vreason.memory import AsyncMemory, MemoryNotFoundError, RetentionPolicy
from vreason.memory.schema import SCHEMA_VERSION
from vreason.memory.store import MemoryStore, NewItem

SHAPES = Path(__file__).resolve().parents[2] / "examples" / "shapes.png"


def run(coro):
    return asyncio.run(coro)


def picture(color=(30, 90, 200), size=(96, 64)) -> bytes:
    image = Image.new("RGB", size, (240, 240, 240))
    for x in range(size[0] // 4, size[0] // 2):
        for y in range(size[1] // 4, 3 * size[1] // 4):
            image.putpixel((x, y), color)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def test_recall_by_words_meaning_and_picture(memory_store):
    ana = AsyncMemory(memory_store, "ana", session="s1")
    written = run(ana.remember("this is part #17", images=[str(SHAPES)]))
    assert [i.kind for i in written] == ["image", "fact"]
    run(ana.add_many(["the patient is 64 years old", "the invoice was paid by card", "lunch is at noon"]))
    hits = run(ana.recall("what colour was part #17?"))
    assert hits[0].id == written[1].id
    assert "text" in hits[0].why
    assert hits[0].item.image_sha256 == written[0].image_sha256
    by_meaning = run(ana.recall("how old is the patient"))
    assert by_meaning[0].item.text == "the patient is 64 years old"
    assert "embedding" in by_meaning[0].why
    # the same picture, resized and re-encoded as JPEG: a different file, the same pHash neighbourhood
    small = io.BytesIO()
    Image.open(SHAPES).convert("RGB").resize((200, 200)).save(small, format="JPEG", quality=80)
    by_picture = run(ana.recall("", images=[small.getvalue()]))
    assert {h.id for h in by_picture} == {written[0].id, written[1].id}
    assert all("image" in h.why for h in by_picture)
    assert run(ana.recall("quantum chromodynamics lecture")) == []


def test_another_user_reaches_nothing(memory_store):
    ana = AsyncMemory(memory_store, "ana")
    bob = AsyncMemory(memory_store, "bob")
    items = run(ana.remember("part #17 is a red circle", images=[str(SHAPES)]))
    sha = items[0].image_sha256
    assert run(bob.recall("part #17 red circle")) == []
    assert run(bob.recall("", images=[str(SHAPES)])) == []
    assert run(bob.list()) == []
    for item in items:
        with pytest.raises(MemoryNotFoundError):
            run(bob.get(item.id))
    with pytest.raises(MemoryNotFoundError):
        run(bob.image(sha))
    assert run(bob.forget(ids=[i.id for i in items])) == 0
    assert run(bob.forget(query="part 17")) == 0
    assert run(bob.stats()).items == 0
    assert run(ana.stats()).items == 2  # untouched by bob's forgets
    # bob storing the same picture gets his own copy, described for him
    own = run(bob.remember_image(str(SHAPES)))
    assert own.id not in {i.id for i in items}
    assert run(bob.forget(everything=True)) == 1
    assert run(ana.image(sha))[:4] == b"\x89PNG"


def test_a_picture_is_stored_once_per_user(memory_store):
    ana = AsyncMemory(memory_store, "ana")
    first = run(ana.remember("first look", images=[str(SHAPES)]))
    again = run(ana.remember("second look", images=[SHAPES.read_bytes()]))
    assert first[0].id == again[0].id  # the image item is reused, not described again
    stats = run(ana.stats())
    assert (stats.items, stats.images) == (3, 1)
    data, mime = memory_store.picture("ana", first[0].image_sha256)
    assert data == SHAPES.read_bytes()
    assert mime == "image/png"
    thumb, _ = memory_store.picture("ana", first[0].image_sha256, thumbnail=True)
    assert max(Image.open(io.BytesIO(thumb)).size) <= 256


def test_forget_is_a_hard_delete(memory_store, tmp_path):
    ana = AsyncMemory(memory_store, "ana")
    secret = "the access code is zebra-4417"
    run(ana.remember(secret, images=[picture()]))
    run(ana.add_many(["an unrelated note about lunch"]))
    assert run(ana.recall("access code"))
    assert run(ana.forget(query="access code")) == 2  # the fact and the picture only it referred to
    assert run(ana.recall("access code zebra")) == []
    assert run(ana.stats()).images == 0
    with memory_store.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM items WHERE text LIKE '%zebra%'")).scalar() == 0
        assert conn.execute(text("SELECT count(*) FROM images")).scalar() == 0
        if memory_store.dialect == "sqlite":
            assert conn.execute(text("SELECT count(*) FROM items_fts WHERE items_fts MATCH 'zebra'")).scalar() == 0
    assert len(memory_store.vectors.get("ana").ids) == 1
    if memory_store.dialect == "sqlite":  # no copy left in free pages or the WAL
        path = Path(memory_store.url.removeprefix("sqlite:///"))
        blob = b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
        assert b"zebra" not in blob
        assert picture()[40:80] not in blob


def test_export_then_import_into_another_user(memory_store, tmp_path):
    ana = AsyncMemory(memory_store, "ana", session="monday")
    items = run(ana.remember("this is part #17", images=[str(SHAPES)]))
    run(ana.remember("part #17 was repaired", kind="correction"))
    path = run(ana.export(tmp_path / "out"))
    lines = path.read_text().splitlines()
    assert len(lines) == 3
    assert (tmp_path / "out" / "images" / f"{items[0].image_sha256}.png").read_bytes() == SHAPES.read_bytes()
    carol = AsyncMemory(memory_store, "carol")
    assert run(carol.import_(tmp_path / "out")) == 3
    mine = {i.text: i for i in run(carol.list())}
    assert mine["this is part #17"].session == "monday"
    assert mine["this is part #17"].created_at == items[1].created_at
    assert mine["part #17 was repaired"].kind == "correction"
    picture_item = next(i for i in mine.values() if i.kind == "image")
    assert mine["this is part #17"].facts["images"] == [picture_item.id]  # the link renumbered
    assert run(carol.recall("what about part 17"))[0].item.user == "carol"


def test_retention_by_count_age_and_bytes(memory_store):
    ana = AsyncMemory(memory_store, "ana")
    now = time.time()
    run(ana.add_many([f"note number {i}" for i in range(10)], created_at=[now - (10 - i) * 86400 for i in range(10)]))
    assert run(ana.apply_retention(RetentionPolicy(max_age_days=5.5))) == 5  # 10..6 days old
    assert run(ana.apply_retention(RetentionPolicy(max_items=3))) == 2
    assert [i.text for i in run(ana.list())] == ["note number 9", "note number 8", "note number 7"]
    size = run(ana.stats()).bytes
    assert run(ana.apply_retention(RetentionPolicy(max_bytes=size - 1))) == 1
    assert [i.text for i in run(ana.list())] == ["note number 9", "note number 8"]


def test_fifty_parallel_writers_lose_nothing(memory_store):
    # each writer its own store object (its own connections), all released at once
    stores = [MemoryStore(memory_store.url, embedder=memory_store.embedder) for _ in range(4)]
    barrier = threading.Barrier(50)

    def write(n: int) -> int:
        barrier.wait()
        (item,) = stores[n % 4].add("ana", [NewItem(f"s{n}", "fact", f"parallel fact {n}", "api")])
        return item.row_id

    try:
        with ThreadPoolExecutor(50) as pool:
            ids = list(pool.map(write, range(50)))
    finally:
        for store in stores:
            store.engine.dispose()
    assert len(set(ids)) == 50
    texts = {i.text for i in memory_store.list("ana", limit=100)}
    assert texts == {f"parallel fact {n}" for n in range(50)}
    assert len(memory_store.vectors.get("ana").ids) == 50


def test_schema_is_versioned(memory_store):
    with memory_store.engine.connect() as conn:
        assert conn.execute(text("SELECT version FROM schema_version")).scalar() == SCHEMA_VERSION
        conn.execute(text("UPDATE schema_version SET version = :v"), {"v": SCHEMA_VERSION + 1})
        conn.commit()
    with pytest.raises(Exception, match="newer than this vreason"):
        MemoryStore(memory_store.url, embedder=None)


def test_parallel_writers_of_one_new_picture_store_it_once(memory_store):
    ana = AsyncMemory(memory_store, "ana")
    data = picture((200, 20, 20))

    async def many():
        return await asyncio.gather(*(ana.remember(f"look {n}", images=[data]) for n in range(8)))

    results = run(many())
    assert len({written[0].id for written in results}) == 1  # one image item
    stats = run(ana.stats())
    assert (stats.items, stats.images) == (9, 1)


def test_an_older_store_is_migrated_in_place(memory_store, tmp_path):
    from vreason.memory.location import connect
    from vreason.memory.schema import MIGRATIONS, schema_version

    url = memory_store.url.replace("memory.sqlite3", "old.sqlite3") if memory_store.dialect == "sqlite" else None
    if url is None:  # PostgreSQL: a second fresh database on the same server
        memory_store.close()
        with memory_store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            for table in ("items", "images", "schema_version"):
                conn.exec_driver_sql(f"DROP TABLE {table} CASCADE")
        url = memory_store.url
    engine = connect(url)
    with engine.connect().execution_options(immediate=True) as conn, conn.begin():
        schema_version.create(conn)
        for _, step in MIGRATIONS[:2]:  # a store written by the version before the namespace token
            step(conn)
        conn.execute(schema_version.insert().values(version=2))
        conn.execute(
            text(
                "INSERT INTO items (namespace, session, kind, text, source, created_at, facts, bytes) "
                "VALUES ('ana', 's', 'fact', 'the old kettle is green', 'api', 1.0, '{}', 0)"
            )
        )
    engine.dispose()
    upgraded = MemoryStore(url, embedder=None)
    with upgraded.engine.connect() as conn:
        assert conn.execute(text("SELECT version FROM schema_version")).scalar() == SCHEMA_VERSION
    assert [i for i, _ in upgraded.text_search("ana", "green kettle")] == [1]
    assert upgraded.text_search("bob", "green kettle") == []
    upgraded.close()
