"""The landing month (Rule 1.6, sharpened in section 9), with section 9's dated cases for billing month
2026-10: usage lands in the month of its bill date (the day after the period ends); recurring lines by the
agreement's period rule; a line of another month is excluded, cause out_of_period."""

from __future__ import annotations

from dataclasses import replace

import pytest

from billbridge.plan import reconcile
from rules_support import ctx, lines, mappings, only, snapshot, vline

CASES = [  # charge type, period rule, period (end inclusive), in 2026-10?
    ("usage", "advance", ("2026-10-01", "2026-10-31"), False),   # anchor 1, billed 2026-11-01
    ("usage", "advance", ("2026-09-04", "2026-10-03"), True),    # anchor 4, billed 2026-10-04
    ("usage", "advance", ("2026-10-04", "2026-11-03"), False),   # anchor 4, billed 2026-11-04
    ("recurring", "advance", ("2026-10-04", "2026-11-03"), True),
    ("recurring", "advance", ("2026-11-01", "2026-11-30"), False),
    ("recurring", "advance", ("2026-10-01", "2026-10-31"), True),
    ("recurring", "arrears", ("2026-09-01", "2026-09-30"), False),
    ("recurring", "arrears", ("2026-09-04", "2026-10-03"), True),
]


@pytest.mark.parametrize("charge_type, rule, period, inside", CASES)
def test_section_9_dated_cases(charge_type, rule, period, inside):
    line = vline(charge_type=charge_type, sku="VOICE-MIN" if charge_type == "usage" else "HPBX-SEAT", period=period)
    plan = reconcile(lines(line), snapshot([]), mappings(period_rule=rule), replace(ctx(), month="2026-10"))
    row = plan.rows.iloc[0]
    assert (row["cause"] != "out_of_period") is inside, row["reason"]
    if not inside:
        assert row["bucket"] == "excluded" and row["key"].endswith("|out") and row["request"] is None


def test_a_credit_for_an_earlier_month_still_lands():
    credit = vline(sub="S-2", sku="ARCHIVE", qty="-2", cost="3.00", price=None, charge_type="credit",
                   period=("2026-09-01", "2026-09-30"))
    r = only(reconcile(lines(credit), snapshot([]), mappings(), ctx()), charge_type="credit")
    assert r.cause is None and r.action == "create"


def test_a_line_without_dates_belongs_to_the_month_it_was_loaded_for():
    r = only(reconcile(lines(vline(period=None)), snapshot([]), mappings(), ctx()), key="demo|DC-1|S-1")
    assert r.cause is None
