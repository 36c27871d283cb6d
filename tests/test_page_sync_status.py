"""Sync status page and the push panel (AppTest): preview, push, per-row results, failure
explanation, retry and undo, on the embedded sandbox with the demo month."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from apptest_util import open_page
from billbridge.cli import main

MONTH = "2026-11"
STATE = {"billing_month": MONTH}


def cli(*args):
    res = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return res


@pytest.fixture
def planned(app_env):
    assert cli("load", MONTH, "--demo").exit_code == 0
    assert cli("map", "suggest", MONTH, "--accept-above", "95").exit_code == 0
    assert cli("reconcile", MONTH).exit_code == 0
    return app_env


@pytest.fixture
def pushed(planned):
    from billbridge.config import load_config
    from billbridge.runtime import connect

    client = connect(load_config()).client  # the app's sandbox: a person deactivates a catalog item
    item = client.list("/procurement/catalog", conditions='identifier="HPBX-SEAT"')[0]
    client.patch_fields(f"/procurement/catalog/{item['id']}", {"inactiveFlag": True})
    out = json.loads(cli("push", MONTH, "--all-ready", "--json").output)
    assert out["counts"]["failed"] >= 1  # every HPBX-SEAT write: "Product is inactive"
    return out


def texts(at):
    return " ".join(str(e.value) for e in [*at.error, *at.warning, *at.info, *at.success, *at.caption, *at.markdown])


def test_sync_status_without_runs_says_how_to_push(planned):
    at = open_page("sync_status.py", state=STATE)
    assert not at.exception
    assert "No push runs for 2026-11" in texts(at)


def test_sync_status_shows_row_results_and_explains_the_inactive_product_failure(pushed):
    at = open_page("sync_status.py", state=STATE)
    assert not at.exception
    rows = at.dataframe[1].value
    assert len(rows) == len(pushed["rows"]) and set(rows["Result"]) >= {"OK", "Failed"}
    companies = at.dataframe[0].value
    assert companies["Status"].str.startswith("OK").any() and companies["Status"].str.startswith("ATTENTION").any()
    assert "Product is inactive" in texts(at) and "reactivate it" in texts(at)


def test_sync_status_filters_by_result(pushed):
    at = open_page("sync_status.py", state=STATE)
    at.multiselect(key="ss_status").set_value(["failed"]).run()
    assert set(at.dataframe[1].value["Result"]) == {"Failed"}


def test_retry_selected_failures_makes_a_new_journaled_run(pushed):
    at = open_page("sync_status.py", state=STATE)
    at.button(key="ss_retry").click().run()
    assert not at.exception
    assert "Retry run" in texts(at)
    status = json.loads(cli("status", MONTH, "--json").output)
    assert status["runs"][0]["kind"] == "retry" and status["runs"][0]["parent_run_id"] == pushed["run_id"]


def test_undo_previews_then_runs_as_a_linked_run(pushed):
    at = open_page("sync_status.py", state=STATE)
    at.selectbox(key="ss_undo_run").set_value(pushed["run_id"])
    at.button(key="ss_undo_preview").click().run()
    table = at.dataframe[-1].value
    assert len(table) and table["Request"].str.match(r"(PATCH|DELETE) ").all()  # created lines are deleted
    assert at.button(key="ss_undo_go").disabled
    at.checkbox(key="ss_undo_ok").check().run()
    at.button(key="ss_undo_go").click().run()
    assert not at.exception
    assert "Undo run" in texts(at)
    status = json.loads(cli("status", MONTH, "--json").output)
    assert status["runs"][0]["kind"] == "undo" and status["runs"][0]["parent_run_id"] == pushed["run_id"]
    companies = at.dataframe[0].value  # the page after the undo: no company says it is synced
    assert companies["Status"].str.startswith("UNDONE").any() and not companies["Status"].str.startswith("OK").any()
    assert any(f"undone by run {status['runs'][0]['id']}" in str(o) for o in at.selectbox(key="ss_run").options)


def test_push_panel_previews_exact_requests_asks_confirmation_then_pushes_once(planned):
    at = open_page("reconcile.py", state=STATE, timeout=60)  # the Reconcile page renders the push panel
    assert not at.exception and "Select plan rows" in texts(at)
    at.button(key="push_select_ready").click().run()
    preview = at.dataframe[-1].value
    assert len(preview) and set(preview["Method"]) <= {"PATCH", "POST"}
    assert all(json.loads(b) for b in preview["Body"])
    confirm = at.checkbox(key="push_confirm")
    assert f"push {len(preview)} rows" in confirm.label and "$" in confirm.label
    assert at.button(key="push_go").disabled
    confirm.check().run()
    at.button(key="push_go").click().run()
    assert not at.exception
    assert "Push run" in texts(at)
    status = json.loads(cli("status", MONTH, "--json").output)
    assert len(status["runs"]) == 1 and status["runs"][0]["writes"] > 0
    # the pushed rows are no longer selected (was: "N row(s) selected" survived the push)
    assert at.session_state["plan_selection"] == [] and "0 row(s) selected." in texts(at)
