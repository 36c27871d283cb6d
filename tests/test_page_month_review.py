"""Month review page (AppTest): big totals with month-over-month change, alerts, downloads."""

from __future__ import annotations

from apptest_util import open_page
from test_review_store import open_demo


def test_month_review_without_plan_says_what_to_do(app_env):
    at = open_page("month_review.py", timeout=60, state={"billing_month": "2026-11"})
    assert not at.exception, at.exception
    assert "No plan for 2026-11" in at.info[0].value


def test_month_review_shows_totals_with_change_alerts_and_download_buttons(app_env):
    open_demo(app_env)
    at = open_page("month_review.py", timeout=60, state={"billing_month": "2026-11"})
    assert not at.exception, at.exception
    labels = [m.label for m in at.metric]
    assert labels[:5] == ["Vendor cost", "ConnectWise bills", "Margin", "Margin %", "Not re-billed"]
    assert at.metric[0].value.startswith("$") and at.metric[0].delta  # change vs 2026-10
    assert "Blocked or unmapped" in labels and "Quantity up" in labels  # words, not codes
    assert "Compared with 2026-10." in [c.value for c in at.caption]
    downloads = [e for e in at.get("download_button")]
    assert len(downloads) == 2
