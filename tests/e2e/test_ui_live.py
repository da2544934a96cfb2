"""The Live tab in Debian's Chromium driven by Playwright, with a file-backed fake camera: a y4m clip written here
with PyAV (a light background, then a red circle) is the browser's webcam (`--use-file-for-fake-video-capture`);
the page opens it with getUserMedia, streams its frames to the watch on the built-in demo model, and the event
log shows "a red circle appears" with the frames it saw; the window strip fills; a question about now is
answered; Stop ends the watch. A stream URL the media policy refuses is named on the page.

Screenshots go to test-output/ui/.
"""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av
import pytest
from playwright.sync_api import Page, expect, sync_playwright

from tests.e2e.ui_support import CHROMIUM, SHOTS, free_port
from vreason.live.synthetic import Appearance, scene_at

pytestmark = [pytest.mark.slow, pytest.mark.heavy]  # the demo model, a browser and ~10 s of camera

TIMEOUT_MS = 60_000
FPS = 10


def write_y4m(path: Path, seconds: float = 6.0) -> Path:
    """Raw YUV 4:2:0 frames (what Chromium's fake camera reads, looping): empty for 2 s, then a red circle."""
    schedule = [Appearance("circle", "red", 2.0, seconds + 1)]
    with av.open(str(path), "w", format="yuv4mpegpipe") as container:
        stream = container.add_stream("rawvideo", rate=FPS)
        stream.width = stream.height = 256
        stream.pix_fmt = "yuv420p"
        for i in range(round(seconds * FPS)):
            frame = av.VideoFrame.from_ndarray(scene_at(i / FPS, schedule, 256), format="rgb24")
            frame = frame.reformat(format="yuv420p")
            frame.pts, frame.time_base = i, Fraction(1, FPS)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Page]:
    from vreason import VReason
    from vreason.ui import build_app, launch

    camera = write_y4m(tmp_path_factory.mktemp("camera") / "circle.y4m")
    vr = VReason()
    app = build_app(vr, data_dir=tmp_path_factory.mktemp("ui-live-data"))
    port = free_port()
    launch(app, host="127.0.0.1", port=port, block=False, quiet=True)
    args = [
        "--use-fake-device-for-media-stream",
        "--use-fake-ui-for-media-stream",
        f"--use-file-for-fake-video-capture={camera}",
    ]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=args)
        context = browser.new_context(viewport={"width": 1280, "height": 1100}, permissions=["camera"])
        tab = context.new_page()
        tab.set_default_timeout(TIMEOUT_MS)
        tab.goto(f"http://127.0.0.1:{port}/")
        tab.get_by_role("tab", name="Live").click()
        yield tab
        browser.close()
    app.close()
    vr.close()


def test_the_camera_is_watched_and_an_event_appears_in_the_page(page: Page):
    page.locator("#live-window input").fill("1")  # one frame pair: what the demo model answers best
    page.locator("#live-window input").press("Tab")
    camera = page.locator("#live-camera")
    camera.get_by_text("Click to Access Webcam").click()
    camera.get_by_role("button", name="capture photo").click()  # Gradio's record button: streaming starts
    expect(page.locator("#live-status")).to_contain_text("running")
    expect(page.locator("#live-strip img").first).to_be_visible()
    events = page.locator("#live-events")
    expect(events).to_contain_text("a red circle appears", timeout=TIMEOUT_MS)
    expect(events.locator("img").first).to_be_visible()  # the frames the event saw
    page.locator("#live-question textarea").fill("what is in the picture?")
    page.locator("#live-ask").click()
    expect(page.locator("#live-answer")).to_contain_text("window")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "live-event.png"), full_page=True)
    page.locator("#live-stop").click()
    expect(page.locator("#live-status")).to_contain_text("stopped")


def test_a_stream_url_the_policy_refuses_is_named(page: Page):
    page.locator("#live-url input, #live-url textarea").first.fill("rtsp://127.0.0.1:8554/cam")
    page.locator("#live-watch-url").click()
    expect(page.locator("#live-status")).to_contain_text("private network")
