"""The demo month (2026-11) reconciled against the sandbox seed shows every action and cause.

Mappings are what an operator ends up with after the Mappings page: every auto-accepted suggestion,
plus the vendor agreements they mapped before those were cancelled/expired, the inactive catalog
item they mapped anyway, and one "do not sync" rule (Willow Creek Vineyards).
"""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from billbridge import demo_world as dw
from billbridge.plan import plan_to_json, reconcile
from plan_support import demo_context, demo_inputs

MONTH = dw.MONTHS[-1]


@pytest.fixture(scope="module")
def plan():
    lines, snap, maps = demo_inputs(MONTH)
    return reconcile(lines, snap, maps, demo_context(MONTH))


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


@pytest.mark.parametrize("key, action, cause", [
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
    ("demo|DC-10012|S-1020|2026-11|credit", "create", None),
    ("demo|DC-10013|S-1022", "create", None),
    ("demo|DC-10019|S-1031", "blocked", "unmapped_product"),
    ("demo|DC-10023|S-1037", "blocked", "excluded_by_rule"),
    ("demo|DC-10005|S-1010|2026-11", "blocked", "unmapped_customer"),  # one-time, billed on the BDOM
    ("demo|DC-10024|S-1039|2026-11", "create", None),
])
def test_demo_rows(plan, key, action, cause):
    r = row(plan, key)
    assert (r["action"], r["cause"]) == (action, cause), r["reason"]
    assert r["reason"]


def test_demo_mid_month_prorated_addition_shows_both_prorations(plan):
    r = row(plan, "demo|DC-10013|S-1022")
    assert r["request"]["body"]["effectiveDate"] == "2026-11-17T00:00:00Z"
    assert r["request"]["body"]["unitPrice"] == 25  # the full unit, not the vendor's prorated one
    assert r["cw_proration"] == D("35.00") and r["vendor_proration"] == D("35.00")
    assert "prorated_by_connectwise" in r["flags"] and "vendor_prorated" in r["flags"]


def test_demo_annual_decrease_and_inactive_catalog_item_are_flagged(plan):
    assert "annual_term_decrease" in row(plan, "demo|DC-10015|S-1025")["flags"]
    assert "catalog_item_inactive" in row(plan, "demo|DC-10025|S-1041")["flags"]
    assert "child_agreement" in row(plan, "demo|DC-10011|S-1017")["flags"]


def test_demo_plan_json_round_trips(plan):
    import json
    out = json.loads(json.dumps(plan_to_json(plan)))
    assert out["summary"]["status"] == "changes" and len(out["rows"]) == len(plan.rows)
