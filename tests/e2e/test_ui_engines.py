"""The web UI over `vreason ui --server`: the same page on a RemoteEngine, driven in Debian's Chromium, against
a real HTTP server on 127.0.0.1 that speaks the OpenAI streaming protocol with scripted answers (a Thinking
model's reasoning, an overloaded upstream). The UI over a real `vreason serve` is in test_ui.py, sharing its
demo model.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.test_remote_backend_http import Script, Upstream
from tests.e2e.ui_support import ROOT, SHOTS, free_port

pytestmark = pytest.mark.slow

SHAPES = ROOT / "examples" / "shapes.png"
expect.set_options(timeout=30_000)  # model answers on a shared 2-core CI box, not 5 s UI reactions



@pytest.fixture(scope="module")
def upstream() -> Iterator[Upstream]:
    server = Upstream(model="scripted-qwen3-vl-thinking")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def ui_url(upstream: Upstream) -> Iterator[str]:
    from vreason.cli.options import LoadingOptions
    from vreason.cli.ui import open_backend

    vr = open_backend(LoadingOptions(), upstream.url)  # what `vreason ui --server URL` builds
    app, url = _serve_ui(vr)
    try:
        yield url
    finally:
        app.close()
        vr.close()


def _serve_ui(vr) -> tuple[object, str]:
    from vreason.ui import build_app, launch

    app = build_app(vr, data_dir=tempfile.mkdtemp(prefix="vreason-ui-data-"))
    port = free_port()
    launch(app, host="127.0.0.1", port=port, max_file_bytes=vr.engine.policy.max_bytes, block=False, quiet=True)
    return app, f"http://127.0.0.1:{port}/"


@pytest.fixture
def page(browser: Browser, ui_url: str) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    tab = context.new_page()
    tab.set_default_timeout(30_000)
    tab.goto(ui_url)
    expect(tab.locator("#chat-input textarea")).to_be_visible()
    yield tab
    context.close()


def _ask(page: Page, question: str, image: Path | None = None) -> None:
    box = page.locator("#chat-input")
    if image is not None:
        box.locator("input[type=file]").set_input_files(str(image))
        expect(box.locator("img")).to_have_count(1)
    box.locator("textarea").fill(question)
    box.locator("textarea").press("Enter")


def test_thinking_model_reasoning_shows_in_a_collapsible_block(page: Page, upstream: Upstream):
    expect(page.locator("#header")).to_contain_text("scripted-qwen3-vl-thinking")
    upstream.scripts.append(Script(reasoning=["The shape is ", "a filled circle; its colour is red."],
                                   tokens=["The shape is ", "red."]))
    _ask(page, "What color is the shape?", SHAPES)

    history = page.locator("#chat-history")
    expect(history.locator("[data-testid=bot]").last.locator("p").first).to_have_text("The shape is red.")
    thought = history.get_by_text("Thinking")
    expect(thought).to_be_visible()
    reasoning = history.get_by_text("its colour is red")
    expect(reasoning).to_be_hidden()  # closed once the answer is done
    thought.click()
    expect(reasoning).to_be_visible()
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "chat-thinking.png"), full_page=True)
    # The image reached the upstream inside the request, as an OpenAI image_url part.
    sent = upstream.requests[-1]["body"]["messages"][-1]["content"]
    assert any(part.get("type") == "image_url" for part in sent)


def test_busy_upstream_reads_as_busy_and_the_next_question_works(page: Page, upstream: Upstream):
    busy = Script(status=429, headers={"Retry-After": "3"},
                  error={"error": {"message": "too many requests", "type": "rate_limit_error"}})
    upstream.scripts.extend([busy, busy, busy])  # the first try and both retries
    _ask(page, "What color is the shape?", SHAPES)
    status = page.locator("#chat-status")
    expect(status).to_contain_text("The model is busy")
    expect(status).to_contain_text("Try again in 3 s")
    expect(page.locator("#chat-history [data-testid=bot]")).to_have_count(0)
    page.screenshot(path=str(SHOTS / "error-busy.png"), full_page=True)

    # The question stayed in the box; sending it again once the upstream has room gets the answer.
    upstream.scripts.clear()
    upstream.scripts.append(Script(tokens=["red"]))
    page.locator("#chat-input textarea").press("Enter")
    expect(page.locator("#chat-history [data-testid=bot]").last.locator("p").first).to_have_text("red")


def test_a_models_markdown_renders_code_and_lists_but_never_its_html(page: Page, upstream: Upstream):
    answer = ["Compare them:\n\n```python\nif a < b:\n", "    print('<b>bold?</b>')\n```\n\n",
              "- **one**\n- two\n\n<img src=x onerror=\"window.pwned=1\"> <script>window.pwned=2</script>"]
    upstream.scripts.append(Script(tokens=answer))
    _ask(page, "Show me some code.")
    bot = page.locator("#chat-history [data-testid=bot]").last
    expect(bot.locator(".vr-stats")).to_be_visible()  # the answer is complete
    expect(bot.locator("pre code")).to_contain_text("if a < b:")
    expect(bot.locator("pre code")).to_contain_text("print('<b>bold?</b>')")  # code keeps its characters
    expect(bot.locator("li")).to_have_count(2)
    expect(bot.locator("li strong")).to_have_text("one")
    expect(bot).to_contain_text('<img src=x onerror="window.pwned=1">')  # shown as text
    expect(bot.locator("img, script")).to_have_count(0)
    assert page.evaluate("window.pwned") is None
    page.screenshot(path=str(SHOTS / "chat-markdown-answer.png"), full_page=True)
