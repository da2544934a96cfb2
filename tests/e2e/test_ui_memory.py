"""The web UI's Memory tab in Debian's Chromium driven by Playwright: alice signs in and sees her own items and
picture (never bob's), searches, picks a row and forgets it with two clicks; bob signs in and sees only his.

One server for the module, as `vreason ui --auth alice:wonderland --auth bob:builder` builds it with a memory
store: the built-in demo model and a SQLite store in a temporary folder, filled through the Python API
(`vr.memory(user=...)`, which has the model describe the picture). Screenshots go to test-output/ui/.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.ui_support import ROOT, SHOTS, free_port

pytestmark = pytest.mark.slow

SHAPES = ROOT / "examples" / "shapes.png"
USERS = [("alice", "wonderland"), ("bob", "builder")]
TIMEOUT_MS = 30_000
expect.set_options(timeout=TIMEOUT_MS)


@pytest.fixture(scope="module")
def memory_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("ui-memory")


@pytest.fixture(scope="module")
def ui_url(demo, memory_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from vreason.memory import open_store
    from vreason.ui import build_app, launch

    alice = demo.memory(user="alice", directory=str(memory_dir), session="bench")
    alice.remember("this is part #17", images=[str(SHAPES)])
    alice.remember("the patient is 64")
    demo.memory(user="bob", directory=str(memory_dir)).remember("bob keeps the spare key in drawer 3")
    store = open_store(directory=str(memory_dir))
    app = build_app(demo, data_dir=tmp_path_factory.mktemp("ui-data"), memory=store)
    port = free_port()
    launch(app, host="127.0.0.1", port=port, block=False, quiet=True, auth=USERS)
    yield f"http://127.0.0.1:{port}/"
    app.close()


def _signed_in(browser: Browser, url: str, user: str, password: str) -> Page:
    page = browser.new_context(viewport={"width": 1280, "height": 1000}).new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(url)
    page.get_by_label("username").fill(user)
    page.get_by_label("password").fill(password)
    page.get_by_role("button", name="Login").click()
    page.get_by_role("tab", name="Memory").click()
    return page


def _shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"memory-{name}.png"), full_page=True)


def _rows(page: Page):
    return page.locator("#mem-table .virtual-row")  # Gradio's dataframe draws its rows as a virtual list


def test_alice_browses_searches_and_forgets_only_her_own(browser: Browser, ui_url: str, demo, memory_dir: Path):
    page = _signed_in(browser, ui_url, "alice", "wonderland")
    table = page.locator("#mem-table")
    expect(page.locator("#mem-who")).to_contain_text("alice: 3 items, 1 pictures")
    expect(table).to_contain_text("this is part #17")
    expect(table).to_contain_text("the patient is 64")
    expect(table).not_to_contain_text("spare key")
    expect(page.locator("#mem-pictures img")).to_have_count(1)  # the picture of part #17, as a thumbnail
    _shot(page, "browse")

    page.locator("#mem-query input, #mem-query textarea").first.fill("how old is the patient")
    page.locator("#mem-search").click()
    expect(page.locator("#mem-status")).to_contain_text("found for")
    expect(_rows(page).first).to_contain_text("the patient is 64")
    expect(table).not_to_contain_text("spare key")

    _rows(page).filter(has_text="the patient is 64").locator("[role=gridcell]").first.click()
    ids = page.locator("#mem-ids input, #mem-ids textarea").first
    expect(ids).to_have_value(re.compile(r"^m\d+$"))
    picked = ids.input_value()
    page.locator("#mem-forget").click()
    expect(page.locator("#mem-status")).to_contain_text(f"Forget {picked} for good?")
    page.locator("#mem-forget").click()
    expect(page.locator("#mem-status")).to_contain_text("Forgot 1 item.")
    expect(table).not_to_contain_text("the patient is 64")
    _shot(page, "forgot")

    texts = [item.text for item in demo.memory(user="alice", directory=str(memory_dir)).list()]
    assert "the patient is 64" not in texts
    assert "this is part #17" in texts
    assert [i.text for i in demo.memory(user="bob", directory=str(memory_dir)).list()] == [
        "bob keeps the spare key in drawer 3"
    ]
    page.context.close()


def test_bob_sees_only_his_own_and_cannot_forget_hers(browser: Browser, ui_url: str, demo, memory_dir: Path):
    page = _signed_in(browser, ui_url, "bob", "builder")
    table = page.locator("#mem-table")
    expect(table).to_contain_text("spare key")
    expect(table).not_to_contain_text("part #17")
    expect(page.locator("#mem-pictures img")).to_have_count(0)
    page.locator("#mem-query input, #mem-query textarea").first.fill("part #17")
    page.locator("#mem-search").click()
    expect(page.locator("#mem-status")).to_be_visible()
    expect(table).not_to_contain_text("part #17")

    hers = [i.id for i in demo.memory(user="alice", directory=str(memory_dir)).list()]
    page.locator("#mem-ids input, #mem-ids textarea").first.fill(" ".join(hers))
    page.locator("#mem-forget").click()
    # the second click once the first is answered, as a person clicks (one sent before it is a first click too)
    expect(page.locator("#mem-status")).to_contain_text("for good?")
    page.locator("#mem-forget").click()
    expect(page.locator("#mem-status")).to_contain_text("Nothing of")
    assert [i.id for i in demo.memory(user="alice", directory=str(memory_dir)).list()] == hers
    _shot(page, "bob")
    page.context.close()
