"""What every browser test of the web UI shares: where Chromium is, where screenshots go, a free port, and the
steps that need waiting on gradio (a new conversation, a number typed into a slider, a name typed into a box)."""

from __future__ import annotations

import socket
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "test-output" / "ui"  # screenshots of each tab after a real exchange
CHROMIUM = "/usr/bin/chromium"  # Debian's (Playwright's own download cannot run here); `make test` installs it


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def new_conversation(page, settle_ms: int = 300, limit_ms: int = 30_000) -> None:
    """Click the Chat tab's "+ New conversation" and wait until its requests settled (`settled`). Its reply empties
    the input box: one that lands after a file was dropped there takes the file away again (seen as an upload whose
    thumbnail never shows: the next step's 30 s timeout)."""
    settled(page, lambda: page.locator("#chat-new").click(), "New conversation", settle_ms, limit_ms)


def settled(page, action, what: str, settle_ms: int = 300, limit_ms: int = 30_000) -> None:
    """Run `action` (a click) and wait until the gradio requests it sent are answered and none has followed for
    `settle_ms`: a reply that lands after the next step overwrites what that step typed (a conversation reopened
    just before its name was changed once put the old name back on a loaded CI box, and Rename sent that)."""
    seen: list = []
    in_flight: set = set()

    def sent(request) -> None:
        if "/gradio_api/" in request.url:
            seen.append(request)
            in_flight.add(request)

    def done(request) -> None:
        in_flight.discard(request)

    events = (("request", sent), ("requestfinished", done), ("requestfailed", done))
    for name, handler in events:
        page.on(name, handler)
    try:
        action()
        quiet = waited = 0
        while quiet < settle_ms:
            page.wait_for_timeout(50)
            waited += 50
            quiet = quiet + 50 if seen and not in_flight else 0
            if waited > limit_ms:
                raise AssertionError(f"{what}: {len(in_flight)} request(s) still open after {limit_ms} ms")
    finally:
        for name, handler in events:
            page.remove_listener(name, handler)


def fill_kept(page, selector: str, value: str, hold_ms: int = 1_000, tries: int = 10) -> None:
    """Type `value` into the text box `selector` and make sure it stays there for `hold_ms`: a reply of an earlier
    step that lands late puts its own value back (CI once kept a reopened conversation's old name in the name box
    for 30 s after the new one was typed, though `settled` had seen every request answered). Typed again then."""
    box = page.locator(selector)
    for _ in range(tries):
        box.fill(value)
        page.wait_for_timeout(hold_ms)
        if box.input_value() == value:
            return
    raise AssertionError(f"{selector}: {value!r} was overwritten {tries} times")


def open_accordion(page, label: str, inside: str) -> None:
    """Open accordion `label` unless `inside` (a selector within it) already shows: a click on an open one closes
    it, and whether it is open depends on what ran on the page before."""
    from playwright.sync_api import expect

    if not page.locator(inside).is_visible():
        page.get_by_text(label, exact=True).click()
    expect(page.locator(inside)).to_be_visible()


def set_number(page, elem_id: str, value: str) -> None:
    """Type `value` into the number box of component `elem_id` and wait until it reached the component's state:
    a slider's range moves then (a button clicked before that sends the old value: a When scan once ran at the
    default 0.5 s after "1" was typed). A box that already shows `value` while the slider was reset elsewhere
    sends no change, so the range itself is set then."""
    from playwright.sync_api import expect

    field = page.locator(f"#{elem_id} input[type=number]")
    field.fill(value)
    field.press("Enter")
    slider = page.locator(f"#{elem_id} input[type=range]")
    if not slider.count():
        return
    try:
        expect(slider).to_have_value(value, timeout=3_000)
    except AssertionError:
        slider.fill(value)
        expect(slider).to_have_value(value)
        expect(field).to_have_value(value)

