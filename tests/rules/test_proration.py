"""Proration (Rules 2.1, 2.3, 2.4, 7.4): a create starting after the 1st shows what ConnectWise will prorate
(when the agreement prorates) next to what the vendor charged, both exact and rounded once."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

from billbridge.rules.proration import prorations
from rules_support import lines, only, run, snapshot, vline

NOV = (date(2026, 11, 1), date(2026, 11, 30))


def test_idsyncs_example_22_dollars_from_15_march():
    cw, vendor = prorations(date(2026, 3, 15), D("22"), D("1"), "USD", True, False, D("22.00"), date(2026, 3, 1),
                            date(2026, 3, 31), date(2026, 3, 1), date(2026, 3, 31))
    assert (cw, vendor) == (D("12.06"), D("12.06"))  # 22 x 17/31, inclusive of the 15th


def test_a_vendor_that_prorated_the_unit_is_shown_as_it_billed():
    cw, vendor = prorations(date(2026, 11, 17), D("25"), D("3"), "USD", False, True, D("42.51"), *NOV, *NOV)
    assert (cw, vendor) == (None, D("42.51"))


def test_one_rounding_per_line():
    # 7 x 26.40 x 13/31 = 77.4967... -> 77.50 (rounding the daily rate first would give 77.42)
    cw, _ = prorations(date(2026, 12, 19), D("26.40"), D("7"), "USD", True, False, D("0"), date(2026, 12, 1),
                       date(2026, 12, 31), date(2026, 12, 1), date(2026, 12, 31))
    assert cw == D("77.50")


def test_a_mid_month_create_on_a_prorated_agreement():
    mid = vline(sub="S-5", qty="3", effective="2026-11-17")
    r = only(run(lines(mid), snapshot([], agreement={"prorateFlag": True})), key="demo|DC-1|S-5")
    assert r.request["body"]["effectiveDate"] == "2026-11-17T00:00:00Z"
    assert {"mid_month_start", "prorated_by_connectwise"} <= set(r.flags)
    assert (r.cw_proration, r.vendor_proration) == (D("35.00"), D("35.00"))  # 3 x 25 x 14/30


def test_without_proration_on_the_agreement_only_the_vendors_figure():
    r = only(run(lines(vline(sub="S-5", qty="3", effective="2026-11-17")), snapshot([])), key="demo|DC-1|S-5")
    assert "mid_month_start" in r.flags and "prorated_by_connectwise" not in r.flags
    assert (r.cw_proration, r.vendor_proration) == (None, D("35.00"))
