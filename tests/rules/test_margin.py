"""Margin (Rules 7.3-7.5): the price rule of a product mapping and the margin guard, dated cases in billing
month 2026-11 (M365-BP-ANN, catalog item 503, on agreement 200 of Acme Dental):

| price rule   | ConnectWise holds      | vendor cost  | row                                                          |
|--------------|------------------------|--------------|--------------------------------------------------------------|
| markup 25    | 10 x $22.50, cost 18   | $18.00       | in sync                                                      |
| markup 25    | 10 x $22.50, cost 18   | $20.00       | update: price $22.50 -> $25.00, cost -> $20.00, 20% -> 20%   |
| keep         | 10 x $22.50, cost 18   | $20.00       | update cost only (cost_only_change), 20.00% -> 11.11%, low   |
| fixed 19.00  | 10 x $22.50, cost 18   | $20.00       | blocked negative_margin (unless overridden)                  |
| vendor_price | 10 x $26.40, cost 22   | $22.00       | in sync; margin 16.67% (below the 20% default)               |
"""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from billbridge.money import quantize
from rules_support import addition, lines, mappings, only, run, snapshot, vline

KEY = "demo|DC-1|S-7"


def priced(rule, value=None, threshold=None):
    maps = mappings()
    p = maps.products
    p["price_rule"], p["price_value"], p["margin_threshold"] = None, None, None
    at = p.index[p["sku"] == "M365-BP-ANN"][0]
    p.at[at, "price_rule"], p.at[at, "price_value"] = rule, None if value is None else D(value)
    p.at[at, "margin_threshold"] = None if threshold is None else D(threshold)
    return maps


def m365(cost, rule, value=None, *, cw_price=22.5, cw_cost=18.0, vendor_price="26.40", threshold=None, **kw):
    vl = vline(sub="S-7", sku="M365-BP-ANN", qty="10", cost=cost, price=vendor_price, term="annual")
    snap = snapshot([addition(7, product=503, qty=10, price=cw_price, cost=cw_cost, key=KEY)])
    return only(run(lines(vl), snap, priced(rule, value, threshold), **kw), key=KEY)


def test_a_markup_prices_the_vendors_cost_and_is_in_sync_when_connectwise_bills_it():
    r = m365("18.00", "markup", "25")
    assert (r.action, r.price_rule) == ("in_sync", "markup")
    assert (r.margin_pct_before, r.margin_pct_after) == (D("20.00"), D("20.00"))


def test_a_vendor_price_increase_under_a_markup_proposes_the_new_price_with_the_margin_before_and_after():
    r = m365("20.00", "markup", "25")
    assert r.action == "update" and "cost_only_change" not in r.flags
    ops = {op["path"]: op["value"] for op in r.request["body"]}
    assert ops == {"unitPrice": 25, "unitCost": 20}
    assert (r.new_unit_price, r.new_unit_cost) == (D("25.00"), D("20.00"))
    assert (r.margin_pct_before, r.margin_pct_after) == (D("20.00"), D("20.00"))
    assert "price $22.50 -> $25.00 (25% markup on the vendor's cost $20.00)" in r.reason
    assert "cost $18.00 -> $20.00" in r.reason and "Margin 20.00% -> 20.00%." in r.reason


@pytest.mark.parametrize("cost, pct, price", [("18.00", "25", "22.50"), ("0.0120", "66.5", "0.02"),
                                              ("7.33", "12.5", "8.25"), ("10.01", "10", "11.01")])
def test_a_markup_is_rounded_once_to_the_currencys_minor_unit(cost, pct, price):
    r = m365(cost, "markup", pct, cw_price=1.0)
    assert r.new_unit_price == D(price) == quantize(D(cost) * (1 + D(pct) / 100))


def test_keep_never_writes_the_price_so_a_cost_increase_is_a_cost_only_change_and_the_margin_falls():
    r = m365("20.00", "keep")
    assert r.action == "update" and {"cost_only_change", "low_margin"} <= set(r.flags)
    assert [op["path"] for op in r.request["body"]] == ["unitCost"]
    assert (r.margin_pct_before, r.margin_pct_after) == (D("20.00"), D("11.11"))
    assert "Margin 20.00% -> 11.11% (the cost changes, the customer's price does not)." in r.reason
    assert "below the 20.00% threshold" in r.reason


def test_the_threshold_of_the_product_mapping_wins_over_the_global_one():
    assert "low_margin" not in m365("20.00", "keep", threshold="10").flags
    assert "low_margin" in m365("20.00", "keep", threshold="12", margin_threshold=D("5")).flags
    assert "low_margin" not in m365("20.00", "keep", margin_threshold=D("11.11")).flags  # 11.11% is not below it


def test_a_line_below_cost_is_blocked_unless_overridden():
    r = m365("20.00", "fixed", "19.00")
    assert (r.action, r.cause, r.request) == ("blocked", "negative_margin", None)
    assert "$19.00 a unit for a cost of $20.00" in r.reason and "billbridge override 2026-11" in r.reason
    r = m365("20.00", "fixed", "19.00", override_reasons={KEY: "loss leader until renewal"})
    assert r.action == "update" and "overrides_negative_margin" in r.flags
    assert r.override_reason == "loss leader until renewal"


def test_a_fixed_price_owns_the_price_whatever_the_mapping_says_and_credits_are_never_margin_guarded():
    r = m365("18.00", "fixed", "30.00")
    assert {op["path"]: op["value"] for op in r.request["body"]}["unitPrice"] == 30
    credit = vline(sub="S-9", sku="HPBX-SEAT", qty="-2", cost="18.00", price="25.00", charge_type="credit")
    row = only(run(lines(credit), snapshot([])), charge_type="credit")
    assert row.cause is None and "low_margin" not in row.flags and row.margin_pct_after is None


def test_the_default_rule_is_the_vendors_price_and_a_line_in_sync_below_the_threshold_is_flagged_too():
    r = m365("22.00", "vendor_price", cw_price=26.4, cw_cost=22.0)
    assert (r.action, r.price_rule, r.margin_pct_after) == ("in_sync", "vendor_price", D("16.67"))
    assert "low_margin" in r.flags  # 16.67% < the 20% default (model.DEFAULT_MARGIN_THRESHOLD)
    assert "low_margin" not in m365("22.00", "vendor_price", cw_price=26.4, cw_cost=22.0,
                                    margin_threshold=D("15")).flags


from hypothesis import given, settings, strategies as hs  # noqa: E402

from billbridge.plan import engine  # noqa: E402

_COSTS = hs.decimals(min_value=D("0"), max_value=D("99999"), places=4, allow_nan=False, allow_infinity=False)
_PCTS = hs.decimals(min_value=D("0"), max_value=D("500"), places=3, allow_nan=False, allow_infinity=False)


@settings(max_examples=200, deadline=None)
@given(cost=_COSTS, pct=_PCTS, currency=hs.sampled_from(["USD", "JPY", "BHD"]))
def test_a_markup_is_always_the_exact_price_rounded_once_half_away_from_zero(cost, pct, currency):
    from billbridge.money import minor_unit

    db = engine._database().cursor()
    try:
        (price,), = db.execute("SELECT rule_price('markup', ?, ?, ?)",
                               [format(pct, "f"), format(cost, "f"), minor_unit(currency)]).fetchall()
    finally:
        db.close()
    assert D(price) == quantize(cost * (1 + pct / 100), currency)
