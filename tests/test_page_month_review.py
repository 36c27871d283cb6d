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


def test_month_review_answers_the_meetings_questions_with_dollars_and_links_to_the_rows(app_env):
    from urllib.parse import parse_qs

    open_demo(app_env)
    at = open_page("month_review.py", timeout=60, state={"billing_month": "2026-11"})
    assert not at.exception, at.exception
    titles = [h.value for h in at.subheader]
    for title in ("What changed and why", "Margins below the threshold", "Cost changed, price did not",
                  "Commitments that renew or lock in soon", "Blocked, and what it costs not to bill it"):
        assert title in titles
    texts = [m.value for m in at.markdown]
    changed = next(t for t in texts if "change per month" in t)
    assert changed.startswith("**$") and "rows" in changed  # the dollar figure in its currency
    assert any(t.startswith("**$") and "vendor cost not re-billed" in t for t in texts)
    links = {link.value: parse_qs(link.proto.query_string) for link in at.page_link}
    assert links["See the changed rows"] == {"month": ["2026-11"], "action": ["create,update,cancel"]}
    blocked = links["See the blocked rows"]
    assert blocked["month"] == ["2026-11"] and "no_agreement" in blocked["cause"][0].split(",")
    assert all(link.proto.page.endswith("reconcile") or "timeline" in link.proto.page for link in at.page_link
               if link.value.startswith("See "))


def test_a_link_from_month_review_opens_reconcile_on_those_rows(app_env):
    from apptest_util import APP
    from streamlit.testing.v1 import AppTest

    open_demo(app_env)
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["billing_month"] = "2026-11"
    at.run()
    at.query_params["action"] = "update"
    at.query_params["flag"] = "late_month_bdom"
    at.switch_page("pages/reconcile.py")
    at.run()
    assert not at.exception, at.exception
    assert at.multiselect(key="flt_action").value == ["update"]
    assert any("Only rows flagged Late-month billing day" in c.value for c in at.caption)
    shown = [c.value for c in at.caption if "row(s) match" in c.value][0]
    at.button(key="clear_flag_filter").click().run()
    assert not any("Only rows flagged" in c.value for c in at.caption)
    assert [c.value for c in at.caption if "row(s) match" in c.value][0] != shown


def test_the_margin_alert_starts_at_the_global_margin_threshold_the_plan_uses(app_env):
    from billbridge import store as st
    from billbridge.config import load_config

    open_demo(app_env)
    at = open_page("month_review.py", timeout=60, state={"billing_month": "2026-11"})
    assert at.number_input(key="mr_margin").value == 20  # the default threshold (model.DEFAULT_MARGIN_THRESHOLD)
    with st.Store.open(load_config(None).db_path) as store:
        st.set_setting(store, "margin_threshold", "25", by="test")
    at = open_page("month_review.py", timeout=60, state={"billing_month": "2026-11"})
    assert not at.exception, at.exception
    assert at.number_input(key="mr_margin").value == 25  # one threshold: the review's alert and the margin guard's
