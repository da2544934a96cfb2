"""The web UI in a real browser: Debian's Chromium driven by Playwright against `vreason ui`'s app on 127.0.0.1,
running the built-in demo model (it answers "red" to "What color is the shape?" on examples/shapes.png).

Screenshots go to test-output/ui/ (git-ignored) so a failing run can be looked at.
"""

from __future__ import annotations

import io
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import Browser, Page, expect

from tests.e2e.ui_support import ROOT, SHOTS, free_port, new_conversation, open_accordion, set_number
from vreason.media import MediaPolicy
from vreason.reasoning.draw import PALETTE

pytestmark = pytest.mark.slow

SHAPES = ROOT / "examples" / "shapes.png"
# Small enough that the too-large upload in the tests stays cheap; the CLI passes the policy's 20 MiB.
UPLOAD_LIMIT = 1024 * 1024
ANSWER_TIMEOUT_MS = 30_000
expect.set_options(timeout=ANSWER_TIMEOUT_MS)  # model answers on a shared 2-core CI box, not 5 s UI reactions



@pytest.fixture(scope="module")
def demo_vr():
    from vreason import VReason

    vr = VReason(media_policy=MediaPolicy(max_bytes=UPLOAD_LIMIT))
    yield vr
    vr.close()


def _serve_ui(vr) -> tuple[object, str]:
    from vreason.ui import build_app, launch

    app = build_app(vr, data_dir=tempfile.mkdtemp(prefix="vreason-ui-data-"))
    port = free_port()
    launch(app, host="127.0.0.1", port=port, max_file_bytes=vr.engine.policy.max_bytes, block=False, quiet=True)
    return app, f"http://127.0.0.1:{port}/"


@pytest.fixture(scope="module")
def ui_url(demo_vr) -> Iterator[str]:
    app, url = _serve_ui(demo_vr)
    yield url
    app.close()


@pytest.fixture(scope="module")
def served_ui_url(demo_vr) -> Iterator[str]:
    """`vreason serve` on the demo model's engine over a socket, and `vreason ui --server` in front of it."""
    from vreason.cli.options import LoadingOptions
    from vreason.cli.ui import open_backend
    from vreason.server import ServerSettings, create_app
    from vreason.server.launch import BackgroundServer

    server = BackgroundServer(create_app(demo_vr.engine, ServerSettings(served_model_names=("vreason-demo",))))
    remote = open_backend(LoadingOptions(), server.url)
    app, url = _serve_ui(remote)
    try:
        yield url
    finally:
        app.close()
        remote.close()
        server.stop()


@pytest.fixture(scope="module")
def shared_page(browser: Browser, ui_url: str) -> Iterator[Page]:
    """One page for the module (loading the app costs seconds); each test starts by picking its tab."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    tab = context.new_page()
    tab.set_default_timeout(ANSWER_TIMEOUT_MS)
    tab.goto(ui_url)
    expect(tab.locator("#chat-input textarea")).to_be_visible()
    yield tab
    context.close()


@pytest.fixture
def page(shared_page: Page, request: pytest.FixtureRequest) -> Iterator[Page]:
    SHOTS.mkdir(parents=True, exist_ok=True)
    yield shared_page
    shared_page.screenshot(path=str(SHOTS / f"{request.node.name}-end.png"), full_page=True)


def _ask(page: Page, question: str, files: list[Path] | None = None) -> None:
    box = page.locator("#chat-input")
    if files:
        box.locator("input[type=file]").set_input_files([str(f) for f in files])
        # The upload is done when its thumbnail shows and the spinner went; sending earlier would drop the file.
        expect(box.get_by_label("File thumbnail")).to_have_count(len(files))
        expect(box.get_by_label("Uploading")).to_have_count(0)
    box.locator("textarea").fill(question)
    box.locator("textarea").press("Enter")


def _answer(bot):
    """An answer's text: its first paragraph (the stats line under it is another)."""
    return bot.locator("p").first


def test_chat_answers_streams_keeps_history_and_clears(page: Page):
    page.get_by_role("tab", name="Chat").click()
    page.get_by_text("Sampling").click()
    set_number(page, "chat-temperature", "0")
    set_number(page, "chat-max-new-tokens", "16")

    _ask(page, "What color is the shape?", [SHAPES])
    bot = page.locator("#chat-history [data-testid=bot]")
    expect(bot).to_have_count(1)
    expect(_answer(bot.first)).to_have_text("red")
    expect(page.locator("#chat-history [data-testid=user] img")).to_have_count(1)  # the image is in the history
    expect(bot.first.locator(".vr-stats")).to_contain_text("tokens")  # with its answer, not under the input box
    expect(page.locator("#chat-history button[aria-label='Copy message']").first).to_be_visible()
    page.screenshot(path=str(SHOTS / "chat-answer.png"), full_page=True)

    # Second turn without a new image: the model still sees the first one through the history.
    _ask(page, "What color is the shape?")
    expect(bot).to_have_count(2)
    expect(_answer(bot.nth(1))).to_have_text("red")

    new_conversation(page)
    expect(bot).to_have_count(0)
    expect(page.locator("#chat-history [data-testid=user]")).to_have_count(0)


def test_grounding_draws_boxes_and_lists_them(page: Page):
    page.get_by_role("tab", name="Grounding").click()
    page.locator("#ground-image input[type=file]").set_input_files(str(SHAPES))
    expect(page.locator("#ground-image img")).to_be_visible()
    page.locator("#ground-target textarea, #ground-target input").first.fill("circle")
    page.locator("#ground-find").click()

    result = page.locator("#ground-result img")
    expect(result).to_be_visible()
    expect(page.locator("#ground-status")).to_contain_text("found")
    expect(page.locator("#ground-table")).to_contain_text("circle")
    page.screenshot(path=str(SHOTS / "grounding.png"), full_page=True)

    # The picture the page shows is the upload with boxes drawn in the palette's first colour.
    png = page.request.get(result.get_attribute("src")).body()
    annotated = Image.open(io.BytesIO(png)).convert("RGB")
    assert annotated.size == Image.open(SHAPES).size
    assert PALETTE[0] in {colour for _, colour in annotated.getcolors(maxcolors=1 << 20)}


def test_bad_and_oversized_uploads_read_clearly_and_the_chat_keeps_working(page: Page, tmp_path: Path):
    page.get_by_role("tab", name="Chat").click()
    new_conversation(page)
    notes = tmp_path / "notes.txt"
    notes.write_text("this is a text file")
    _ask(page, "What color is the shape?", [notes])
    status = page.locator("#chat-status")
    expect(status).to_contain_text("notes.txt")
    expect(status).to_contain_text("not an image")
    # Nothing was sent: no turn in the history, the question and the file still in the box to fix and resend.
    expect(page.locator("#chat-history [data-testid=user]")).to_have_count(0)
    expect(page.locator("#chat-history [data-testid=bot]")).to_have_count(0)
    expect(status).not_to_contain_text("tokens")
    expect(page.locator("#chat-input textarea")).to_have_value("What color is the shape?")
    expect(page.locator("#chat-input").get_by_label("File thumbnail")).to_have_count(1)
    page.screenshot(path=str(SHOTS / "error-bad-file.png"), full_page=True)

    big = tmp_path / "big.png"
    big.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(UPLOAD_LIMIT + 1))
    page.locator("#chat-input input[type=file]").set_input_files(str(big))
    toast = page.locator("[data-testid=toast-text]")
    expect(toast).to_contain_text("exceed the maximum allowed size")
    expect(toast).to_contain_text("big.png")
    page.wait_for_timeout(500)  # let the toast finish sliding in before the screenshot
    page.screenshot(path=str(SHOTS / "error-too-large.png"), full_page=True)
    # The toast is about the Chat tab: it goes when the user moves on, well before its own 10 s.
    page.get_by_role("tab", name="Grounding").click()
    expect(toast).to_have_count(0, timeout=2_000)
    page.get_by_role("tab", name="Chat").click()

    # Still works: a good image after the bad ones gets its answer (greedy: the page is shared, and the default
    # temperature samples the colour word, once in a while a wrong one)
    new_conversation(page)
    open_accordion(page, "Sampling", "#chat-temperature input[type=number]")
    set_number(page, "chat-temperature", "0")
    _ask(page, "What color is the shape?", [SHAPES])
    expect(page.locator("#chat-history [data-testid=bot]").first).to_contain_text("red")


def test_reasoning_runs_steps_with_traces_and_tiling(page: Page):
    page.get_by_role("tab", name="Reasoning").click()
    page.locator("#reason-image input[type=file]").set_input_files(str(SHAPES))
    expect(page.locator("#reason-image img")).to_be_visible()
    page.locator("#reason-steps textarea").fill(
        "What color is the shape?\nlocate every circle and output bbox_2d in JSON.\nIs the shape {step1}?")
    page.locator("#reason-run").click()

    steps = page.locator("#reason-trace-steps")
    expect(page.locator("#reason-status")).to_contain_text("3 steps")
    expect(steps.locator("h4")).to_have_count(3)
    expect(steps).to_contain_text("Step 1: What color is the shape?")
    expect(steps.locator("strong").first).to_have_text("red")
    # {step1} was replaced by step 1's answer in the prompt step 3 sent, and in its heading.
    expect(steps.locator("details").nth(2)).to_contain_text("Is the shape red?")
    expect(steps.locator("h4").nth(2)).to_have_text("Step 3: Is the shape red?")
    expect(page.locator("#reason-boxes img")).to_be_visible()  # step 2's boxes, drawn
    page.screenshot(path=str(SHOTS / "reasoning.png"), full_page=True)

    page.locator("#reason-tiled input").check()
    page.get_by_text("Options").last.click()
    # pick the option itself: typing and pressing Enter raced the dropdown's filtered list (the run then went out
    # with "auto" in about one of three runs)
    page.locator("#reason-grid input").click()
    page.get_by_role("option", name="2x2").click()
    expect(page.locator("#reason-grid input")).to_have_value("2x2")
    page.locator("#reason-steps textarea").fill("What color is the shape?")
    page.locator("#reason-run").click()
    expect(page.locator("#reason-status")).to_contain_text("1 steps")
    expect(steps).to_contain_text("Tiles: 2x2")
    expect(page.locator("#reason-answer")).to_contain_text("red")
    page.screenshot(path=str(SHOTS / "reasoning-tiled.png"), full_page=True)


@pytest.fixture(scope="module")
def task_samples(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One generated sample image per pack, written by the packs themselves."""
    from vreason.tasks import get_task

    out = tmp_path_factory.mktemp("task-samples")
    images = {}
    for name in ("inspection", "education-math"):
        get_task(name).make_samples(out / name, 1, 0)
        images[name] = next((out / name / "images").iterdir())
    return images


def _pick_task(page: Page, title: str) -> None:
    page.locator("#task-name input").click()
    page.get_by_role("option", name=title).click()


def test_task_packs_render_structured_results(page: Page, task_samples: dict[str, Path]):
    page.get_by_role("tab", name="Task packs").click()
    _pick_task(page, "Industrial inspection")
    expect(page.locator("#task-about")).to_contain_text("defect")
    page.locator("#task-image input[type=file]").set_input_files(str(task_samples["inspection"]))
    expect(page.locator("#task-image img")).to_be_visible()
    page.get_by_text("Options").last.click()
    set_number(page, "task-max-new-tokens", "96")
    page.locator("#task-run").click()

    result = page.locator("#task-result")
    # Rendered, not raw JSON: a verdict heading, and a table when the answer lists defects.
    expect(result.locator("h3")).to_contain_text("part")
    assert "{" not in result.inner_text()
    heading = result.locator("h3").inner_text()
    if "Defective" in heading and "no defect located" not in heading:
        expect(result.locator("table")).to_be_visible()
        expect(page.locator("#task-boxes img")).to_be_visible()
    expect(page.locator("#task-status")).to_contain_text("tokens")
    page.screenshot(path=str(SHOTS / "task-inspection.png"), full_page=True)

    _pick_task(page, "Education: math work check")
    expect(result).to_have_text("")  # the inspection result went with the pack
    expect(page.locator("#task-problem")).to_be_visible()
    page.locator("#task-image input[type=file]").set_input_files(str(task_samples["education-math"]))
    page.locator("#task-problem textarea").fill("Tom has 9 boxes with 10 apples in each box. He gives away 8.")
    set_number(page, "task-max-new-tokens", "64")
    page.locator("#task-run").click()
    expect(result.locator("h3")).to_contain_text("orrect")  # "Correct work" or "Incorrect ..."
    page.get_by_text("Limits of this pack").click()
    expect(page.locator("#task-limits")).to_contain_text("real model")
    page.screenshot(path=str(SHOTS / "task-math.png"), full_page=True)


def test_ui_over_a_running_vreason_serve_answers_like_the_local_engine(browser: Browser, served_ui_url: str):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(served_ui_url)
    expect(page.locator("#header")).to_contain_text("vreason-demo")
    page.get_by_text("Sampling").click()
    set_number(page, "chat-temperature", "0")
    _ask(page, "What color is the shape?", [SHAPES])
    expect(_answer(page.locator("#chat-history [data-testid=bot]").last)).to_have_text("red")
    page.screenshot(path=str(SHOTS / "chat-over-serve.png"), full_page=True)
    context.close()
