"""Memory over HTTP: the /v1/vreason/memory routes and the chat completions `memory` field, on a real server on
127.0.0.1 over the built-in demo model, a SQLite store in a temporary folder and two API keys (ana, bob).

The done-when of the memory issue, over the server: ana sends part #17's picture with "Remember: this is part
#17" (memory write on), then a later request "what colour was part #17?" answers from memory and cites the
items, through the official `openai` client; bob's key asks the same and gets nothing of ana's.
"""

from __future__ import annotations

import base64
import io
import json
import signal
import subprocess
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest
from PIL import Image

from tests.conftest import png_bytes
from tests.e2e.memory_server import KEYS, MODEL, Served, serve_with_memory

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
SHAPES = (ROOT / "examples" / "shapes.png").read_bytes()  # a red circle: the demo model says "red"
SHAPES_URI = "data:image/png;base64," + base64.b64encode(SHAPES).decode()


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[Served]:
    yield from serve_with_memory(url=None, directory=tmp_path_factory.mktemp("memory"))


def _client(served: Served, user: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=served.url + "/v1", api_key=KEYS[user], max_retries=0)


def _ask(served: Served, user: str, content, memory: dict, **extra):
    return _client(served, user).chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": content}],
        max_tokens=8,
        temperature=0,
        extra_body={"memory": memory},
        **extra,
    )


def test_remember_then_recall_and_cite_over_the_openai_client(served):
    remembered = _ask(
        served,
        "ana",
        [
            {"type": "image_url", "image_url": {"url": SHAPES_URI}},
            {"type": "text", "text": "Remember: this is part #17"},
        ],
        {"write": True},
    )
    report = remembered.model_extra["vreason"]["memory"]
    assert report["user"] == "ana"
    assert len(report["written"]) == 2  # the picture (described by the model) and the fact that links to it
    assert remembered.choices[0].message.content.startswith("Remembered")

    answer = _ask(served, "ana", "what colour was part #17?", {"recall": True})
    report = answer.model_extra["vreason"]["memory"]
    assert "red" in answer.choices[0].message.content.lower()
    assert set(report["written"]) == set()
    assert set(report["cited"]) & set(remembered.model_extra["vreason"]["memory"]["written"])
    assert all(f"[{i}]" in answer.choices[0].message.content for i in report["cited"])

    # The same question with bob's key: nothing of ana's is recalled or cited.
    other = _ask(served, "bob", "what colour was part #17?", {"recall": True})
    assert other.model_extra["vreason"]["memory"] == {
        "user": "bob",
        "recalled": [],
        "cited": [],
        "used": [],
        "written": [],
        "forgotten": 0,
    }


def test_a_completion_without_memory_keeps_the_plain_openai_shape(served):
    reply = _client(served, "ana").chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "hello"}], max_tokens=2
    )
    assert "vreason" not in (reply.model_extra or {})


def test_streaming_carries_the_memory_report_in_a_last_chunk(served):
    httpx.post(
        served.url + "/v1/vreason/memory/items",
        headers=served.auth("ana"),
        json={"text": "the inspector's badge number is 4417"},
    ).raise_for_status()
    chunks = list(_ask(served, "ana", "what is the badge number of the inspector?", {"k": 3}, stream=True))
    reports = [c.model_extra["vreason"] for c in chunks if (c.model_extra or {}).get("vreason")]
    assert len(reports) == 1
    assert chunks[-1].model_extra.get("vreason") == reports[0]
    assert chunks[-1].choices == []
    memory = reports[0]["memory"]
    assert memory["user"] == "ana"
    assert memory["recalled"]
    assert served.get("ana", f"/items/{memory['recalled'][0]}").json()["user"] == "ana"


def test_add_list_show_search_and_forget(served):
    added = served.post("ana", "/items", json={"text": "the patient is 64", "kind": "fact", "session": "s-9"})
    assert added.status_code == 200, added.text
    item = added.json()["data"][0]
    assert (item["user"], item["kind"], item["session"], item["text"]) == ("ana", "fact", "s-9", "the patient is 64")

    listed = served.get("ana", "/items", params={"session": "s-9"}).json()
    assert [i["id"] for i in listed["data"]] == [item["id"]]
    assert served.get("ana", f"/items/{item['id']}").json() == item

    hits = served.post("ana", "/search", json={"query": "how old is the patient", "k": 3}).json()["data"]
    assert hits[0]["id"] == item["id"]
    assert hits[0]["score"] > 0
    assert hits[0]["why"]

    assert served.delete("ana", f"/items/{item['id']}").json() == {"forgotten": 1}
    gone = served.get("ana", f"/items/{item['id']}")
    assert gone.status_code == 404
    assert gone.json()["error"]["code"] == "memory_not_found"


def test_an_uploaded_picture_is_kept_with_its_thumbnail(served):
    upload = served.post(
        "ana",
        "/items",
        data={"text": "the blue part is a spare"},
        files=[("image", ("blue.png", png_bytes((96, 64), (20, 20, 220)), "image/png"))],
    )
    assert upload.status_code == 200, upload.text
    picture, fact = upload.json()["data"]
    assert picture["kind"] == "image"
    assert fact["image_sha256"] == picture["image_sha256"]
    original = served.get("ana", f"/items/{picture['id']}/image")
    assert original.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(original.content)).size == (96, 64)
    thumbnail = served.get("ana", f"/items/{fact['id']}/image", params={"thumbnail": "true"})
    assert thumbnail.headers["content-type"] == "image/jpeg"
    by_query = served.post("ana", "/forget", json={"query": "spare"}).json()
    assert by_query["forgotten"] >= 1
    assert served.get("ana", f"/items/{fact['id']}").status_code == 404


def test_export_then_import_into_another_namespace(served):
    served.post("ana", "/items", json={"text": "the March scan shows a 4 mm nodule"}).raise_for_status()
    exported = served.get("ana", "/export")
    assert exported.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(exported.content)) as archive:
        rows = [json.loads(line) for line in archive.read("memory.jsonl").decode().splitlines() if line.strip()]
        assert any("4 mm nodule" in str(row) for row in rows)
        pictures = [n for n in archive.namelist() if n.startswith("images/")]
        assert pictures  # part #17's picture went with it
    imported = served.post("carol", "/import", content=exported.content, headers={"Content-Type": "application/zip"})
    assert imported.status_code == 200, imported.text
    assert imported.json()["imported"] == len(rows)
    mine = served.get("carol", "/items", params={"limit": 1000}).json()["data"]
    assert {i["user"] for i in mine} == {"carol"}
    assert any("4 mm nodule" in i["text"] for i in mine)


@pytest.mark.parametrize(
    ("method", "path", "body", "param"),
    [
        ("post", "/items", {}, None),
        ("post", "/items", {"text": "x", "kind": "secret"}, "kind"),
        ("post", "/items", {"images": ["file:///etc/passwd"]}, "images"),
        ("post", "/search", {"query": ""}, None),
        ("post", "/forget", {"ids": ["m1"], "everything": True}, None),
        ("get", "/items/not-an-id", None, "id"),
    ],
)
def test_bad_requests_are_openai_shaped_400s(served, method, path, body, param):
    answer = getattr(served, method)("ana", path, **({"json": body} if body is not None else {}))
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["message"]
    if param:
        assert param in (error["param"] or "")


def test_a_key_cannot_name_another_user_in_the_chat_memory_field(served):
    with pytest.raises(openai.BadRequestError) as refused:
        _ask(served, "bob", "what colour was part #17?", {"user": "ana"})
    assert refused.value.body["param"] == "memory.user"
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=served.url + "/v1", api_key="k-nobody", max_retries=0).chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "hi"}], extra_body={"memory": {}}
        )


def test_a_streamed_remember_is_confirmed_without_the_model(served):
    chunks = list(_ask(served, "ana", "Remember: the torque for part #17 is 12 Nm", {"write": True}, stream=True))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    report = chunks[-1].model_extra["vreason"]["memory"]
    assert text.startswith("Remembered")
    assert len(report["written"]) == 1
    assert served.get("ana", f"/items/{report['written'][0]}").json()["text"] == "the torque for part #17 is 12 Nm"


def test_without_write_nothing_is_remembered(served):
    before = served.get("ana", "/stats").json()["items"]
    reply = _ask(served, "ana", "Remember: the gate code is 9911", {"recall": True})
    assert reply.choices[0].message.content.startswith("Not remembered")
    assert reply.model_extra["vreason"]["memory"]["written"] == []
    assert served.get("ana", "/stats").json()["items"] == before


def test_a_server_without_a_store_says_memory_is_off():
    from tests.e2e.demo_server import serve_demo

    for url in serve_demo():
        listed = httpx.get(url + "/v1/vreason/memory/items")
        assert listed.status_code == 404
        assert listed.json()["error"]["code"] == "memory_disabled"
        chat = httpx.post(
            url + "/v1/chat/completions",
            json={"model": "vreason-demo", "messages": [{"role": "user", "content": "hi"}], "memory": {}},
        )
        assert chat.status_code == 404
        assert chat.json()["error"]["code"] == "memory_disabled"


@pytest.mark.parametrize(
    ("spec", "pair"),
    [
        ("k-1=ana", ("k-1", "ana")),
        ("k-1", ("k-1", "local")),
        ("YWJj==", ("YWJj==", "local")),
        ("a=b=bob", ("a=b", "bob")),
    ],
)
def test_api_key_specs_name_their_user(spec, pair):
    from vreason.server.users import parse_key

    assert parse_key(spec) == pair


def test_a_keys_file_and_conflicting_keys(tmp_path):
    from vreason.errors import InvalidRequestError
    from vreason.server import ServerSettings
    from vreason.server.users import read_keys_file

    keys = tmp_path / "keys"
    keys.write_text("# team\nk-ana=ana\n\nk-bob=bob\n")
    assert read_keys_file(keys) == [("k-ana", "ana"), ("k-bob", "bob")]
    settings = ServerSettings(api_key="solo", api_keys=(("k-ana", "ana"),))
    assert settings.key_users() == {"solo": "local", "k-ana": "ana"}
    with pytest.raises(InvalidRequestError, match="two users"):
        ServerSettings(api_keys=(("k", "ana"), ("k", "bob")))
    with pytest.raises(InvalidRequestError, match="not a valid name"):
        ServerSettings(api_keys=(("k", "ana smith"),))


@pytest.mark.heavy
def test_vreason_serve_with_memory_and_keyed_users(tmp_path):
    """`vreason serve --memory-dir DIR --api-key KEY=USER` as a user runs it: ana's fact is hers alone, and it is
    still there for a second server process on the same folder."""
    from tests.e2e.test_server_cli import READY, START_TIMEOUT_S, VREASON, _lines

    keys = tmp_path / "keys.txt"
    keys.write_text("# one key a user\nk-bob=bob\n")
    command = [
        *VREASON,
        "serve",
        "--port",
        "0",
        "--memory-dir",
        str(tmp_path / "memory"),
        "--api-key",
        "k-ana=ana",
        "--api-keys-file",
        str(keys),
    ]
    # The first write loads the embedding model: seconds on a busy box, past httpx's 5 s default.
    http = httpx.Client(timeout=120)
    for round_ in range(2):
        process = subprocess.Popen(command, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
        try:
            lines, seen, match = _lines(process.stderr), [], None
            while match is None:
                line = lines.get(timeout=START_TIMEOUT_S)
                assert line is not None, "".join(seen)
                seen.append(line)
                match = READY.search(line)
            assert "API key required (users: ana, bob)" in seen[-1]
            assert "memory in" in seen[-1]
            base = match.group(2) + "/vreason/memory"
            ana, bob = ({"Authorization": f"Bearer k-{u}"} for u in ("ana", "bob"))
            if round_ == 0:
                http.post(base + "/items", headers=ana, json={"text": "the patient is 64"}).raise_for_status()
            texts = [i["text"] for i in http.get(base + "/items", headers=ana).json()["data"]]
            assert texts == ["the patient is 64"]
            assert http.get(base + "/items", headers=bob).json()["data"] == []
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)
    http.close()


def test_serve_refuses_bad_key_flags_before_loading(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from vreason.cli.app import app
    from vreason.errors import VReasonError

    monkeypatch.delenv("VREASON_API_KEY", raising=False)
    for flags, needle in (
        (["--api-key", "k=ana smith"], "not a valid name"),
        (["--api-keys-file", str(tmp_path / "none.txt")], "cannot read the API keys file"),
        (["--api-key", "k=ana", "--api-key", "k=bob"], "two users"),
    ):
        result = CliRunner().invoke(app, ["serve", *flags])
        assert isinstance(result.exception, VReasonError), result.output
        assert needle in str(result.exception)
        assert "loading" not in result.output


def test_an_import_zip_writes_only_the_store_files(tmp_path):
    from vreason.server.errors import ApiError
    from vreason.server.memory_transfer import unpack

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("memory.jsonl", '{"kind": "fact"}\n')
        archive.writestr("images/" + "ab" * 32 + ".png", b"png bytes")
        for name in ("../escaped.txt", "images/../../escaped2.txt", "images/notes.txt", "other/x.png", "/abs.txt"):
            archive.writestr(name, b"not the store's")
    folder = tmp_path / "in"
    folder.mkdir()
    assert unpack(buffer.getvalue(), folder) == folder / "memory.jsonl"
    written = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file())
    assert written == ["in/images/" + "ab" * 32 + ".png", "in/memory.jsonl"]
    for bad in (b"PK\x03\x04 not really a zip", b"\x89PNG\r\n\x1a\n"):
        with pytest.raises(ApiError) as refused:
            unpack(bad, folder)
        assert refused.value.status == 400


def test_fifty_parallel_writes_of_one_user_all_land(served):
    from concurrent.futures import ThreadPoolExecutor

    texts = [f"batch-7 reading {i} is {i * 3} volts" for i in range(50)]
    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(lambda t: served.post("dave", "/items", json={"text": t, "session": "b7"}), texts))
    assert [a.status_code for a in answers] == [200] * 50
    ids = {a.json()["data"][0]["id"] for a in answers}
    listed = served.get("dave", "/items", params={"session": "b7", "limit": 100}).json()["data"]
    assert len(ids) == 50
    assert {i["id"] for i in listed} == ids
    assert sorted(i["text"] for i in listed) == sorted(texts)


@pytest.mark.heavy
def test_schemathesis_finds_nothing_in_the_memory_routes(served, tmp_path):
    """Every schemathesis check on /v1/vreason/memory/* of a server that keeps memory (tests/e2e/
    test_openapi_truth.py fuzzes a server without a store, where these routes answer 404 memory_disabled)."""
    import os
    import sys

    cli = Path(sys.executable).with_name("schemathesis")
    command = [
        str(cli),
        "--config-file",
        str(ROOT / "schemathesis.toml"),
        "run",
        served.url + "/openapi.json",
        "--checks",
        "all",
        "--max-examples",
        "25",
        "--max-time",
        "30",
        "--workers",
        "2",
        "--seed",
        "20261201",
        "--request-timeout",
        "60",
        "--include-path-regex",
        "/memory/",
        "-H",
        f"Authorization: Bearer {KEYS['ana']}",
    ]
    env = {**os.environ, "HYPOTHESIS_STORAGE_DIRECTORY": str(tmp_path / "hypothesis"), "NO_COLOR": "1"}
    result = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=200)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
