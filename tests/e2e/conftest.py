"""Fixtures the browser tests share: one headless Debian Chromium per test module (Playwright drives it), and the
built-in demo model loaded once per module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(scope="module")
def browser() -> Iterator:
    from playwright.sync_api import sync_playwright  # only the browser tests pay for it

    from tests.e2e.ui_support import CHROMIUM

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def demo():
    from vreason import VReason

    vr = VReason()
    yield vr
    vr.close()
