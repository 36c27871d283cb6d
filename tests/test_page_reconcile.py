"""Reconcile page (AppTest): headline metrics, filtering the plan, the detail panel, selection for the push."""

from __future__ import annotations

import pytest

from apptest_util import open_page
from billbridge import mappings as mp
from billbridge import month as mo
from billbridge import sources
from billbridge import store as st
from billbridge.config import load_config
from billbridge.runtime import connect
from billbridge.store import Store

MONTH = "2026-11"


@pytest.fixture
def mapped(app_env):
    """The demo month loaded and every clean suggestion scoring 90+ accepted, as an operator would."""
    cfg = load_config(None)
    conn = connect(cfg)
    with Store.open(cfg.db_path) as store:
        sources.load_demo(store, MONTH)
        mo.refresh_snapshot(store, conn.client, MONTH)
        mp.accept(store, MONTH, mo.snapshot_for(store, MONTH))
    yield app_env
    conn.close()
    if conn.sandbox is not None:
        conn.sandbox.stop()


def page(**state):
    at = open_page("reconcile.py", state={"billing_month": MONTH, **state}, timeout=60)
    assert not at.exception, at.exception
    return at


def test_headline_shows_lines_dollars_coverage_and_every_action(mapped):
    at = page()
    m = {x.label: x.value for x in at.metric}
    assert m["Vendor lines"] == "41" and m["Vendor dollars"] == "$8,804.32" and m["Coverage"] == "68%"
    by_action = {k.split(" ", 1)[1]: v for k, v in m.items() if k.startswith(":material/")}
    assert by_action == {"in sync": "16", "update": "9", "create": "3", "cancel": "1", "blocked": "13"}
    grid = at.dataframe[0].value
    assert len(grid) == 42 and "Acme Dental Group" in set(grid["customer"])
    assert not any(str(v).isdigit() for v in grid["agreement"])  # names, not raw ids


def test_filtering_by_action_and_customer_narrows_the_grid(mapped):
    at = page()
    at.multiselect(key="flt_action").select("blocked").run()
    grid = at.dataframe[0].value
    assert len(grid) == 13 and set(grid["action"]) == {"blocked"}
    at.multiselect(key="flt_customer").select("Evergreen Family Practice").run()
    grid = at.dataframe[0].value
    assert len(grid) == 2 and set(grid["cause"]) == {"unmapped customer"}


def test_detail_panel_shows_the_field_diff_the_exact_request_and_the_vendor_lines(mapped):
    at = page()
    at.selectbox(key="detail_key").select("demo|DC-10001|S-1001").run()
    assert not at.exception
    assert any("Acme Dental Group" in md.value and "Hosted PBX seat" in md.value for md in at.markdown)
    diff = next(d.value for d in at.dataframe if "after the push" in d.value.columns)
    assert list(diff["field"]) == ["quantity"] and list(diff["after the push"]) == ["14"]
    request = at.json[0].value
    assert '"PATCH"' in request and "/additions/" in request
    lines = next(d.value for d in at.dataframe if "line_no" in d.value.columns)
    assert list(lines["subscription_id"]) == ["S-1001"]


def test_select_all_matching_rows_puts_their_keys_in_plan_selection(mapped):
    at = page()
    at.multiselect(key="flt_cause").select("ambiguous").run()
    at.button(key="select_all").click().run()
    assert at.session_state["plan_selection"] == ["demo|DC-10007|S-1013"]
    at.button(key="clear_selection").click().run()
    assert at.session_state["plan_selection"] == []


def test_a_mapping_change_rebuilds_the_plan_on_the_next_visit(mapped):
    at = page()
    with Store.open(load_config(None).db_path) as store:
        first = st.latest_plan_meta(store, MONTH)["id"]
        st.set_mappings(store, "rule", "demo", [{"vendor_customer_id": "DC-10023", "rule": "do_not_sync"}])
    at.run()
    m = {x.label: x.value for x in at.metric}
    with Store.open(load_config(None).db_path) as store:
        assert st.latest_plan_meta(store, MONTH)["id"] == first + 1
    assert m[":material/block: blocked"] == "14"  # Willow Creek is now excluded by the rule


def test_month_without_vendor_lines_says_to_load_it_first(app_env):
    at = page(billing_month="2026-05")
    assert any("No vendor month is loaded" in i.value for i in at.info)


def test_after_a_push_the_page_reads_connectwise_again_and_shows_nothing_left_to_write(mapped):
    from billbridge import push

    page()  # builds the plan from a snapshot taken before the push
    cfg = load_config(None)
    conn = connect(cfg)
    with Store.open(cfg.db_path) as store:
        plan = mo.latest_plan(store, MONTH)
        ready = plan.rows[plan.rows["action"].isin(["update", "create", "cancel"])]
        run = push.push(store, conn.client, ready, month=MONTH)
        assert run.counts["ok"] == len(ready) > 0
        assert mo.written_since_snapshot(store, MONTH)
    at = page()
    assert any("billbridge wrote to it" in t.proto.body for t in at.toast)
    m = {x.label.split(" ", 1)[1]: x.value for x in at.metric if x.label.startswith(":material/")}
    assert (m["update"], m["create"], m["cancel"]) == ("0", "0", "0")
