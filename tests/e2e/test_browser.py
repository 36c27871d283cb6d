"""The app in a real browser (headless Chromium): it starts on the sandbox and says so."""

from __future__ import annotations

import pytest

from browser_util import screenshot, wait_idle
from conftest import running_app

pytestmark = pytest.mark.e2e


def test_app_opens_in_chromium_on_the_sandbox_and_shows_the_badge(app_server, page):
    page.goto(app_server, wait_until="domcontentloaded")
    sidebar = page.locator("[data-testid='stSidebar']")
    sidebar.get_by_text("SANDBOX").wait_for(timeout=60_000)
    wait_idle(page, timeout=60_000)
    assert sidebar.get_by_text("SANDBOX").is_visible()
    page.get_by_role("heading", name="Load month").first.wait_for(timeout=30_000)  # the default page
    screenshot(page, "load_month")
    # the Connection page reached the sandbox and checked the permissions
    sidebar.get_by_text("Connection", exact=True).click()
    page.get_by_text("every permission billbridge needs").wait_for(timeout=60_000)
    shot = screenshot(page, "connection")
    assert shot.stat().st_size > 10_000


def test_a_bookmarked_page_on_a_freshly_started_server_opens_inside_the_app_shell(tmp_path, page):
    # Before any session has run app.py, Streamlit would serve pages/ on its own (no badge, no
    # month picker); billbridge sends that first run through app.py.
    from playwright.sync_api import expect

    with running_app(tmp_path) as url:
        page.goto(f"{url}/timeline?month=2026-10", wait_until="domcontentloaded")
        sidebar = page.locator("[data-testid='stSidebar']")
        sidebar.get_by_text("SANDBOX").wait_for(timeout=60_000)
        sidebar.get_by_text("Billing month").first.wait_for(timeout=30_000)
        wait_idle(page, timeout=60_000)
        assert sidebar.get_by_text("Timeline", exact=True).is_visible()  # the app's own navigation
        assert sidebar.get_by_text("load month", exact=True).count() == 0  # not the pages/ folder listing
        # ... and it opens the page the link named, in the link's month (not the default Load month page)
        page.get_by_role("heading", name="Timeline · 2026-10").first.wait_for(timeout=60_000)
        expect(sidebar.get_by_role("combobox", name="Billing month")).to_have_value("2026-10", timeout=30_000)
        page.wait_for_url("**/timeline?month=2026-10", timeout=30_000)


def test_the_billing_month_in_the_url_is_honoured_kept_across_refresh_and_page_switch(app_server, page):
    from playwright.sync_api import expect

    page.goto(f"{app_server}/?month=2026-09", wait_until="domcontentloaded")
    picker = page.get_by_role("combobox", name="Billing month")
    expect(picker).to_have_value("2026-09", timeout=60_000)  # the link's month, not today's
    wait_idle(page, timeout=60_000)
    page.reload(wait_until="domcontentloaded")  # a refresh is a new session: the URL brings the month back
    expect(picker).to_have_value("2026-09", timeout=60_000)
    wait_idle(page, timeout=60_000)
    page.locator("[data-testid='stSidebar']").get_by_role("link", name="Reconcile").click()
    page.wait_for_url("**/reconcile?month=2026-09", timeout=30_000)  # a page switch keeps it in the URL
    wait_idle(page, timeout=60_000)
    picker.click()
    page.get_by_role("option", name="2026-10").click()
    page.wait_for_url("**/reconcile?month=2026-10", timeout=30_000)  # choosing a month writes it
    wait_idle(page, timeout=60_000)
    page.reload(wait_until="domcontentloaded")
    expect(picker).to_have_value("2026-10", timeout=60_000)
    screenshot(page, "month_in_url")
