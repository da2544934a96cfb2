"""The web UI as a product, in Debian's Chromium driven by Playwright: login, the conversation sidebar (new,
reopen, rename, delete, export, kept on disk per user), stop, regenerate, edit-and-rerun, safe Markdown, the
stats line under its answer, the model picker and the model card.

One server for the module, as `vreason ui --auth alice:wonderland --auth bob:builder --add-model TINY` builds
it, on 127.0.0.1: the built-in demo model (it answers "red" to "What color is the shape?" on
examples/shapes.png) and the tiny random checkpoint of the test suite, which does not stop by itself (what the
Stop button is tested on). Screenshots go to test-output/ui/ (git-ignored).
"""

from __future__ import annotations

import itertools
import json
import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.ui_support import (
    ROOT,
    SHOTS,
    fill_kept,
    free_port,
    new_conversation,
    open_accordion,
    set_number,
    settled,
)

pytestmark = pytest.mark.slow

SHAPES = ROOT / "examples" / "shapes.png"
USERS = [("alice", "wonderland"), ("bob", "builder")]
TIMEOUT_MS = 30_000
UPLOADS = Path(tempfile.mkdtemp(prefix="vreason-ui-uploads-"))
_upload_numbers = itertools.count()
expect.set_options(timeout=TIMEOUT_MS)  # model answers on a shared 2-core CI box, not 5 s UI reactions



@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("ui-data")


@pytest.fixture(scope="module")
def ui_url(demo, vr, data_dir: Path) -> Iterator[str]:
    from vreason.ui import build_app, launch

    app = build_app([demo, vr], data_dir=data_dir)
    port = free_port()
    launch(app, host="127.0.0.1", port=port, max_file_bytes=demo.engine.policy.max_bytes, block=False, quiet=True,
           auth=USERS)
    yield f"http://127.0.0.1:{port}/"
    app.close()


def _open(browser: Browser, url: str) -> Page:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(url)
    return page


def _login(page: Page, user: str, password: str) -> None:
    page.get_by_label("username").fill(user)
    page.get_by_label("password").fill(password)
    page.get_by_role("button", name="Login").click()


@pytest.fixture(scope="module")
def alice(browser: Browser, ui_url: str) -> Iterator[Page]:
    """Alice's page, not yet logged in: the first test logs in."""
    page = _open(browser, ui_url)
    yield page
    page.context.close()


def _shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"product-{name}.png"), full_page=True)


def _ask(page: Page, question: str, files: list[Path] | None = None) -> None:
    box = page.locator("#chat-input")
    if files:
        # The file input keeps its last files: choosing the same file again changes nothing in Chromium, so each
        # upload is a copy under a new name (the store keeps it once anyway: images are named by content).
        copies = []
        for f in files:
            copy = UPLOADS / f"{next(_upload_numbers)}-{f.name}"
            copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(f, copy)
            copies.append(str(copy))
        box.locator("input[type=file]").set_input_files(copies)
        expect(box.get_by_label("File thumbnail")).to_have_count(len(files))
        expect(box.get_by_label("Uploading")).to_have_count(0)
    box.locator("textarea").fill(question)
    box.locator("textarea").press("Enter")


def _bots(page: Page):
    return page.locator("#chat-history [data-testid=bot]")


def _users(page: Page):
    return page.locator("#chat-history [data-testid=user]")


def _listed(page: Page):
    return page.locator("#chat-list label")


def _start_a_long_answer(page: Page, vr, question: str):
    """In a new conversation, ask the tiny random model (it never stops by itself) for up to 4,000 tokens; returns
    its answer's message once the first words are in."""
    new_conversation(page)
    page.locator("#chat-model input").click()
    page.get_by_role("option", name=vr.model_name).click()
    open_accordion(page, "Sampling", "#chat-max-new-tokens input[type=number]")
    set_number(page, "chat-max-new-tokens", "4000")
    _ask(page, question)
    answer = _bots(page).last
    _wait_for(lambda: answer.count() and len(answer.inner_text()) > 20, "the first streamed words")
    return answer


def _wait_for(condition, what: str, timeout_s: float = 20) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_login_refuses_a_wrong_password_and_lets_the_right_one_in(alice: Page):
    expect(alice.get_by_role("button", name="Login")).to_be_visible()
    expect(alice.locator("#chat-input")).to_have_count(0)
    _login(alice, "alice", "not-her-password")
    expect(alice.get_by_text("Incorrect Credentials")).to_be_visible()
    expect(alice.locator("#chat-input")).to_have_count(0)
    _shot(alice, "login-refused")
    _login(alice, "alice", "wonderland")
    expect(alice.locator("#chat-input textarea")).to_be_visible()
    expect(_listed(alice)).to_have_count(0)  # a new user has no conversations yet


def test_answers_render_markdown_never_html_with_the_stats_under_the_answer(alice: Page):
    alice.get_by_text("Sampling").click()
    set_number(alice, "chat-temperature", "0")
    question = ("What color is the shape? **bold** <b>raw</b> `<i>code</i>` <img src=x onerror=\"window.pwned=1\">"
                "\n- one\n- two")
    _ask(alice, question, [SHAPES])
    expect(_bots(alice)).to_have_count(1)
    asked = _users(alice).last
    expect(asked.locator("strong")).to_have_text("bold")
    expect(asked.locator("li")).to_have_count(2)
    expect(asked.locator("code")).to_have_text("<i>code</i>")
    expect(asked).to_contain_text("<b>raw</b>")  # shown as text, not made bold
    expect(asked.locator("b, i, img")).to_have_count(0)
    assert alice.evaluate("window.pwned") is None
    stats = _bots(alice).last.locator(".vr-stats")
    # "N tokens · S s", and the rate when there was a decode step to time it (a one-token answer has none)
    expect(stats).to_have_text(re.compile(r"^\d+ tokens · [\d.]+ s( · [\d.]+ tokens/s)?\s*$"))
    tokens = int(stats.inner_text().split()[0])
    assert tokens >= 1
    assert ("tokens/s" in stats.inner_text()) == (tokens > 1)
    expect(alice.locator("#chat-status")).not_to_contain_text("tokens")  # not under the input box
    expect(_listed(alice)).to_have_count(1)
    _shot(alice, "chat-markdown")


def test_edit_drops_later_turns_and_regenerate_asks_again(alice: Page, demo, data_dir: Path):
    new_conversation(alice)
    expect(_bots(alice)).to_have_count(0)
    _ask(alice, "What color is the shape?", [SHAPES])
    expect(_bots(alice).last).to_contain_text("red")
    expect(_bots(alice).last.locator(".vr-stats")).to_be_visible()  # the turn is finished and kept
    _ask(alice, "Is the shape blue?")
    expect(_bots(alice)).to_have_count(2)
    expect(_listed(alice)).to_have_count(2)

    # Edit the first question: a click puts it back in the input box; sent, the first turn is asked again with the
    # new text (and its image) and the second turn goes.
    _users(alice).filter(has_text="What color is the shape?").click()
    box = alice.locator("#chat-input textarea")
    expect(box).to_have_value("What color is the shape?")
    expect(alice.locator("#chat-status")).to_contain_text("Editing question 1")
    expect(alice.locator("#chat-edit-cancel")).to_be_visible()
    box.fill("What shape is it?")
    box.press("Enter")
    expect(_users(alice).filter(has_text="What shape is it?")).to_have_count(1)
    expect(_bots(alice)).to_have_count(1)
    expect(_users(alice).filter(has_text="Is the shape blue?")).to_have_count(0)
    expect(_bots(alice).last.locator(".vr-stats")).to_be_visible()
    expect(_users(alice).locator("img")).to_have_count(1)  # the turn kept its image
    saved = [json.loads(p.read_text()) for p in (data_dir / "alice").glob("*.json")]
    edited = next(c for c in saved if c["turns"][0]["question"] == "What shape is it?")
    assert len(edited["turns"]) == 1
    assert edited["turns"][0]["answer"] == _bots(alice).last.locator("p").first.inner_text()

    # Regenerate: the last answer is asked for again (the engine answers once more), nothing else changes.
    finished = demo.engine.stats().finished_total
    _bots(alice).last.hover()
    alice.locator("#chat-history button[aria-label=Retry]").click()
    _wait_for(lambda: demo.engine.stats().finished_total > finished, "the regenerated answer")
    expect(_bots(alice)).to_have_count(1)
    expect(_bots(alice).last.locator(".vr-stats")).to_be_visible()
    _shot(alice, "chat-edited")


def test_sidebar_reopens_renames_exports_deletes_and_keeps_conversations_on_disk(alice: Page, data_dir: Path):
    expect(_listed(alice)).to_have_count(2)
    # the first conversation, reopened once every reply is in (one landing after the fill below puts the old name
    # back in the name box)
    settled(alice, lambda: _listed(alice).filter(has_text="bold").click(), "Reopen")
    expect(_bots(alice)).to_have_count(1)
    expect(_users(alice).locator("strong")).to_have_text("bold")

    open_accordion(alice, "This conversation", "#chat-title input")
    expect(alice.locator("#chat-title input")).to_have_value(re.compile(r"\*\*bold\*\*"))
    fill_kept(alice, "#chat-title input", "Markdown check")
    alice.locator("#chat-rename").click()
    expect(alice.locator("#chat-status")).to_contain_text("Renamed to “Markdown check”")
    expect(_listed(alice).filter(has_text="Markdown check")).to_have_count(1)

    with alice.expect_download() as download:
        alice.locator("#chat-export-md").click()
    markdown = Path(download.value.path()).read_text()
    assert markdown.startswith("# Markdown check")
    assert "## User" in markdown
    assert "## Assistant" in markdown
    with alice.expect_download() as download:
        alice.locator("#chat-export-json").click()
    exported = json.loads(Path(download.value.path()).read_text())
    assert exported["format"] == "vreason-chat"
    assert [m["role"] for m in exported["messages"]] == ["user", "assistant"]
    assert exported["messages"][0]["content"][0]["image_url"]["url"].startswith("data:image/png;base64,")
    _shot(alice, "sidebar")

    # Kept on disk: a fresh page load lists both, newest change first.
    alice.reload()
    expect(_listed(alice)).to_have_count(2)
    expect(_listed(alice).first).to_have_text("Markdown check")

    _listed(alice).first.click()
    expect(_bots(alice)).to_have_count(1)
    open_accordion(alice, "This conversation", "#chat-delete")
    alice.locator("#chat-delete").click()
    expect(alice.locator("#chat-delete")).to_have_text("Click again to delete")  # nothing gone on one click
    expect(_listed(alice)).to_have_count(2)
    alice.locator("#chat-delete").click()
    expect(_listed(alice)).to_have_count(1)
    expect(alice.locator("#chat-delete")).to_have_text("Delete")
    expect(_bots(alice)).to_have_count(0)
    assert len(list((data_dir / "alice").glob("*.json"))) == 1


def test_stop_ends_the_answer_and_aborts_the_engine_request(alice: Page, vr):
    aborted = vr.engine.stats().aborted_total
    answer = _start_a_long_answer(alice, vr, "Tell me a long story.")
    alice.locator("#chat-stop").click()
    expect(alice.locator("#chat-status")).to_contain_text("Stopped")
    _wait_for(lambda: vr.engine.stats().aborted_total == aborted + 1, "the engine to abort the request")
    expect(answer.locator(".vr-stats")).to_contain_text("stopped")
    stopped_at = answer.inner_text()
    alice.wait_for_timeout(1000)
    assert answer.inner_text() == stopped_at  # nothing more arrives
    assert vr.engine.stats().running == 0
    _shot(alice, "chat-stopped")
    # A reopened conversation goes on with the model it was held with.
    _listed(alice).filter(has_text="What color is the shape?").click()
    expect(alice.locator("#chat-model input")).to_have_value("vreason-demo")
    _listed(alice).filter(has_text="Tell me a long story.").click()
    expect(alice.locator("#chat-model input")).to_have_value(vr.model_name)
    alice.locator("#model-card").get_by_text("Model cards").click()  # one per model in the picker
    expect(alice.locator(".model-card-text").first).to_contain_text("Quality (greedy")  # the demo model's README.md
    expect(alice.locator(".model-card-text").last).to_contain_text("No model card")  # the tiny one has none
    _shot(alice, "model-card")


def test_one_user_never_sees_another_users_conversations(browser: Browser, ui_url: str, alice: Page,
                                                         data_dir: Path):
    bob = _open(browser, ui_url)
    try:
        _login(bob, "bob", "builder")
        expect(bob.locator("#chat-input textarea")).to_be_visible()
        expect(_listed(bob)).to_have_count(0)
        _ask(bob, "What color is the shape?", [SHAPES])
        expect(_bots(bob)).to_have_count(1)
        expect(_listed(bob)).to_have_count(1)
    finally:
        bob.context.close()
    alice.reload()
    expect(_listed(alice)).to_have_count(2)  # her own two; Bob's is not among them
    assert len(list((data_dir / "bob").glob("*.json"))) == 1
    assert len(list((data_dir / "alice").glob("*.json"))) == 2


def test_opening_another_conversation_mid_answer_stops_it_and_keeps_what_came(alice: Page, vr):
    aborted = vr.engine.stats().aborted_total
    _start_a_long_answer(alice, vr, "Tell me another story.")
    _listed(alice).filter(has_text="What color is the shape?").click()
    _wait_for(lambda: vr.engine.stats().aborted_total == aborted + 1, "the engine to abort the request")
    alice.wait_for_timeout(1000)  # a late piece of the stopped answer would have landed by now
    # the opened conversation stays on screen, with its model; the stopped one is kept with what came
    expect(_users(alice).last).to_have_text("What shape is it?")  # the edited conversation, named by its first ask
    expect(_bots(alice)).to_have_count(1)
    expect(alice.locator("#chat-model input")).to_have_value("vreason-demo")
    assert vr.engine.stats().running == 0
    _listed(alice).filter(has_text="Tell me another story.").click()
    expect(_bots(alice).last.locator(".vr-stats")).to_contain_text("stopped")
    expect(alice.locator("#chat-model input")).to_have_value(vr.model_name)
