"""The demo month (the current one) reconciled against the sandbox seed shows every action and cause,
on the suite's day and on other days (a month start, a month end, 29 February): the demo world is
built relative to today, so every case it shows today it shows on any day.

Mappings are what an operator ends up with after the Mappings page: every auto-accepted suggestion,
plus the vendor agreements they mapped before those were cancelled/expired, the inactive catalog
item they mapped anyway, and one "do not sync" rule (Willow Creek Vineyards).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pytest

from billbridge import clock
from billbridge import demo_world as dw
from billbridge.bdom import days_in_month
from billbridge.plan import plan_to_json, reconcile
from plan_support import demo_context, demo_inputs

#: the suite's day, then a month start, a month end and a leap day
DAYS = [None, date(2027, 3, 1), date(2026, 12, 31), date(2028, 2, 29)]


@pytest.fixture(scope="module", params=DAYS, ids=lambda d: f"on {d or 'the suite day'}")
def today(request) -> date:
    return request.param or clock.today()


@pytest.fixture(scope="module")
def plan(today):
    lines, snap, maps = demo_inputs(today=today)
    return reconcile(lines, snap, maps, demo_context(today=today))


def row(plan, key):
    r = plan.rows[plan.rows["key"] == key]
    assert len(r) == 1, key
    return r.iloc[0].to_dict()


def test_demo_month_shows_every_action_and_cause(plan):
    assert set(plan.rows["action"]) == {"in_sync", "update", "create", "cancel", "blocked"}
    assert {"unmapped_customer", "unmapped_product", "no_agreement", "agreement_cancelled", "agreement_expired",
            "ambiguous", "manually_edited", "excluded_by_rule"} <= set(plan.rows["cause"].dropna())
    assert plan.summary.status == "changes"


def test_demo_month_conserves_vendor_dollars(plan):
    s = plan.summary
    assert s.dollars_checked == s.dollars_reconciled + s.dollars_blocked + s.dollars_excluded
    assert s.lines_checked == s.lines_reconciled + s.lines_blocked + s.lines_excluded


@pytest.mark.parametrize("key, action, cause", [  # {month}: the current month
    ("demo|DC-10001|S-1001", "update", None),          # 12 -> 14 seats
    ("demo|DC-10001|S-1002", "in_sync", None),
    ("demo|DC-10003|S-1005", "update", None),          # the person's line is adopted (8 -> 9)
    ("demo|DC-10005|S-1009", "blocked", "unmapped_customer"),
    ("demo|DC-10006|S-1011", "blocked", "manually_edited"),
    ("demo|DC-10007|S-1013", "blocked", "ambiguous"),
    ("demo|DC-10008|S-1014", "blocked", "agreement_cancelled"),
    ("demo|DC-10009|S-1015", "blocked", "agreement_expired"),
    ("demo|DC-10010|S-1016", "blocked", "no_agreement"),
    ("demo|DC-10012|S-1020", "cancel", None),
    ("demo|DC-10012|S-1020|{month}|credit", "create", None),
    ("demo|DC-10013|S-1022", "create", None),
    ("demo|DC-10019|S-1031", "blocked", "unmapped_product"),
    ("demo|DC-10023|S-1037", "blocked", "excluded_by_rule"),
    ("demo|DC-10005|S-1010|{month}", "blocked", "unmapped_customer"),  # one-time, billed on the BDOM
    ("demo|DC-10024|S-1039|{month}", "create", None),
])
def test_demo_rows(plan, today, key, action, cause):
    r = row(plan, key.format(month=dw.world(today).current_month))
    assert (r["action"], r["cause"]) == (action, cause), r["reason"]
    assert r["reason"]


def test_demo_mid_month_prorated_addition_shows_both_prorations(plan, today):
    r = row(plan, "demo|DC-10013|S-1022")
    start = dw.world(today).M(0, 17)  # 3 seats added on the 17th of this month
    assert r["request"]["body"]["effectiveDate"] == f"{start.isoformat()}T00:00:00Z"
    assert r["request"]["body"]["unitPrice"] == 25  # the full unit, not the vendor's prorated one
    days = days_in_month(start.year, start.month)
    prorated = (D(75) * (days - 16) / days).quantize(D("0.01"))  # 14/30 of 3 x $25.00 in a 30-day month
    assert r["cw_proration"] == prorated and r["vendor_proration"] == prorated
    assert "prorated_by_connectwise" in r["flags"] and "vendor_prorated" in r["flags"]


def test_demo_annual_decrease_and_inactive_catalog_item_are_flagged(plan):
    annual = row(plan, "demo|DC-10015|S-1025")  # 18 -> 16 seats of an annual term renewing each 14 March
    if annual["term_start"][:7] == plan.summary.month:  # renewed this month: the decrease is inside its window
        assert "in_cancellation_window" in annual["flags"] and "annual_term_decrease" not in annual["flags"]
    else:
        assert "annual_term_decrease" in annual["flags"] and annual["commitment_at_risk"] > 0
    assert "catalog_item_inactive" in row(plan, "demo|DC-10025|S-1041")["flags"]
    assert "child_agreement" in row(plan, "demo|DC-10011|S-1017")["flags"]


def test_demo_plan_json_round_trips(plan):
    import json
    out = json.loads(json.dumps(plan_to_json(plan)))
    assert out["summary"]["status"] == "changes" and len(out["rows"]) == len(plan.rows)
