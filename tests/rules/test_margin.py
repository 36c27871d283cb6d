"""Margin (Rules 7.3-7.5): the price rule of a product mapping and the margin guard."""

from __future__ import annotations

from rules_support import addition, lines, only, run, snapshot, vline


def test_a_row_names_the_price_rule_of_its_product_mapping():
    r = only(run(lines(vline(qty="14")), snapshot([addition(1, qty=12)])), key="demo|DC-1|S-1")
    assert r.price_rule == "vendor_price"
