"""Excluded by rule (Rule 3.5, section 8): a customer (or one SKU of it) set to "do not sync" is left out on
purpose: counted in the excluded bucket, shown, never written, its ended lines left alone too."""

from __future__ import annotations

from decimal import Decimal as D

from rules_support import CUST, addition, lines, mappings, only, run, snapshot, vline

DO_NOT_SYNC = {"vendor_customer_id": CUST, "sku": None, "rule": "do_not_sync", "value": None}


def test_a_do_not_sync_customer_is_excluded_not_blocked():
    plan = run(lines(vline()), snapshot([addition(1, qty=3)]), mappings(rules=[DO_NOT_SYNC]))
    r = only(plan, key="demo|DC-1|S-1")
    assert (r.action, r.cause, r.bucket, r.request) == ("blocked", "excluded_by_rule", "excluded", None)
    assert plan.summary.dollars_excluded == D("180.00") and "do not sync" in r.reason


def test_a_rule_for_one_sku_excludes_only_that_sku():
    rule = {"vendor_customer_id": CUST, "sku": "EXCH-MBX", "rule": "do_not_sync", "value": None}
    plan = run(lines(vline(), vline(sub="S-2", sku="EXCH-MBX", cost="4.50", price="7.00")), snapshot([]),
               mappings(rules=[rule]))
    assert only(plan, sku="EXCH-MBX").cause == "excluded_by_rule"
    assert only(plan, sku="HPBX-SEAT").action == "create"


def test_a_do_not_sync_customers_stale_line_is_not_ended():
    plan = run(lines(vline()), snapshot([addition(1), addition(2, product=506, key="demo|DC-1|S-2")]),
               mappings(rules=[DO_NOT_SYNC]))
    r = only(plan, key="demo|DC-1|S-2")
    assert (r.action, r.cause, r.bucket, r.writes) == ("blocked", "excluded_by_rule", "excluded", [])
