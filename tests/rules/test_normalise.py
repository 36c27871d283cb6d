"""Normalisation (Rules 6.5, 7.4, 1.1-1.5): credits always reduce, each line's amount is rounded once, and a
recurring line the vendor prorated gets its full-period unit back for the standing line."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pytest

from billbridge.errors import InputError
from billbridge.rules.normalise import full_period_unit, prorated_tail
from rules_support import lines, mappings, only, run, snapshot, vline


@pytest.mark.parametrize("qty, cost", [("-9", "-1.50"), ("9", "1.50"), ("-9", "1.50"), ("9", "-1.50")])
def test_a_credit_is_a_negative_quantity_at_a_positive_unit_whatever_the_file_said(qty, cost):
    credit = vline(sub="S-2", sku="ARCHIVE", qty=qty, cost=cost, price=None, charge_type="credit")
    plan = run(lines(vline(), credit), snapshot([]))
    r = only(plan, charge_type="credit")
    assert (r.vendor_quantity, r.vendor_unit_cost, r.vendor_amount) == (D("-9"), D("1.50"), D("-13.50"))
    assert plan.summary.dollars_checked == D("166.50")  # 180.00 - 13.50


def test_the_vendors_digits_are_kept():
    r = only(run(lines(vline(qty="12385", cost="0.0120", price="0.0200", charge_type="usage", sku="VOICE-MIN",
                             period=("2026-10-05", "2026-11-04"))), snapshot([])), key="demo|DC-1|S-1")
    assert str(r.vendor_unit_cost) == "0.0120" and str(r.vendor_amount) == "148.62"


@pytest.mark.parametrize("anchor, start, end, expected", [
    (4, date(2026, 11, 17), date(2026, 12, 3), (30, 17)),   # BDOM 4 Nov -> 4 Dec; 17 Nov..3 Dec is its tail
    (4, date(2026, 11, 4), date(2026, 12, 3), None),        # the whole period: not prorated
    (4, date(2026, 11, 17), date(2026, 11, 30), None),      # does not end on the BDOM
    (31, date(2026, 2, 10), date(2026, 2, 27), (28, 18)),   # anchor 31 clamps to 28 Feb (Rule 1.1)
])
def test_the_prorated_tail_of_a_bdom_period(anchor, start, end, expected):
    assert prorated_tail(anchor, start, end) == expected


def test_a_vendor_prorated_unit_is_restored_to_the_full_period():
    # 14.17 for 17 of 30 days -> 14.17 x 30 / 17 = 25.005... -> 25.01 (cents, half up)
    assert full_period_unit(D("14.17"), 30, 17) == D("25.01")
    line = vline(sub="S-5", qty="3", cost="10.20", price="14.17", created="2020-01-04", effective="2026-11-17",
                 period=("2026-11-17", "2026-12-03"))
    r = only(run(lines(line), snapshot([])), key="demo|DC-1|S-5")
    assert "vendor_prorated" in r.flags and r.vendor_unit_price == D("25.01")
    assert r.vendor_amount == D("30.60")  # what the vendor billed: 3 x 10.20, its own proration included


def test_line_defaults_charge_type_currency_and_name():
    line = vline() | {"charge_type": None, "currency": None, "vendor_customer_name": None}
    r = only(run(lines(line), snapshot([])), key="demo|DC-1|S-1")
    assert (r.charge_type, r.currency, r.vendor_customer_name) == ("recurring", "USD", "DC-1")


def test_a_line_without_a_quantity_is_an_input_error():
    with pytest.raises(InputError) as err:
        run(lines(vline() | {"quantity": None}), snapshot([]), mappings())
    assert err.value.column == "quantity"
