"""Flags (Rules 1.1, 4.3, 6.5, 3.1): late-month billing days, annual-term decreases, credits and usage are
flagged; a row lists its flags in billbridge.model.FLAGS order."""

from __future__ import annotations

import pytest

from billbridge.model import FLAGS
from billbridge.rules.flags import VENDOR_ROW_FLAGS, listed
from rules_support import addition, lines, only, run, snapshot, vline


@pytest.mark.parametrize("created, late", [("2026-10-29", True), ("2026-10-26", True), ("2026-10-25", False),
                                           ("2024-02-24", True), ("2024-02-23", False)])  # leap February
def test_a_billing_day_in_the_last_six_days_of_its_month(created, late):
    r = only(run(lines(vline(created=created)), snapshot([])), key="demo|DC-1|S-1")
    assert ("late_month_bdom" in r.flags) is late


def test_an_annual_seat_decrease_is_flagged():
    r = only(run(lines(vline(sub="S-7", sku="M365-BP-ANN", qty="16", cost="22.00", price="26.40", term="annual")),
                 snapshot([addition(7, product=503, qty=18, price=26.4, cost=22.0, key="demo|DC-1|S-7")])),
             key="demo|DC-1|S-7")
    assert "annual_term_decrease" in r.flags and "not refunded" in r.reason


def test_usage_and_credits_are_flagged_in_model_order():
    use = vline(sub="S-4", sku="VOICE-MIN", qty="100", cost="0.012", price="0.02", charge_type="usage",
                period=("2026-10-05", "2026-11-04"), created="2026-10-29")
    r = only(run(lines(use), snapshot([])), key="demo|DC-1|S-4")
    assert r.flags == ("late_month_bdom", "usage_in_arrears")
    assert list(VENDOR_ROW_FLAGS) == [f for f in FLAGS if f in VENDOR_ROW_FLAGS]


def test_listed_names_the_true_columns_in_order():
    assert listed(("credit", "usage_in_arrears")) == (
        "concat_ws(',', CASE WHEN credit THEN 'credit' END, CASE WHEN usage_in_arrears THEN 'usage_in_arrears' END)")
