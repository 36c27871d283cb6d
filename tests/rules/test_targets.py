"""Targets (Rules 7.3, 3.5, 6.5, 6.1, 3.4, 5.1): what the line should hold, which fields differ, the action."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from rules_support import CUST, addition, lines, mappings, only, run, snapshot, vline


def test_only_the_fields_that_differ_are_written():
    r = only(run(lines(vline(qty="14", price="26.00")), snapshot([addition(1, qty=12)])), key="demo|DC-1|S-1")
    assert r.action == "update"
    assert r.writes == [{"field": "quantity", "from": D("12.0"), "to": D("14")},
                        {"field": "unitPrice", "from": D("25.0"), "to": D("26.00")}]
    assert r.request["body"] == [{"op": "replace", "path": "quantity", "value": 14},
                                 {"op": "replace", "path": "unitPrice", "value": 26}]


def test_a_price_the_mapping_does_not_own_is_never_written():
    r = only(run(lines(vline(price="30.00")), snapshot([addition(1)]), mappings(own_price=False)), key="demo|DC-1|S-1")
    assert (r.action, r.writes) == ("in_sync", [])


def test_no_vendor_price_keeps_connectwises_price_and_says_so():
    r = only(run(lines(vline(qty="9", price=None)), snapshot([])), key="demo|DC-1|S-1")
    assert "unitPrice" not in r.request["body"] and "no_vendor_price" in r.flags
    assert r.new_unit_price == D("25.0")  # the catalog price ConnectWise takes


@pytest.mark.parametrize("rule, value, expected", [("fixed_quantity", "5", "5"), ("cap", "8", "8"), ("cap", "50", "10")])
def test_fixed_quantity_and_cap(rule, value, expected):
    r = only(run(lines(vline(qty="10")), snapshot([]),
                 mappings(rules=[{"vendor_customer_id": CUST, "sku": "HPBX-SEAT", "rule": rule, "value": D(value)}])),
             key="demo|DC-1|S-1")
    assert (r.vendor_quantity, r.vendor_quantity_raw, r.vendor_amount) == (D(expected), D("10"), D("180.00"))


def test_a_credit_without_a_price_is_priced_at_cost():
    credit = vline(sub="S-2", sku="ARCHIVE", qty="-9", cost="1.50", price=None, charge_type="credit")
    r = only(run(lines(credit), snapshot([])), charge_type="credit")
    assert r.vendor_unit_price == D("1.50") and "credit_priced_at_cost" in r.flags
    assert r.request["body"]["unitPrice"] == 1.5


def test_a_one_month_line_runs_from_the_first_to_the_last_day():
    one = vline(sub="S-3", sku="PHONE-SETUP", qty="1", cost="49.00", price="99.00", charge_type="one_time",
                period=None, effective="2026-11-18")
    r = only(run(lines(one), snapshot([])), charge_type="one_time")
    assert (r.effective_date, r.cancelled_date) == ("2026-11-01", "2026-11-30")


def test_a_standing_line_starts_on_the_vendors_date_in_the_month_else_the_first():
    r = only(run(lines(vline(effective="2026-11-17")), snapshot([])), key="demo|DC-1|S-1")
    assert (r.effective_date, r.cancelled_date) == ("2026-11-17", None)
    r = only(run(lines(vline(effective="2026-09-17")), snapshot([])), key="demo|DC-1|S-1")
    assert r.effective_date == "2026-11-01"


def test_a_months_line_with_wrong_dates_is_corrected():
    add = addition(1, key="demo|DC-1|S-1|2026-11", eff="2026-11-05", cancelled="2026-11-30")
    r = only(run(lines(vline()), snapshot([add]), mappings(mode="monthly")), key="demo|DC-1|S-1|2026-11")
    assert r.writes == [{"field": "effectiveDate", "from": "2026-11-05", "to": "2026-11-01"}]
