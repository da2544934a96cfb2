"""The Chat and When tabs with a video clip, in Debian's Chromium driven by Playwright: a tiny clip encoded with
PyAV is uploaded, asked about, shown as a contact sheet of the frames the model saw, asked about again, and again
once the conversation is reopened from the sidebar; a file that is neither an image nor a video is refused in one
line and nothing is sent. The When tab finds when a shape is on screen, to the frame, with the frames around each
change as evidence.

One server (the built-in demo model) and one page for the module. Screenshots go to test-output/ui/.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.e2e.ui_support import CHROMIUM, SHOTS, free_port, new_conversation, set_number
from tests.video_samples import circle_shown_clip, make_clip
from vreason.ui.contact_sheet import GAP, LABEL_H, THUMB

pytestmark = pytest.mark.slow

TIMEOUT_MS = 30_000
expect.set_options(timeout=TIMEOUT_MS)  # model answers on a shared 2-core CI box



@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("ui-video-data")


@pytest.fixture(scope="module")
def page(data_dir: Path) -> Iterator[Page]:
    from vreason import VReason
    from vreason.ui import build_app, launch

    vr = VReason()
    app = build_app(vr, data_dir=data_dir)
    port = free_port()
    launch(app, host="127.0.0.1", port=port, max_file_bytes=vr.engine.policy.max_bytes, block=False, quiet=True)
    with sync_playwright() as playwright:
        browser: Browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        tab = browser.new_context(viewport={"width": 1280, "height": 1000}).new_page()
        tab.set_default_timeout(TIMEOUT_MS)
        tab.goto(f"http://127.0.0.1:{port}/")
        expect(tab.locator("#chat-input textarea")).to_be_visible()
        yield tab
        browser.close()
    app.close()
    vr.close()


def _ask(page: Page, question: str, files: list[Path] = ()) -> None:
    box = page.locator("#chat-input")
    if files:
        box.locator("input[type=file]").set_input_files([str(f) for f in files])
        expect(box.get_by_label("Uploading")).to_have_count(0)
        expect(box.locator("[data-testid=file-preview], [aria-label='File thumbnail'], video")).not_to_have_count(0)
    box.locator("textarea").fill(question)
    box.locator("textarea").press("Enter")


def _shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"video-{name}.png"), full_page=True)


def test_a_clip_is_asked_about_shown_as_its_sampled_frames_and_asked_about_again(
    page: Page, tmp_path: Path, data_dir: Path
):
    clip = make_clip(tmp_path / "moving-bar.mp4", 64, 64, frames=20, fps=10)  # 64x64, 2 s
    _ask(page, "What happens in the video?", [clip])
    history = page.locator("#chat-history")
    bots = history.locator("[data-testid=bot]")
    expect(bots).to_have_count(1)
    expect(bots.first).to_contain_text("tokens")  # the answer arrived, its stats line under it
    # The contact sheet sits with the question: 2 frames a second of a 2 s clip, at least 4.
    [sheet_file] = (data_dir / ".images").iterdir()  # the contact sheet is the one picture kept
    sheet = history.locator(f"img[src$='{sheet_file.name}']")
    expect(sheet).to_have_count(1)
    expect(history.locator(".vr-clip")).to_have_text("Video: 4 frames sampled from moving-bar.mp4 at 0.0–1.9 s")
    picture = Image.open(io.BytesIO(page.request.get(sheet.get_attribute("src")).body()))
    # four thumbnails side by side (the frames are square), their times under them
    assert picture.size == (GAP + 4 * (THUMB + GAP), GAP + THUMB + LABEL_H + GAP)
    # The clip is kept by content for reopening the conversation later.
    assert [p.read_bytes() for p in (data_dir / ".videos").iterdir()] == [clip.read_bytes()]
    _shot(page, "asked")

    _ask(page, "And what colour is the bar?")  # no upload: the conversation still has the clip
    expect(bots).to_have_count(2)
    expect(bots.nth(1)).to_contain_text("tokens")
    expect(history.locator(f"img[src$='{sheet_file.name}']")).to_have_count(1)  # shown once, with its question
    expect(page.locator("#chat-status")).to_have_text("")
    _shot(page, "follow-up")


def test_a_reopened_conversation_still_asks_about_its_clip(page: Page, data_dir: Path):
    history = page.locator("#chat-history")
    new_conversation(page)
    expect(history.locator("[data-testid=bot]")).to_have_count(0)
    page.locator("#chat-list label", has_text="What happens in the video?").click()
    [sheet_file] = (data_dir / ".images").iterdir()
    expect(history.locator(f"img[src$='{sheet_file.name}']")).to_have_count(1)
    expect(history.locator("[data-testid=bot]")).to_have_count(2)
    _ask(page, "Is the bar still there?")  # a new session's state: the clip is read back from the store
    expect(history.locator("[data-testid=bot]")).to_have_count(3)
    expect(history.locator("[data-testid=bot]").nth(2)).to_contain_text("tokens")
    expect(page.locator("#chat-status")).to_have_text("")
    _shot(page, "reopened")


def test_a_file_that_is_neither_an_image_nor_a_video_is_refused_in_one_line(page: Page, tmp_path: Path):
    users = page.locator("#chat-history [data-testid=user]")
    before = users.count()  # whatever the open conversation holds: nothing is added to it
    fake = tmp_path / "holiday.mp4"
    fake.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(300))
    _ask(page, "What happens?", [fake])
    status = page.locator("#chat-status")
    expect(status).to_contain_text("File holiday.mp4")
    expect(status).to_contain_text("nor a video")
    expect(users).to_have_count(before)  # nothing was sent
    expect(page.locator("#chat-input textarea")).to_have_value("What happens?")
    _shot(page, "refused")


def test_the_when_tab_finds_when_a_shape_is_on_screen_to_the_frame(page: Page, tmp_path: Path):
    # frames [13, 29) of a 5 s clip at 8 fps show a blue circle: from 1.625 s until 3.625 s
    clip = circle_shown_clip(tmp_path / "blue-circle.mp4", (13, 29), frames=40, fps=8)
    page.get_by_role("tab", name="When").click()
    page.locator("#when-video input[type=file]").set_input_files(str(clip))
    expect(page.locator("#when-video video")).to_have_count(1)
    page.locator("#when-target textarea, #when-target input").first.fill("blue shape")
    page.locator("#when-options").get_by_text("Options").click()
    set_number(page, "when-every", "1")  # a frame a second, then narrowed: 6 checks and 6 more (as the HTTP and
    # Python tests' scan)
    page.locator("#when-find").click()
    status = page.locator("#when-status")
    # a scan is a dozen model calls and two decodes on a shared 2-core box
    expect(status).to_contain_text("on screen 1.62–3.62 s", timeout=120_000)
    expect(status).to_contain_text("of 40 frames checked (one every 1.00 s, then each change narrowed")
    timeline = page.locator("#when-timeline img")
    expect(timeline).to_be_visible()
    picture = Image.open(io.BytesIO(page.request.get(timeline.get_attribute("src")).body()))
    assert picture.size == (720, 88)
    # the frames either side of the appearance and of the disappearance, each with its time
    gallery = page.locator("#when-evidence")
    expect(gallery.locator("img")).to_have_count(4)
    for caption in ("1.50 s: no", "1.62 s: yes", "3.50 s: yes", "3.62 s: no"):
        expect(gallery).to_contain_text(caption)
    _shot(page, "when")

    # the shipped example fills in the clip and the target
    page.locator("#when-examples").get_by_text("green triangle").click()
    expect(page.locator("#when-target textarea, #when-target input").first).to_have_value("green triangle")
    expect(page.locator("#when-video video")).to_have_count(1)

    # a file that is not a video is named in one line and nothing is scanned
    fake = tmp_path / "holiday.mp4"
    fake.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(300))
    page.locator("#when-video button[aria-label='Clear']").last.click()
    expect(page.locator("#when-video video")).to_have_count(0)
    page.locator("#when-video input[type=file]").set_input_files(str(fake))
    page.locator("#when-find").click()
    expect(status).to_contain_text("Video holiday.mp4")
    expect(page.locator("#when-evidence img")).to_have_count(0)
    _shot(page, "when-refused")
