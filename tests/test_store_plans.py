"""Stored plans: typed rows that read back exactly as saved (from a frame or from dicts), pages and
filters over them, and retention (the newest five unpushed plans of a month, every pushed one)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pandas as pd
import pytest

from billbridge import store as st
from billbridge.errors import ConservationError
from billbridge.store import Store

M = "2026-11"


@pytest.fixture
def store(tmp_path):
    s = Store.open(tmp_path / "billbridge.db")
    yield s
    s.close()


def rows(n: int = 3) -> list[dict]:
    out = []
    for i in range(n):
        out.append({
            "key": f"demo|C{i}|S{i}", "action": ["in_sync", "update", "blocked"][i % 3],
            "cause": "unmapped_customer" if i % 3 == 2 else None, "reason": f"Customer {i}: ...",
            "bucket": "blocked" if i % 3 == 2 else "reconciled", "flags": ["late_month_bdom"] if i == 1 else [],
            "vendor": "demo", "vendor_customer_id": f"C{i}", "vendor_customer_name": f"Customer {i}",
            "subscription_id": f"S{i}", "sku": "SKU", "product_name": "Seat", "charge_type": "recurring",
            "term": "monthly", "billing_frequency": "monthly", "sync_mode": "standing", "quantity_basis": "seats",
            "company_id": 7, "company_name": "Acme", "agreement_id": 70, "agreement_name": "Acme Managed",
            "catalog_item_id": 500, "product_identifier": "SEAT", "product_description": "Hosted seat",
            "vendor_lines": [2 + i, 40], "vendor_line_count": 2, "vendor_amount": "30.00", "vendor_quantity_raw": "3",
            "vendor_quantity": "3", "vendor_unit_cost": "10.00", "vendor_unit_price": "0.1250",
            "cw_addition_id": 900 + i, "cw_quantity": "2.0", "cw_unit_price": "15.0", "cw_unit_cost": "10",
            "cw_effective_date": "2025-01-01", "cw_cancelled_date": None, "new_quantity": "3",
            "new_unit_price": "15.0", "new_unit_cost": "10", "effective_date": "2025-01-01", "cancelled_date": None,
            "writes": [{"field": "quantity", "from": "2.0", "to": "3"}] if i == 1 else [],
            "request": {"method": "PATCH", "path": f"/finance/agreements/70/additions/{900 + i}",
                        "body": [{"op": "replace", "path": "quantity", "value": 3}]} if i == 1 else None,
            "price_impact": "15.00" if i == 1 else "0", "margin_impact": "0.00", "cw_proration": None,
            "vendor_proration": None, "credit_for": None, "currency": "USD", "target": "addition", "lookup": None,
            "depends_on": [], "maps": None,
            # issue 12's columns (empty here: a row without them reads back with None)
            **{c: None for c in ("impact_by_cause", "override_reason", "margin_pct_before", "margin_pct_after",
                                 "price_rule", "term_start", "term_end", "term_source", "window_end",
                                 "commitment_at_risk")},
        })
    return out


def test_dict_rows_read_back_exactly_as_saved(store):
    saved = rows(6)
    saved[0]["reason_done"] = "Created"  # a field beyond the columns is kept too
    pid = st.save_plan(store, M, None, {"status": "changes"}, saved)
    got = st.plan_rows(store, pid)
    assert got == saved
    assert st.plan_rows(store, pid, [saved[4]["key"], saved[1]["key"], "nope"]) == [saved[1], saved[4]]
    # who and what are stored once per plan
    assert store.conn.execute("SELECT COUNT(*) FROM plan_accounts WHERE plan_id = ?", (pid,)).fetchone()[0] == 6
    assert store.conn.execute("SELECT COUNT(*) FROM plan_products WHERE plan_id = ?", (pid,)).fetchone()[0] == 1


def test_a_frame_with_decimals_and_dates_is_stored_as_decimal_text_and_iso_dates(store):
    frame = pd.DataFrame(rows(3))
    frame["vendor_amount"] = [Decimal("30.00"), Decimal("31"), None]
    frame["cw_quantity"] = [Decimal("2.0"), Decimal("2"), Decimal("1E+1")]  # equal values, different texts
    frame["effective_date"] = [date(2026, 11, 1), None, "2025-01-01"]
    frame["company_id"] = [7.0, float("nan"), 8]
    pid = st.save_plan(store, M, None, {"status": "changes"}, frame)
    got = st.plan_rows(store, pid)
    assert [r["vendor_amount"] for r in got] == ["30.00", "31", None]
    assert [r["cw_quantity"] for r in got] == ["2.0", "2", "10"]
    assert [r["effective_date"] for r in got] == ["2026-11-01", None, "2025-01-01"]
    assert [r["company_id"] for r in got] == [7, None, 8]
    raw = store.conn.execute("SELECT typeof(company_id), typeof(vendor_amount), writes, lookup FROM plan_lines "
                             "WHERE plan_id = ? ORDER BY id", (pid,)).fetchall()
    assert raw[0][:2] == ("integer", "text") and raw[0][2] is None and raw[0][3] is None  # NULL, not '[]'


def test_a_repeated_key_stores_nothing(store):
    twice = rows(2) + rows(1)
    with pytest.raises(ConservationError, match="demo"):
        st.save_plan(store, M, None, {"status": "changes"}, twice)
    assert store.db["plans"].count == 0 and store.db["plan_rows"].count == 0


def test_pages_filters_and_facets_work_over_the_typed_rows(store):
    saved = rows(9)
    saved[4]["vendor_customer_name"] = None  # falls back to the company name
    pid = st.save_plan(store, M, None, {"status": "changes"}, saved)
    page, total = st.plan_page(store, pid, actions=["blocked", "update"], limit=2, offset=1)
    assert total == 6 and [r["key"] for r in page] == [saved[2]["key"], saved[4]["key"]]
    assert st.plan_page(store, pid, causes=[""], limit=None)[1] == 6
    assert st.plan_page(store, pid, customers=["Acme"], limit=None)[0] == [saved[4]]
    assert st.plan_keys(store, pid, products=["Hosted seat"], causes=["unmapped_customer"]) == \
        [r["key"] for r in saved if r["cause"]]
    f = st.plan_facets(store, pid)
    assert f["actions"] == ["blocked", "in_sync", "update"] and f["causes"] == ["unmapped_customer"]
    assert "Acme" in f["customers"] and f["products"] == ["Hosted seat"]


def test_a_month_keeps_its_five_newest_unpushed_plans_and_every_pushed_one(store):
    ids = [st.save_plan(store, M, None, {"status": "changes"}, rows(2)) for _ in range(3)]
    pushed = ids[0]
    st.create_push_run(store, month=M, plan_id=pushed, rows=[])
    other_month = st.save_plan(store, "2026-10", None, {"status": "changes"}, rows(2))
    ids += [st.save_plan(store, M, None, {"status": "changes"}, rows(2)) for _ in range(5)]
    kept = [r[0] for r in store.conn.execute("SELECT id FROM plans WHERE billing_month = ? ORDER BY id", (M,))]
    assert kept == [pushed, *ids[-5:]]
    assert st.get_plan(store, other_month) is not None
    left = {r[0] for r in store.conn.execute("SELECT DISTINCT plan_id FROM plan_rows")}
    assert left == {*kept, other_month}
    assert {r[0] for r in store.conn.execute("SELECT DISTINCT plan_id FROM plan_accounts")} == left


# ---- a plan's Arrow rows ------------------------------------------------------------------------
def _rules_plan():
    from rules_support import addition, lines, run, snapshot, vline

    vl = lines(vline(sub="S-1"), vline(sub="S-2", qty="4"), vline(sub="S-3", sku="EXCH-MBX", qty="3", cost="4.50",
                                                                  price="7.00"),
               vline(sub="S-4", sku="ARCHIVE", qty="-2", cost="-3.00", price=None, charge_type="credit"))
    snap = snapshot([addition(1), addition(2, qty=5, key="demo|DC-1|S-2"),
                     addition(3, product=506, key="demo|DC-1|S-9", qty=2, price=5.0, cost=3.0)])
    return run(vl, snap)


def test_a_plan_table_is_stored_as_its_frame_is_and_reads_back_the_same(store):
    plan = _rules_plan()
    assert set(plan.rows["action"]) >= {"in_sync", "update", "create", "cancel"}
    from_table = st.save_plan(store, M, None, {"status": "changes"}, plan.table, documents=plan.documents)
    from_frame = st.save_plan(store, M, None, {"status": "changes"}, plan.rows)
    assert st.plan_rows(store, from_table) == st.plan_rows(store, from_frame)
    assert [r["reason"] for r in st.plan_rows(store, from_table)] == list(plan.rows["reason"])


def test_an_in_sync_reason_is_stored_only_where_it_is_not_the_template_the_view_renders(store):
    plan = _rules_plan()
    pid = st.save_plan(store, M, None, {"status": "changes"}, plan.table, documents=plan.documents)
    stored = dict(store.conn.execute("SELECT key, reason FROM plan_rows WHERE plan_id = ?", (pid,)).fetchall())
    shown = dict(store.conn.execute("SELECT key, reason FROM plan_lines WHERE plan_id = ?", (pid,)).fetchall())
    in_sync = plan.rows[plan.rows["action"] == "in_sync"]
    assert stored["demo|DC-1|S-1"] is None and shown["demo|DC-1|S-1"] == in_sync.iloc[0]["reason"]
    assert shown["demo|DC-1|S-1"] == "Acme Dental: Hosted PBX seat on Demo Cloud Services is 10 in ConnectWise, as the vendor bills."
    for key, reason in zip(plan.rows["key"], plan.rows["reason"]):
        assert shown[key] == reason
        if key != "demo|DC-1|S-1":
            assert stored[key] == reason  # the others keep their text
    assert store.conn.execute("SELECT reason FROM month_plan_lines WHERE key = 'demo|DC-1|S-1'").fetchone()[0] == \
        shown["demo|DC-1|S-1"]


def test_a_row_in_sync_with_other_words_or_none_reads_back_as_saved(store):
    saved = rows(3)
    saved[0]["reason"] = None  # in sync, no reason at all
    saved[1].update(action="in_sync", reason="Vendor refund of 2 x Seat: already on Acme Managed.")
    pid = st.save_plan(store, M, None, {"status": "changes"}, saved)
    got = st.plan_rows(store, pid)
    assert got == saved
    assert list(st.plan_table(store, pid)["reason"]) == [None, saved[1]["reason"], saved[2]["reason"]]


def test_the_plan_views_follow_the_in_sync_template(store):
    store.conn.execute("DROP VIEW month_plan_lines")
    store.conn.execute("DROP VIEW plan_lines")
    store.conn.execute("CREATE VIEW plan_lines AS SELECT 1 AS id")  # as an older template would have left it
    path = store.path
    store.close()
    again = Store.open(path)
    try:
        assert [r["reason"] for r in again.db.query("SELECT reason FROM plan_lines")] == []
        assert {v for (v,) in again.conn.execute("SELECT name FROM sqlite_master WHERE type = 'view'")} >= \
            {"plan_lines", "month_plan_lines"}
    finally:
        again.close()
