"""The 3D tab in Debian's Chromium driven by Playwright, on the built-in demo model: examples/scene_red_box.ply is
uploaded, "red box" found (the annotated views, the boxes as JSON, the boxes as a PLY to download), a question
asked about the views, and a file that is not a cloud refused in one line.

One server and one page for the module. Screenshots go to test-output/ui/.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.e2e.ui_support import CHROMIUM, ROOT, SHOTS, free_port

pytestmark = pytest.mark.slow

SCENE = ROOT / "examples" / "scene_red_box.ply"
TIMEOUT_MS = 30_000
expect.set_options(timeout=TIMEOUT_MS)  # model answers on a shared 2-core CI box



@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Page]:
    from vreason import VReason
    from vreason.ui import build_app, launch

    vr = VReason()
    app = build_app(vr, data_dir=tmp_path_factory.mktemp("ui-3d-data"))
    port = free_port()
    launch(app, host="127.0.0.1", port=port, max_file_bytes=vr.engine.policy.max_bytes, block=False, quiet=True)
    with sync_playwright() as playwright:
        browser: Browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        tab = browser.new_context(viewport={"width": 1280, "height": 1100}, accept_downloads=True).new_page()
        tab.set_default_timeout(TIMEOUT_MS)
        tab.goto(f"http://127.0.0.1:{port}/")
        tab.get_by_role("tab", name="3D").click()
        expect(tab.locator("#space-find")).to_be_visible()
        yield tab
        browser.close()
    app.close()
    vr.close()


def _upload(page: Page, path: Path) -> None:
    clear = page.locator("#space-cloud button[aria-label=Clear]")
    if clear.count():  # a cloud is there already: the file box shows it instead of its file input
        clear.click()
    page.locator("#space-cloud input[type=file]").set_input_files(str(path))
    # the file box shows the name as stem and extension in two cells of text, with or without a space between
    expect(page.locator("#space-cloud")).to_contain_text(re.compile(rf"{re.escape(path.stem)}\s*{re.escape(path.suffix)}"))


def _shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"3d-{name}.png"), full_page=True)


def test_find_draws_the_lifted_boxes_on_the_views_and_offers_them_as_ply(page: Page, tmp_path: Path):
    from vreason.spatial.readers import read_cloud

    _upload(page, SCENE)
    page.locator("#space-target textarea").fill("red box")
    page.locator("#space-find").click()
    status = page.locator("#space-status")
    expect(status).to_contain_text("found for “red box” on bev")
    expect(status).not_to_contain_text("Nothing")
    expect(page.locator("#space-gallery img").first).to_be_visible()
    expect(page.locator("#space-table")).to_contain_text("red box")
    link = page.locator("#space-download a[download='scene_red_box-boxes.ply']")
    expect(link).to_have_count(1)
    with page.expect_download() as info:
        link.click()
    saved = tmp_path / "boxes.ply"
    info.value.save_as(saved)
    lines = read_cloud(saved)  # the line set's corners: 8 per box
    assert len(lines) > 0
    assert len(lines) % 8 == 0
    _shot(page, "find")


def test_ask_answers_about_the_views(page: Page):
    page.locator("#space-question textarea").fill("How many objects are there?")
    page.locator("#space-ask").click()
    expect(page.locator("#space-status")).to_contain_text("tokens")
    expect(page.locator("#space-answer")).not_to_be_empty()
    expect(page.locator("#space-gallery img").first).to_be_visible()
    expect(page.locator("#space-download a")).to_have_count(0)  # no boxes for a question
    _shot(page, "ask")


def test_a_file_that_is_not_a_cloud_is_refused_in_one_line(page: Page, tmp_path: Path):
    notes = tmp_path / "notes.xyz"
    notes.write_text("this is not a point cloud\n")
    _upload(page, notes)
    page.locator("#space-find").click()
    status = page.locator("#space-status")
    expect(status).to_contain_text("notes.xyz")
    expect(status).not_to_contain_text("/tmp")  # named as the user knows it
    expect(page.locator("[data-testid=toast-text]").first).to_contain_text("notes.xyz")
    expect(page.locator("#space-gallery img")).to_have_count(0)
    _shot(page, "refused")
