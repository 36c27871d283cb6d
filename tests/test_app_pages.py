"""Every page renders on the sandbox without an exception, and the shell shows what mode it is in."""

from __future__ import annotations

import re

import pytest
from streamlit.testing.v1 import AppTest

from apptest_util import APP, ROOT, open_page, page_files


def test_every_page_file_is_listed_in_app_navigation():
    listed = set(re.findall(r'st\.Page\("pages/([a-z_]+\.py)"', (ROOT / "app.py").read_text()))
    assert listed == set(page_files())


@pytest.mark.parametrize("page", page_files())
def test_page_renders_on_the_sandbox_without_exception(app_env, page):
    at = open_page(page)
    assert not at.exception, at.exception


def test_sidebar_shows_sandbox_badge_and_billing_month_picker(app_env):
    at = AppTest.from_file(APP, default_timeout=30)
    at.run()
    assert not at.exception
    markdown = " ".join(str(m.value) for m in at.sidebar.markdown)
    assert "SANDBOX" in markdown
    month = at.sidebar.selectbox(key="month_picker")
    assert re.fullmatch(r"\d{4}-\d{2}", month.value)
    assert at.session_state["billing_month"] == month.value


def test_billing_month_chosen_in_sidebar_survives_page_switch(app_env):
    at = AppTest.from_file(APP, default_timeout=30)
    at.run()
    at.sidebar.selectbox(key="month_picker").select("2026-10").run()
    assert at.session_state["billing_month"] == "2026-10"
    at.switch_page("pages/connection.py").run()
    assert at.session_state["billing_month"] == "2026-10"
