"""Grouping (section 8, Rules 5.2, 7.5, 4.2): the vendor lines behind one key are one row; quantities and
amounts (rounded once per line) add up exactly; different unit costs are flagged and averaged."""

from __future__ import annotations

from decimal import Decimal as D

from billbridge.rules.grouped import combine
from rules_support import lines, only, run, snapshot, vline


def test_two_lines_of_one_key_add_up_to_the_cent():
    # 3 x 0.335 = 1.005 -> 1.01 per line; the row is the sum of what the vendor printed: 2.02
    plan = run(lines(vline(qty="3", cost="0.335"), vline(qty="3", cost="0.335")), snapshot([]))
    r = only(plan, key="demo|DC-1|S-1")
    assert (r.vendor_amount, r.vendor_quantity, r.vendor_lines, r.vendor_line_count) == (D("2.02"), D("6"), [1, 2], 2)
    assert "mixed_unit_costs" not in r.flags


def test_different_unit_costs_are_flagged_and_weighted_by_quantity():
    plan = run(lines(vline(qty="10", cost="18.00"), vline(qty="30", cost="20.00")), snapshot([]))
    r = only(plan, key="demo|DC-1|S-1")
    assert "mixed_unit_costs" in r.flags and r.vendor_unit_cost == D("19.5000")


def test_combine_keeps_a_common_unit_and_loses_an_unknown_one():
    out = combine([D("1"), D("2")], [D("18.00"), D("18.0")], [None, D("25")], [D("18.00"), D("36.00")])
    assert out == {"quantity": D("3"), "unit_cost": D("18.00"), "unit_price": None, "amount": D("54.00"),
                   "mixed_unit_costs": False}


def test_rows_keep_the_vendor_files_order_with_grouped_keys_last():
    plan = run(lines(vline(sub="S-2"), vline(sub="S-1"), vline(sub="S-3"), vline(sub="S-1")), snapshot([]))
    assert plan.rows["key"].tolist() == ["demo|DC-1|S-2", "demo|DC-1|S-3", "demo|DC-1|S-1"]
