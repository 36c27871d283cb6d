"""Every page in a real browser (headless Chromium) at a meeting-room and a laptop size, on the demo month.

The data is made through the library before the app starts (the operator's first day: the demo
vendor's newest month and the one before, suggestions accepted, a few rows pushed, plus a vendor
file whose customer names are Markdown, HTML and a spreadsheet formula). Each page must show no
exception box, no "None"/"nan" text, no metric cut off with an ellipsis and no link a vendor name
smuggled in; a screenshot of each is saved in tests/e2e/screenshots/ (git-ignored) to look at.
"""

from __future__ import annotations

import os
import re

import pytest

from browser_util import screenshot, wait_idle
from conftest import CW_VARS, running_app

pytestmark = pytest.mark.e2e

VIEWPORTS = {"wide": (1440, 900), "laptop": (1024, 768)}
PAGES = ("Load month", "Timeline", "Mappings", "Reconcile", "Sync status", "Month review", "Agreements", "Connection")
#: pages another part of the project owns: visited and checked for exceptions and missing values; their
#: metric widths are theirs to fix (the Connection page's server version is cut off at 1024 pixels)
OTHERS = {"Connection"}
MISSING = re.compile(r"\b(None|NaN|nan|NaT)\b")
HOSTILE = ('=HYPERLINK("http://evil.example","click")', "**blocked: Evil Clinic · Hosted PBX seat · **",
           '<a href="http://evil.example/2">Evil <b>Bold</b></a>')
#: a piece of each name to find it by (no ":" — vendor text carries an invisible word joiner after one)
PROBES = ('=HYPERLINK("http', "**blocked", '<a href="http')


def _demo_data(data_dir) -> str:
    """The demo vendor's newest month (and the month before) mapped, planned and partly pushed, plus a
    vendor file with hostile customer names, in ``data_dir``; returns the month."""
    from billbridge import demo_world, push, sources
    from billbridge import mappings as mp
    from billbridge import month as mo
    from billbridge.bdom import add_months
    from billbridge.config import load_config
    from billbridge.runtime import connect
    from billbridge.store import Store

    month = demo_world.MONTHS[-1]  # the demo is evergreen elsewhere: take its newest month, never a fixed one
    saved = {k: os.environ.pop(k, None) for k in CW_VARS}
    os.environ["BILLBRIDGE_DB"] = str(data_dir / "billbridge.db")
    try:
        conn = connect(load_config(None))
        store = Store.open(data_dir / "billbridge.db")
        for m in (add_months(month, -1), month):
            sources.load_demo(store, m)
            mo.refresh_snapshot(store, conn.client, m)
            mp.accept(store, m, mo.snapshot_for(store, m))
            mo.refresh_snapshot(store, conn.client, m)
            mo.build_plan(store, m)  # last month reconciled too: the review compares on the same basis
        head = "vendor_customer_id,vendor_customer_name,sku,product_name,quantity,unit_cost,unit_price,period_start,period_end"
        y, mm = month.split("-")
        rows = [",".join([f"EV-{i}", '"' + n.replace('"', '""') + '"', f"EVIL-{i}", '"' + n.replace('"', '""') + '"',
                          "2", "15.00", "20.00", f"{y}-{mm}-05", f"{add_months(month, 1)}-04"])
                for i, n in enumerate(HOSTILE)]
        res = sources.load_month(store, month, ("\n".join([head, *rows]) + "\n").encode(), "evil.csv", "generic",
                                 vendor="evil")
        assert res.ok, res.problems
        plan, plan_id = mo.build_plan(store, month)
        ready = plan.rows[plan.rows["action"].isin(["update", "create"])].head(3)
        push.push(store, conn.client, ready, month=month, plan_id=plan_id)
        store.close()
        conn.close()
        if conn.sandbox is not None:
            conn.sandbox.stop()  # the app starts its own on the same sandbox.db
    finally:
        os.environ.pop("BILLBRIDGE_DB", None)
        os.environ.update({k: v for k, v in saved.items() if v is not None})
    return month


@pytest.fixture(scope="module")
def demo_app(tmp_path_factory, chromium_path):
    data_dir = tmp_path_factory.mktemp("e2e-demo")
    month = _demo_data(data_dir)
    with running_app(data_dir) as url:
        yield url, month


def _pick_month(page, month: str) -> None:
    box = page.locator("[data-testid='stSidebar'] [data-testid='stSelectbox']").filter(has_text="Billing month")
    box.click()
    page.get_by_role("option", name=month, exact=True).click()
    wait_idle(page, timeout=60_000)


def _open(page, title: str) -> None:
    page.locator("[data-testid='stSidebarNav']").get_by_role("link", name=title, exact=True).click()
    page.wait_for_timeout(300)  # let the click reach the server before waiting for the run to end
    wait_idle(page, timeout=120_000)
    page.locator("[data-testid='stMain'] h1").first.wait_for(timeout=60_000)
    charts = page.locator("[data-testid='stPlotlyChart']")
    for i in range(charts.count()):
        charts.nth(i).locator(".main-svg").first.wait_for(state="attached", timeout=30_000)


_TRUNCATED = """() => Array.from(document.querySelectorAll(
    "[data-testid='stMetricValue'], [data-testid='stMetricValue'] *, [data-testid='stMetricLabel'] *"))
  .filter(e => e.scrollWidth > e.clientWidth + 1)
  .map(e => (e.closest("[data-testid='stMetric']") || e).innerText.replace(/\\s+/g, " "))"""


def _problems(page, title: str) -> list[str]:
    """What a person would see wrong on the page."""
    out = []
    main = page.locator("[data-testid='stMain']")
    for box in page.locator("[data-testid='stException']").all():
        out.append(f"{title}: exception box: {box.inner_text()[:300]}")
    text = main.inner_text()
    for m in MISSING.finditer(text):
        out.append(f"{title}: {m.group(0)!r} in …{text[max(0, m.start() - 60):m.end() + 60]!r}…")
    for metric in page.evaluate(_TRUNCATED) if title not in OTHERS else ():
        out.append(f"{title}: metric cut off: {metric!r}")
    links = page.evaluate("() => Array.from(document.querySelectorAll('a[href]')).map(a => a.href)")
    out += [f"{title}: a vendor name became a link: {h}" for h in links if "evil.example" in h]
    return out


@pytest.mark.parametrize("size", list(VIEWPORTS))
def test_every_page_reads_cleanly_at_meeting_room_and_laptop_sizes(demo_app, browser, size):
    url, month = demo_app
    width, height = VIEWPORTS[size]
    ctx = browser.new_context(viewport={"width": width, "height": height})
    page = ctx.new_page()
    try:
        page.goto(url, wait_until="domcontentloaded")
        page.locator("[data-testid='stSidebar']").get_by_text("SANDBOX").wait_for(timeout=60_000)
        wait_idle(page, timeout=60_000)
        _pick_month(page, month)
        problems = []
        for title in PAGES:
            _open(page, title)
            problems += _problems(page, title)
            screenshot(page, f"{size}-{width}x{height}-{title.lower().replace(' ', '_')}")
        assert not problems, "\n".join(problems)
    finally:
        ctx.close()


def test_vendor_markup_in_the_row_detail_heading_is_shown_literally(demo_app, browser):
    url, month = demo_app
    ctx = browser.new_context(viewport={"width": 1440, "height": 900})
    page = ctx.new_page()
    try:
        page.goto(url, wait_until="domcontentloaded")
        page.locator("[data-testid='stSidebar']").get_by_text("SANDBOX").wait_for(timeout=60_000)
        wait_idle(page, timeout=60_000)
        _pick_month(page, month)
        _open(page, "Reconcile")
        for name, probe in zip(HOSTILE, PROBES):
            row = page.locator("[data-testid='stMain'] [data-testid='stSelectbox']").filter(has_text="Row")
            row.click()
            page.keyboard.type(probe)
            page.get_by_role("option").filter(has_text=probe).first.wait_for()
            page.keyboard.press("Enter")  # the first option left by the filter
            wait_idle(page, timeout=60_000)
            heading = page.locator("[data-testid='stMain'] [data-testid='stMarkdownContainer']").filter(
                has_text=probe).first
            text = heading.inner_text().replace("\u2060", "")
            assert name in text, text  # every character as the vendor wrote it: no bold, no tag, no link
            assert heading.locator("a, b, strong strong").count() == 0
        screenshot(page, "reconcile-vendor-markup")
        links = page.evaluate("() => Array.from(document.querySelectorAll('a[href]')).map(a => a.href)")
        assert not [h for h in links if "evil.example" in h]
    finally:
        ctx.close()
