"""The billing month lives in the URL (``?month=2026-11``): a shared link or a browser refresh opens
that month, and choosing another month in the sidebar writes it into the URL."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from apptest_util import APP
from billbridge import clock


def _app(month: str | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=30)
    if month is not None:
        at.query_params["month"] = month
    at.run()
    assert not at.exception, at.exception
    return at


def test_a_link_with_a_month_opens_that_month(app_env):
    at = _app("2026-09")
    assert at.session_state["billing_month"] == "2026-09"
    assert at.sidebar.selectbox(key="month_picker").value == "2026-09"
    assert at.query_params["month"] == "2026-09"


def test_without_a_month_the_app_opens_on_the_current_month_and_puts_it_in_the_url(app_env):
    at = _app()
    assert at.session_state["billing_month"] == clock.current_month()
    assert at.query_params["month"] == clock.current_month()


def test_choosing_a_month_in_the_sidebar_writes_it_into_the_url_and_a_refresh_keeps_it(app_env):
    at = _app()
    at.sidebar.selectbox(key="month_picker").select("2026-10").run()
    assert at.session_state["billing_month"] == "2026-10" and at.query_params["month"] == "2026-10"
    at.switch_page("pages/timeline.py").run()  # a page switch keeps the month in the URL
    assert at.query_params["month"] == "2026-10"
    refreshed = _app(at.query_params["month"])  # a refresh: a new session from the same URL
    assert refreshed.session_state["billing_month"] == "2026-10"


def test_a_month_far_from_today_in_the_link_is_offered_in_the_sidebar(app_env):
    at = _app("2019-04")
    picker = at.sidebar.selectbox(key="month_picker")
    assert picker.value == "2019-04" and "2019-04" in picker.options


def test_a_link_with_a_bad_month_opens_the_current_month_and_says_why(app_env):
    at = _app("2026-13")
    assert at.session_state["billing_month"] == clock.current_month()
    assert at.query_params["month"] == clock.current_month()
    assert any("'2026-13' is not a billing month" in t.value for t in at.toast)
