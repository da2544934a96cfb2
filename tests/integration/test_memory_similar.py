"""Similar-picture recall with the built-in demo model: a picture stored with a local model keeps the checkpoint's
pooled vision features; a question with another drawing of the same shape and colour (elsewhere, another size)
recalls it ("similar"), a different shape and colour does not, another user's picture never comes back, the same
picture still comes by its perceptual hash ("image"), and a store from before the vision column opens and keeps
working (pHash alone for its old pictures)."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageDraw
from sqlalchemy import text

from vreason.memory import AsyncMemory
from vreason.memory.location import connect
from vreason.memory.recall import SIMILAR_COSINE
from vreason.memory.schema import MIGRATIONS, SCHEMA_VERSION, schema_version
from vreason.memory.store import MemoryStore


def drawing(shape: str, colour: str, centre: tuple[int, int], radius: int) -> bytes:
    image = Image.new("RGB", (448, 448), "white")
    draw = ImageDraw.Draw(image)
    x, y = centre
    if shape == "circle":
        draw.ellipse([x - radius, y - radius, x + radius, y + radius], fill=colour)
    else:
        draw.polygon([(x, y - radius), (x - radius, y + radius), (x + radius, y + radius)], fill=colour)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


RED_CIRCLE = drawing("circle", "red", (150, 150), 80)
ANOTHER_RED_CIRCLE = drawing("circle", "red", (300, 280), 120)  # elsewhere, larger
BLUE_TRIANGLE = drawing("triangle", "blue", (224, 224), 100)


@pytest.fixture(scope="module")
def demo():
    from vreason import VReason

    return VReason()


@pytest.fixture
def store(tmp_path):
    store = MemoryStore(f"sqlite:///{tmp_path / 'memory.sqlite3'}", embedder=None)
    yield store
    store.close()


def test_a_similar_picture_is_recalled_a_different_one_is_not(demo, store):
    vectors = [demo.run(demo.aio.image_embedding(p)) for p in (RED_CIRCLE, ANOTHER_RED_CIRCLE, BLUE_TRIANGLE)]
    assert all(v.dtype == np.float32 and abs(float(np.linalg.norm(v)) - 1) < 1e-4 for v in vectors)
    similar, different = float(vectors[0] @ vectors[1]), float(vectors[0] @ vectors[2])
    assert different < SIMILAR_COSINE <= similar, (similar, different)

    ana = AsyncMemory(store, "ana", demo.aio)
    picture, fact = demo.run(ana.remember("part #17", images=[RED_CIRCLE]))
    assert (picture.kind, fact.image_sha256) == ("image", picture.image_sha256)

    hits = demo.run(ana.recall("", images=[ANOTHER_RED_CIRCLE]))
    assert {h.id for h in hits} == {picture.id, fact.id}  # the picture and what was said about it
    assert {h.why for h in hits} == {("similar",)}
    assert demo.run(ana.recall("", images=[BLUE_TRIANGLE])) == []

    same = demo.run(ana.recall("", images=[RED_CIRCLE]))
    assert {h.id for h in same} == {picture.id, fact.id}
    assert {h.why for h in same} == {("image",)}  # the same picture: by its pHash, and scored above a similar one
    assert min(h.score for h in same) > max(h.score for h in hits)


def test_another_users_picture_never_comes_by_similarity(demo, store):
    ana = AsyncMemory(store, "ana", demo.aio)
    bob = AsyncMemory(store, "bob", demo.aio)
    demo.run(ana.remember_image(RED_CIRCLE))
    assert demo.run(bob.recall("", images=[ANOTHER_RED_CIRCLE])) == []
    assert demo.run(bob.recall("", images=[RED_CIRCLE])) == []


def test_without_a_local_model_pictures_match_by_hash_alone(demo, store):
    ana = AsyncMemory(store, "ana")  # no model: no description, no vision features
    picture = demo.run(ana.remember_image(RED_CIRCLE))
    assert store.picture_vectors("ana", demo.model_name) == []
    with_model = AsyncMemory(store, "ana", demo.aio)
    assert demo.run(with_model.recall("", images=[ANOTHER_RED_CIRCLE])) == []
    assert [h.id for h in demo.run(with_model.recall("", images=[RED_CIRCLE]))] == [picture.id]


def test_a_store_from_before_the_vision_column_opens(demo, tmp_path):
    url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    engine = connect(url)
    with engine.connect().execution_options(immediate=True) as conn, conn.begin():
        schema_version.create(conn)
        for _, step in MIGRATIONS[:3]:
            step(conn)
        for column in ("vision", "vision_model"):  # the images table as version 3 created it
            conn.exec_driver_sql(f"ALTER TABLE images DROP COLUMN {column}")
        conn.execute(schema_version.insert().values(version=3))
    engine.dispose()
    old = MemoryStore(url, embedder=None)
    old_picture = demo.run(AsyncMemory(old, "ana").remember_image(BLUE_TRIANGLE))
    old.close()

    store = MemoryStore(url, embedder=None)
    with store.engine.connect() as conn:
        assert conn.execute(text("SELECT version FROM schema_version")).scalar() == SCHEMA_VERSION
    ana = AsyncMemory(store, "ana", demo.aio)
    new_picture = demo.run(ana.remember_image(RED_CIRCLE))
    assert [sha for sha, _ in store.picture_vectors("ana", demo.model_name)] == [new_picture.image_sha256]
    assert [h.id for h in demo.run(ana.recall("", images=[BLUE_TRIANGLE]))] == [old_picture.id]  # by its pHash
    assert [h.id for h in demo.run(ana.recall("", images=[ANOTHER_RED_CIRCLE]))] == [new_picture.id]
    store.close()
