"""Line keys (section 8, Rule 5.2): what the vendor bills, never a ConnectWise id; one-month lines carry
their month; a credit is its own line and names the line it refunds; lines of another month get a plan key
of their own. The key format is billbridge.linekey's."""

from __future__ import annotations

import pytest

from billbridge.errors import InputError
from billbridge.linekey import line_key
from billbridge.rules.keys import keys_for
from rules_support import addition, lines, mappings, only, run, snapshot, vline


@pytest.mark.parametrize("monthly, credit, in_period, expected", [
    (False, False, True, ("demo|DC-1|S-1", "demo|DC-1|S-1", None)),                       # standing line
    (True, False, True, ("demo|DC-1|S-1|2026-11", "demo|DC-1|S-1|2026-11", None)),        # monthly mode / one-time
    (True, True, True, ("demo|DC-1|S-1|2026-11|credit", "demo|DC-1|S-1|2026-11|credit", "demo|DC-1|S-1")),
    (False, False, False, ("demo|DC-1|S-1", "demo|DC-1|S-1|out", None)),                  # another month's line
])
def test_keys_of_a_line(monthly, credit, in_period, expected):
    assert keys_for("demo", "2026-11", "DC-1", "S-1", "HPBX-SEAT", monthly, credit, in_period) == expected


def test_the_sku_stands_in_for_a_missing_subscription():
    assert keys_for("demo", "2026-11", "DC-1", None, "HPBX-SEAT", False, False, True)[0] == "demo|DC-1|HPBX-SEAT"


def test_a_long_key_is_hashed_to_fifty_characters_even_out_of_period():
    key, plan_key, _ = keys_for("demo", "2026-11", "C" * 45, "S-1", None, False, False, False)
    assert key == line_key("demo", "C" * 45, "S-1") and len(key) == 50
    assert len(plan_key) == 50 and plan_key != key and plan_key.startswith("demo|")


def test_one_time_charges_and_credits_are_keyed_by_the_month():
    one = vline(sub="S-3", sku="PHONE-SETUP", qty="1", cost="49.00", price="99.00", charge_type="one_time",
                period=None, effective="2026-11-02")
    credit = vline(sub="S-2", sku="ARCHIVE", qty="-9", cost="-1.50", price=None, charge_type="credit")
    plan = run(lines(one, credit), snapshot([]))
    assert set(plan.rows["key"]) == {"demo|DC-1|S-3|2026-11", "demo|DC-1|S-2|2026-11|credit"}
    assert only(plan, charge_type="credit").credit_for == "demo|DC-1|S-2"


def test_a_monthly_mapping_keys_recurring_lines_by_month_too():
    plan = run(lines(vline()), snapshot([addition(1)]), mappings(mode="monthly"))
    assert only(plan, charge_type="recurring").key == "demo|DC-1|S-1|2026-11"


def test_a_line_with_neither_subscription_nor_sku_is_an_input_error():
    with pytest.raises(InputError):
        run(lines(vline(sub=None, sku="X") | {"sku": None}), snapshot([]))
