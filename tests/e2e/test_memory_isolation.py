"""A key never reaches another user's memory: user B (bob) tries every memory route and chat recall to reach
user A's (ana's) items and gets nothing (404 or empty, never ana's data), on a real server on 127.0.0.1 with one
API key per user, against SQLite and against PostgreSQL (a throwaway cluster, tests/memory_support.py).

Ana keeps a fact, a picture (part #17) with a fact about it, and a remembered chat turn; each test then has bob
list, show, fetch pictures, delete, search (by her words and by her very picture), forget (by id, query,
everything), export, import rows that claim to be hers, chat with recall (by text and by her picture), name
her in the chat `memory` field, and forget by chat; after each, ana's memory is exactly what it was.
"""

from __future__ import annotations

import base64
import io
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from tests.e2e.memory_server import KEYS, MODEL, Served, serve_with_memory
from vreason.memory.turn import NOTHING_RECALLED

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
PART = (ROOT / "examples" / "shapes.png").read_bytes()
PART_URI = "data:image/png;base64," + base64.b64encode(PART).decode()
# words outside the demo model's world of shapes, so that its own answers cannot contain them by chance
SECRET = "part #17 is a red bracket with a crack at the top-left"
ROUTES = [
    ("GET", "/items"),
    ("POST", "/items"),
    ("GET", "/items/m1"),
    ("GET", "/items/m1/image"),
    ("DELETE", "/items/m1"),
    ("POST", "/search"),
    ("POST", "/forget"),
    ("GET", "/export"),
    ("POST", "/import"),
    ("GET", "/stats"),
]


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def served(request, tmp_path_factory) -> Iterator[Served]:
    if request.param == "sqlite":
        yield from serve_with_memory(directory=tmp_path_factory.mktemp("memory"))
    else:
        # postgres_server: tests/memory_support.py's throwaway cluster (a plugin of tests/conftest.py)
        yield from serve_with_memory(url=request.getfixturevalue("postgres_server").create_database())


@pytest.fixture(scope="module")
def ana(served) -> dict:
    """Ana's memory: {"ids": every item id, "picture": the picture item, "fact": the fact about it, "items": all}."""
    served.post("ana", "/items", json={"text": SECRET}).raise_for_status()
    upload = served.post(
        "ana",
        "/items",
        data={"text": "this is part #17", "session": "ana-s1"},
        files=[("image", ("part.png", PART, "image/png"))],
    )
    upload.raise_for_status()
    picture, fact = upload.json()["data"]
    chat(served, "ana", "Remember: the patient is 64", {"write": True})
    items = _everything(served, "ana")
    assert len(items) == 4
    return {"ids": [i["id"] for i in items], "picture": picture, "fact": fact, "items": items}


def _everything(served: Served, user: str) -> list[dict]:
    answer = served.get(user, "/items", params={"limit": 1000})
    assert answer.status_code == 200, answer.text
    return answer.json()["data"]


def _unchanged(served: Served, ana: dict) -> None:
    assert _everything(served, "ana") == ana["items"]
    assert served.get("ana", f"/items/{ana['picture']['id']}/image").content == PART


def _leaks(served: Served, ana: dict, text: str) -> bool:
    """Does `text` (an answer bob got) hold anything of ana's: her words, ids or picture hash?"""
    needles = ["bracket", "crack", "patient", ana["picture"]["image_sha256"]]
    return any(n in text for n in needles) or any(f'"{i}"' in text or f"[{i}]" in text for i in ana["ids"])


def chat(served: Served, user: str, content, memory: dict, key: str | None = None):
    client = openai.OpenAI(base_url=served.url + "/v1", api_key=key or KEYS[user], max_retries=0)
    try:
        return client.chat.completions.create(
            model=MODEL,
            messages=[{"role": "user", "content": content}],
            max_tokens=8,
            temperature=0,
            extra_body={"memory": memory},
        )
    finally:
        client.close()


def test_ana_recalls_and_cites_her_own_part(served, ana):
    answer = chat(served, "ana", "what colour was part #17?", {"recall": True})
    report = answer.model_extra["vreason"]["memory"]
    assert "red" in answer.choices[0].message.content.lower()
    assert set(report["cited"]) <= set(ana["ids"])
    assert report["cited"]


def test_listing_showing_and_pictures_hold_nothing_of_ana(served, ana):
    assert _everything(served, "bob") == []
    assert served.get("bob", "/items", params={"kind": "image"}).json()["data"] == []
    assert served.get("bob", "/items", params={"session": "ana-s1"}).json()["data"] == []
    for item_id in [*ana["ids"], ana["picture"]["id"].removeprefix("m")]:
        for path in (f"/items/{item_id}", f"/items/{item_id}/image", f"/items/{item_id}/image?thumbnail=true"):
            answer = served.get("bob", path)
            assert answer.status_code == 404, (path, answer.text)
            assert answer.json()["error"]["code"] == "memory_not_found"
            assert not _leaks(served, ana, answer.text)
    assert served.get("bob", "/stats").json()["items"] == 0
    _unchanged(served, ana)


def test_search_by_her_words_or_her_picture_finds_nothing(served, ana):
    for body in (
        {"query": SECRET, "k": 50},
        {"query": "part #17", "images": [PART_URI], "k": 50},
        {"images": [PART_URI]},
    ):
        answer = served.post("bob", "/search", json=body)
        assert answer.status_code == 200, answer.text
        assert answer.json()["data"] == []


def test_deleting_and_forgetting_never_touch_her_items(served, ana):
    for item_id in ana["ids"]:
        assert served.delete("bob", f"/items/{item_id}").status_code == 404
    assert served.post("bob", "/forget", json={"ids": ana["ids"]}).json() == {"forgotten": 0}
    assert served.post("bob", "/forget", json={"query": "part #17 bracket patient"}).json() == {"forgotten": 0}
    served.post("bob", "/items", json={"text": "bob's own note"}).raise_for_status()
    assert served.post("bob", "/forget", json={"everything": True}).json() == {"forgotten": 1}
    forgot = chat(served, "bob", "Forget everything", {"write": True})
    assert forgot.model_extra["vreason"]["memory"]["forgotten"] == 0
    _unchanged(served, ana)


def test_his_copy_of_her_picture_is_his_own(served, ana):
    mine = served.post(
        "bob", "/items", data={"text": "a part on my bench"}, files=[("image", ("same.png", PART, "image/png"))]
    ).json()["data"]
    assert {i["user"] for i in mine} == {"bob"}
    assert not set(i["id"] for i in mine) & set(ana["ids"])
    assert served.post("bob", "/forget", json={"everything": True}).json()["forgotten"] == len(mine)
    _unchanged(served, ana)  # the picture both kept is still hers


def test_export_holds_nothing_of_hers(served, ana):
    served.post("bob", "/items", json={"text": "bob's export marker"}).raise_for_status()
    exported = served.get("bob", "/export")
    assert exported.status_code == 200
    with zipfile.ZipFile(io.BytesIO(exported.content)) as archive:
        assert [n for n in archive.namelist() if n.startswith("images/")] == []
        text = archive.read("memory.jsonl").decode()
    assert "bob's export marker" in text
    assert not _leaks(served, ana, text)
    served.post("bob", "/forget", json={"everything": True}).raise_for_status()


def test_importing_rows_that_claim_to_be_hers_lands_in_his_namespace(served, ana):
    row = {**ana["items"][0], "user": "ana", "text": "planted by bob"}
    answer = served.post(
        "bob", "/import", content=(json.dumps(row) + "\n").encode(), headers={"Content-Type": "application/x-ndjson"}
    )
    assert answer.status_code == 200, answer.text
    assert [i["user"] for i in _everything(served, "bob")] == ["bob"]
    _unchanged(served, ana)
    served.post("bob", "/forget", json={"everything": True}).raise_for_status()


def test_chat_recall_by_text_or_picture_brings_nothing_of_hers(served, ana):
    by_picture = [{"type": "image_url", "image_url": {"url": PART_URI}}, {"type": "text", "text": "which part is it?"}]
    for content in ("what colour was part #17? how old is the patient?", by_picture):
        answer = chat(served, "bob", content, {"recall": True, "k": 50})
        report = answer.model_extra["vreason"]["memory"]
        assert report == {"user": "bob", "recalled": [], "cited": [], "used": [], "written": [], "forgotten": 0}
        assert not _leaks(served, ana, answer.choices[0].message.content or "")
        if isinstance(content, str):  # nothing recalled and no picture: the demo model is not asked to guess
            assert answer.choices[0].message.content == NOTHING_RECALLED


def test_naming_her_or_having_no_key_is_refused(served, ana):
    with pytest.raises(openai.BadRequestError) as named:
        chat(served, "bob", "what colour was part #17?", {"user": "ana"})
    assert named.value.body["param"] == "memory.user"
    assert not _leaks(served, ana, str(named.value.body))
    with pytest.raises(openai.AuthenticationError):
        chat(served, "bob", "what colour was part #17?", {"recall": True}, key="k-ana-7f3")  # a near miss
    with httpx.Client(base_url=served.url + "/v1/vreason/memory") as client:
        for method, path in ROUTES:
            for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": f"Basic {KEYS['ana']}"}):
                answer = client.request(method, path, headers=headers)
                assert answer.status_code == 401, (method, path, headers)
                assert not _leaks(served, ana, answer.text)
    _unchanged(served, ana)
