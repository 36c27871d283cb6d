"""The one plan lifecycle (billbridge.plan.build.ensure_plan): ConnectWise is read only when the
stored read is out of date, a plan is built only when what it depends on changed, the plan built
from the typed tables is the plan the records give, and both front ends go through it."""

from __future__ import annotations

from decimal import Decimal

import pandas as pd
import pytest
from click.testing import CliRunner

from billbridge import demo_world as dw
from billbridge import month as mo
from billbridge import push, sources
from billbridge import store as st
from billbridge.plan import build
from billbridge.model import ROW_COLUMNS
from billbridge.plan import Context, Mappings, plan_to_json, reconcile
from demo_month_support import MONTH, TODAY, close, demo_month_world
from sandbox_fixtures import new_sandbox
from test_month_demo import client_for


class Factory:
    """A client factory that counts how often the lifecycle asked for ConnectWise."""

    def __init__(self, client):
        self.client, self.calls = client, 0

    def __call__(self):
        self.calls += 1
        return self.client


@pytest.fixture
def fresh(tmp_path):
    sb = new_sandbox()
    client = client_for(sb)
    store = st.Store.open(tmp_path / "billbridge.db")
    sources.load_demo(store, MONTH)
    yield store, Factory(client)
    store.close()
    client.close()
    sb.stop()


def test_a_first_plan_reads_connectwise_then_nothing_is_read_or_built_until_something_changes(fresh):
    store, factory = fresh
    first = build.ensure_plan(store, factory, MONTH, today=TODAY)
    assert factory.calls == 1 and first.refreshed == "for the first time this month" and first.built
    assert first.note.startswith("Read ConnectWise (") and first.plan_id == st.latest_plan_meta(store, MONTH)["id"]
    again = build.ensure_plan(store, factory, MONTH, today=TODAY)
    assert factory.calls == 1 and again.refreshed is None and not again.built and again.note is None
    assert again.plan_id == first.plan_id
    # a rule changes the plan, not what ConnectWise holds: rebuilt, not read
    st.set_mappings(store, "rule", "demo", [{"vendor_customer_id": "DC-10023", "rule": "do_not_sync"}], by="ann")
    rule = build.ensure_plan(store, factory, MONTH, today=TODAY)
    assert factory.calls == 1 and rule.built and rule.plan_id > first.plan_id
    # a newly mapped agreement: its additions were never read
    agreement = next(a["id"] for a in mo.snapshot_for(store, MONTH)["agreements"] if a["name"] == "Demo Cloud Services")
    st.set_mappings(store, "agreement", "demo", [{"vendor_customer_id": "DC-10001", "agreement_id": agreement}], by="ann")
    mapped = build.ensure_plan(store, factory, MONTH, today=TODAY)
    assert factory.calls == 2 and mapped.refreshed == "1 newly mapped agreement(s)" and mapped.built
    # asked to: read and rebuild whatever the state
    asked = build.ensure_plan(store, factory, MONTH, refresh=True, today=TODAY)
    assert factory.calls == 3 and asked.refreshed == "as asked" and asked.built


def test_after_a_push_connectwise_is_read_again_before_the_next_plan(fresh):
    from billbridge import mappings as mp

    store, factory = fresh
    build.ensure_plan(store, factory, MONTH, today=TODAY)
    mp.accept(store, MONTH, mo.snapshot_for(store, MONTH), by="ann")
    res = build.ensure_plan(store, factory, MONTH, today=TODAY)
    updates = res.plan.rows[res.plan.rows["action"] == "update"].head(2)
    assert len(updates) == 2
    push.push(store, factory.client, updates, month=MONTH, plan_id=res.plan_id, operator="ann")
    after = build.ensure_plan(store, factory, MONTH, today=TODAY)
    assert after.refreshed == "billbridge wrote to it since the last read" and after.built
    keys = set(updates["key"])
    assert set(after.plan.rows.loc[after.plan.rows["key"].isin(keys), "action"]) == {"in_sync"}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    w = demo_month_world(tmp_path_factory.mktemp("lifecycle"))
    yield w
    close(w)


def test_the_plan_from_typed_tables_is_the_plan_the_records_and_typed_lines_give(world):
    """The lifecycle reads snapshot frames and raw line text from SQL; the reconciliation of the
    records and Decimal lines (the path before issue 9) gives the same rows, value for value."""
    store = world["store"]
    imp = st.month_imports(store, MONTH)[0]
    ctx = Context(month=MONTH, vendor="demo", api_member=mo.api_member_for(), today=TODAY,
                  journal=st.written_lines(store), vendor_name=mo.vendor_name("demo"),
                  line_key_field=dw.LINE_KEY_FIELD, line_key_field_id=dw.LINE_KEY_FIELD_ID)
    old = reconcile(st.import_lines(store, imp["id"]), mo.snapshot_for(store, MONTH),
                    Mappings(**st.mapping_frames(store, "demo")), ctx)
    new = world["plan"].rows[list(old.rows.columns)]
    assert plan_to_json(old)["rows"] == plan_to_json(type(old)(rows=new, summary=old.summary))["rows"]


def test_the_stored_plan_reads_back_as_the_plan_built(world):
    stored = st.plan_rows(world["store"], world["plan_id"])
    built = plan_to_json(world["plan"])["rows"]
    assert len(stored) == len(built)
    for s, b in zip(stored, built):
        assert {k: v for k, v in s.items() if v not in (None, [])} == {k: v for k, v in b.items() if v not in (None, [])}
    frame = mo.latest_plan(world["store"], MONTH).rows
    assert list(frame["key"]) == list(world["plan"].rows["key"])
    pd.testing.assert_series_equal(frame["price_impact"], world["plan"].rows["price_impact"].astype(object),
                                   check_names=False, check_dtype=False)


def test_the_reconcile_page_and_the_command_run_the_same_lifecycle(app_env, monkeypatch):
    from apptest_util import open_page
    from billbridge.cli import main

    calls = []
    real = build.ensure_plan

    def spy(store, client, month, **kw):
        calls.append(month)
        return real(store, client, month, **kw)

    monkeypatch.setattr(build, "ensure_plan", spy)
    with st.Store.open(app_env) as s:
        sources.load_demo(s, MONTH)
    result = CliRunner().invoke(main, ["reconcile", MONTH])
    assert result.exit_code == 0, result.output
    assert "Read ConnectWise for 2026-11 (for the first time this month)" in result.output
    at = open_page("reconcile.py", state={"billing_month": MONTH}, timeout=60)
    assert not at.exception
    assert calls == [MONTH, MONTH]
    again = CliRunner().invoke(main, ["reconcile", MONTH])
    assert again.exit_code == 0 and "unchanged since it was built" in again.output


def test_the_arrow_inputs_the_lifecycle_reads_are_the_tables_its_frames_give(world):
    """The stored lines and snapshot read as Arrow (no Python object per value) become exactly the tables
    the rules read from the frames the store gave before."""
    from billbridge.plan import tables

    store = world["store"]
    imp = st.month_imports(store, MONTH)[0]
    sid = st.latest_snapshot(store, MONTH)["id"]
    assert tables.vendor_lines_table(st.import_line_table(store, imp["id"])).equals(
        tables.vendor_lines_table(st.import_lines(store, imp["id"], raw=True)))
    from_arrow = tables.snapshot_tables(st.load_snapshot_tables(store, sid))
    from_frames = tables.snapshot_tables(st.load_snapshot_frames(store, sid))
    assert from_arrow.keys() == from_frames.keys()
    for name in from_frames:
        assert from_arrow[name].equals(from_frames[name]), name


def test_the_built_plan_is_arrow_and_its_rows_the_contract_frame(world):
    plan = world["plan"]
    assert plan.table.num_rows == len(plan.rows) and "writes" not in plan.table.column_names
    assert list(plan.rows.columns[:len(ROW_COLUMNS)]) == list(ROW_COLUMNS)
    assert all(plan.rows[c].dtype == object for c in plan.rows.columns)
    row = plan.rows[plan.rows["action"] == "update"].iloc[0]
    assert isinstance(row["cw_quantity"], Decimal) and isinstance(row["flags"], tuple) and row["writes"]
    assert plan.rows[plan.rows["action"] == "in_sync"]["writes"].map(lambda w: w == []).all()


def test_two_vendors_plans_are_one_plan_one_after_the_other(tmp_path):
    w = demo_month_world(tmp_path)
    try:
        store = w["store"]
        demo = st.month_imports(store, MONTH)[0]
        lines = st.import_lines(store, demo["id"], raw=True).head(3)
        st.record_import(store, vendor="acme", billing_month=MONTH, file_name="acme.csv", sha256="1" * 64,
                         format="generic", lines=lines, total_cost="0", total_price="0")
        plan, plan_id = build.build_plan(store, MONTH, today=TODAY)
        vendors = list(plan.rows["vendor"])
        assert vendors[:3] == ["acme"] * 3 and set(vendors[3:]) == {"demo"}
        assert plan.table.num_rows == len(plan.rows) == len(st.plan_rows(store, plan_id))
        assert set(plan.rows["cause"][:3]) == {"unmapped_customer"}
        assert plan.summary.vendor == "acme,demo"
    finally:
        close(w)
