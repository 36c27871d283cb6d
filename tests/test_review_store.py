"""The month review read from the store: the demo months 2026-10 and 2026-11 walked against the sandbox."""

from __future__ import annotations

from decimal import Decimal

from billbridge import export, month as mo, review
from billbridge.mappings import accept
from billbridge.sources import load_demo
from billbridge.store import Store


def demo_two_months(store, client, month="2026-11"):
    """Load 2026-10 and 2026-11 from the demo vendor, accept the suggested mappings and build both plans."""
    plans = {}
    for m in (export.previous_month(month), month):
        load_demo(store, m)
        mo.refresh_snapshot(store, client, m)
        accept(store, m, mo.snapshot_for(store, m))
        mo.refresh_snapshot(store, client, m)  # now with the additions of the mapped agreements
        plans[m] = mo.build_plan(store, m)
    return plans


def open_demo(app_env):
    """Store + connection of the app environment (sandbox), with both demo months planned."""
    from billbridge.config import load_config
    from billbridge.runtime import connect

    conn = connect(load_config(None))
    store = Store.open(app_env)
    return store, conn, demo_two_months(store, conn.client)


def test_review_from_store_compares_with_previous_plan_and_totals_equal_plan(app_env):
    store, conn, plans = open_demo(app_env)
    rv = export.load_review(store, "2026-11")
    plan, _ = plans["2026-11"]
    assert rv.previous_month == "2026-10" and rv.previous_totals is not None
    assert rv.totals.vendor_cost == sum(plan.rows["vendor_amount"].dropna(), Decimal(0))
    assert {"quantity_increase", "new_customer"} <= set(rv.changes["kind"])
    assert list(rv.trend["month"]) == ["2026-10", "2026-11"]
    assert "blocked" in set(rv.alerts["kind"])


def test_a_previous_month_known_only_from_its_vendor_bill_compares_vendor_cost_only(app_env):
    from billbridge.config import load_config
    from billbridge.runtime import connect

    conn = connect(load_config(None))
    store = Store.open(app_env)
    load_demo(store, "2026-10")  # loaded, never reconciled: no plan for October
    load_demo(store, "2026-11")
    mo.refresh_snapshot(store, conn.client, "2026-11")
    accept(store, "2026-11", mo.snapshot_for(store, "2026-11"))
    mo.refresh_snapshot(store, conn.client, "2026-11")
    mo.build_plan(store, "2026-11")
    rv = export.load_review(store, "2026-11")
    assert rv.previous_basis == "vendor"
    assert rv.delta("vendor_cost") is not None
    assert rv.delta("billed_price") is None and rv.delta("margin") is None
    assert rv.totals.margin_pct is not None and rv.totals.margin_pct > Decimal("0.20")  # blocked cost kept apart
    assert rv.totals.unbilled_cost > 0
