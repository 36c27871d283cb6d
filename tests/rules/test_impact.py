"""Impact (Rules 7.4, 7.5): the monthly change of the customer price and of the margin, each extended amount
rounded once per line in the row's currency; rows that write nothing move no money."""

from __future__ import annotations

from decimal import Decimal as D

from rules_support import addition, lines, mappings, only, run, snapshot, vline


def test_an_update_moves_the_difference():
    r = only(run(lines(vline(qty="14")), snapshot([addition(1, qty=12)])), key="demo|DC-1|S-1")
    assert (r.price_impact, r.margin_impact) == (D("50.00"), D("14.00"))  # 2 x 25.00, 2 x (25.00 - 18.00)


def test_a_create_moves_the_whole_line_at_the_catalog_price_when_the_price_is_not_owned():
    r = only(run(lines(vline(qty="2", price="30.00")), snapshot([]), mappings(own_price=False)), key="demo|DC-1|S-1")
    assert (r.price_impact, r.margin_impact) == (D("50.00"), D("14.00"))


def test_rows_that_write_nothing_move_nothing():
    r = only(run(lines(vline()), snapshot([addition(1)])), key="demo|DC-1|S-1")
    assert (r.price_impact, r.margin_impact) == (D(0), D(0))
    assert str(r.price_impact) == "0"


def test_rounding_is_per_line_in_the_lines_currency():
    yen = vline(qty="3", cost="100.2", price="333.5") | {"currency": "JPY"}
    r = only(run(lines(yen), snapshot([])), key="demo|DC-1|S-1")
    assert (r.vendor_amount, r.price_impact, r.margin_impact) == (D("301"), D("1001"), D("700"))
    assert str(r.price_impact) == "1001"
