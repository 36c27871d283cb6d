"""The app in a real browser (headless Chromium): it starts on the sandbox and says so."""

from __future__ import annotations

import pytest

from browser_util import screenshot, wait_idle

pytestmark = pytest.mark.e2e


def test_app_opens_in_chromium_on_the_sandbox_and_shows_the_badge(app_server, page):
    page.goto(app_server, wait_until="domcontentloaded")
    sidebar = page.locator("[data-testid='stSidebar']")
    sidebar.get_by_text("SANDBOX").wait_for(timeout=60_000)
    wait_idle(page, timeout=60_000)
    assert sidebar.get_by_text("SANDBOX").is_visible()
    # the Connection page reached the sandbox and checked the permissions
    page.get_by_text("every permission billbridge needs").wait_for(timeout=60_000)
    shot = screenshot(page, "connection")
    assert shot.stat().st_size > 10_000
