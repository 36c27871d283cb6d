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
    assert by_action == {"In sync": "16", "Update": "9", "Create": "3", "End line": "1", "Blocked": "13"}
    grid = at.dataframe[0].value
    assert len(grid) == 42 and "Acme Dental Group" in set(grid["Customer"])
    assert not any(str(v).isdigit() for v in grid["Agreement"])  # names, not raw ids


def test_filtering_by_action_and_customer_narrows_the_grid(mapped):
    at = page()
    at.multiselect(key="flt_action").select("blocked").run()
    grid = at.dataframe[0].value
    assert len(grid) == 13 and set(grid["Action"]) == {"Blocked"}
    at.multiselect(key="flt_customer").select("Evergreen Family Practice").run()
    grid = at.dataframe[0].value
    assert len(grid) == 2 and set(grid["Cause"]) == {"Customer not mapped"}


def test_detail_panel_shows_the_field_diff_the_exact_request_and_the_vendor_lines(mapped):
    at = page()
    at.selectbox(key="detail_key").select("demo|DC-10001|S-1001").run()
    assert not at.exception
    assert any("Acme Dental Group" in md.value and "Hosted PBX seat" in md.value for md in at.markdown)
    diff = next(d.value for d in at.dataframe if "after the push" in d.value.columns)
    assert list(diff["field"]) == ["Quantity"] and list(diff["after the push"]) == ["14"]
    request = at.json[0].value
    assert '"PATCH"' in request and "/additions/" in request
    lines = next(d.value for d in at.dataframe if "Row" in d.value.columns)
    assert list(lines["Subscription"]) == ["S-1001"]


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
    assert m[":material/block: Blocked"] == "14"  # Willow Creek is now excluded by the rule


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
    assert (m["Update"], m["Create"], m["End line"]) == ("0", "0", "0")


def test_create_count_includes_the_connectwise_records_requested_from_mappings(mapped):
    with Store.open(load_config(None).db_path) as store:
        snap = mo.snapshot_for(store, MONTH)
        rows = mp.company_creation("demo", "DC-10005", "Evergreen Family Practice", snap)
        mp.request_creation(store, rows)
    at = page()
    m = {x.label: x.value for x in at.metric}
    assert m[":material/add_circle: Create"] == str(3 + len(rows))  # was 3: the requested company was left out
    grid = at.dataframe[0].value
    assert (grid["Action"] == "Create").sum() == 3 + len(rows)


def test_selection_is_cleared_when_the_month_changes(mapped):
    with Store.open(load_config(None).db_path) as store:
        sources.load_demo(store, "2026-10")
    at = page()
    at.button(key="select_all").click().run()
    assert len(at.session_state["plan_selection"]) == 42
    at.session_state["billing_month"] = "2026-10"  # what the sidebar's month picker does
    at.run()
    assert not at.exception
    assert at.session_state["plan_selection"] == []
    assert "0 row(s) selected." in [c.value for c in at.caption]  # was "42 row(s) selected." on the new month


HOSTILE = ('=HYPERLINK("http://evil.example","click")', "**blocked: Evil · Hosted PBX seat · **",
           "<b>Bold</b> :red[Red] :material/warning: $5 and $6")


def test_vendor_text_in_the_row_detail_heading_and_reason_is_escaped(app_env):
    from billbridge_ui.text import md

    head = "vendor_customer_id,vendor_customer_name,sku,product_name,quantity,unit_cost,period_start,period_end"
    body = [f'E{i},"{n.replace(chr(34), chr(34) * 2)}",EVIL-{i},"{n.replace(chr(34), chr(34) * 2)}",1,5.00,2026-11-04,2026-12-03'
            for i, n in enumerate(HOSTILE)]
    cfg = load_config(None)
    conn = connect(cfg)
    try:
        with Store.open(cfg.db_path) as store:
            res = sources.load_month(store, MONTH, ("\n".join([head, *body]) + "\n").encode(), "evil.csv", "generic",
                                     vendor="evil")
            assert res.ok, res.problems
            mo.refresh_snapshot(store, conn.client, MONTH)
        at = page()
        keys = list(at.dataframe[0].value.index)
        for i, name in enumerate(HOSTILE):
            row_key = next(k for k in keys if f"|E{i}|" in k)
            at.selectbox(key="detail_key").set_value(row_key).run()
            assert not at.exception
            heading = next(m.value for m in at.markdown if md(name) in m.value)
            assert "**" + md(name) not in heading or heading.count("**") == 2  # only billbridge's own bold frame
            assert "](" not in heading and "<b>" not in heading and "http://" not in heading
            notes = [w.value for w in at.warning]
            assert all("<b>" not in n and "http://" not in n for n in notes)
    finally:
        conn.close()
        if conn.sandbox is not None:
            conn.sandbox.stop()


def test_a_past_month_row_is_confirmed_and_overridden_with_a_reason_from_the_detail_panel(mapped):
    """Issue 12 item 1 on the page: after November is pushed, October's standing rows are blocked (a newer month
    was pushed); confirming one asks for a reason because ConnectWise invoiced October; with one it is a
    correction line to push."""
    from billbridge import push as pu

    cfg = load_config(None)
    conn = connect(cfg)
    with Store.open(cfg.db_path) as store:
        plan, plan_id = mo.build_plan(store, MONTH)
        rows = plan.rows[plan.rows["action"].isin(["update", "create", "cancel"])]
        assert pu.push(store, conn.client, rows, month=MONTH, plan_id=plan_id).writes
        # October billed Acme Dental two PBX seats more than the standing line now holds (November's)
        october_lines = sources.demo_lines("2026-10")
        acme = (october_lines["vendor_customer_id"] == "DC-10001") & (october_lines["sku"] == "HPBX-SEAT")
        october_lines.loc[acme, "quantity"] = (october_lines.loc[acme, "quantity"].astype(int) + 2).astype(str)
        assert sources.load_month(store, "2026-10", october_lines.to_csv(index=False).encode(), "october.csv",
                                  "generic", vendor=sources.DEMO_VENDOR).ok
    at = open_page("reconcile.py", state={"billing_month": "2026-10"}, timeout=60)
    assert not at.exception, at.exception
    with Store.open(cfg.db_path) as store:
        october = mo.latest_plan(store, "2026-10").rows
    key = next(k for k, c, r in zip(october["key"], october["cause"], october["reason"])
               if c == "past_month" and "Confirm it with" in r)  # a correction in dollars is offered
    assert key.startswith("demo|DC-10001|")
    foxtrot = october[october["vendor_customer_id"] == "DC-10006"]  # mgarcia's hand edit stays hers
    assert "manually_edited" in set(foxtrot["cause"]) and "past_month" not in set(foxtrot["cause"])
    at.selectbox(key="detail_key").set_value(key).run()
    assert any("billbridge already pushed November 2026" in w.value for w in at.warning)
    at.button(key=f"override_{key}").click().run()
    assert not at.exception, at.exception
    with Store.open(cfg.db_path) as store:
        assert st.month_overrides(store, "2026-10") == {key: ""}
    at.selectbox(key="detail_key").set_value(key).run()
    assert any("already invoiced" in w.value for w in at.warning)
    # confirmed without a reason, the correction falls in an invoiced month: the panel asks for the reason there
    assert any("give the reason" in c.value for c in at.caption)
    assert at.button(key=f"override_{key}").disabled  # not without one
    at.text_input(key=f"override_reason_{key}").input("credit agreed with the customer").run()
    at.button(key=f"override_{key}").click().run()
    assert not at.exception, at.exception
    with Store.open(cfg.db_path) as store:
        assert st.month_overrides(store, "2026-10") == {key: "credit agreed with the customer"}
    at.selectbox(key="detail_key").set_value(key).run()
    assert any("correction line for October 2026" in i.value for i in at.info)
    assert at.button(key=f"unoverride_{key}")  # overridden: it can be taken back
    conn.close()
