"""Ending lines (Rules 6.1-6.3, 6.6): a line billbridge keeps that the vendor no longer bills ends on the last
day of the last month ConnectWise invoiced, never before it started, with a PATCH, never a DELETE."""

from __future__ import annotations

from decimal import Decimal as D

import pandas as pd
import pytest

from billbridge.plan import Mappings

from rules_support import CUST, addition, lines, mappings, only, run, snapshot, vline

STALE = dict(product=506, qty=9, price=5.0, cost=3.0, key="demo|DC-1|S-2")


def invoice(date):
    return {"id": 9, "type": "Agreement", "agreement": {"id": 200}, "date": f"{date}T00:00:00Z"}


@pytest.mark.parametrize("invoices, ends", [([invoice("2026-11-01")], "2026-11-30"),   # November invoiced
                                            ([invoice("2026-10-01")], "2026-10-31"),   # only October
                                            ([], "2026-10-31")])                       # none: the month before
def test_the_line_ends_on_the_last_day_already_invoiced(invoices, ends):
    r = only(run(lines(vline()), snapshot([addition(1), addition(2, **STALE)], invoices=invoices)),
             key="demo|DC-1|S-2")
    assert r.action == "cancel" and r.request["method"] == "PATCH"
    assert r.request["body"] == [{"op": "replace", "path": "cancelledDate", "value": f"{ends}T00:00:00Z"}]
    assert r.writes == [{"field": "cancelledDate", "from": None, "to": ends}]
    assert (r.price_impact, r.margin_impact) == (D("-45.00"), D("-18.00"))
    assert ("invoiced_this_month" if ends == "2026-11-30" else "not_invoiced_this_month") in r.flags
    assert "kept for history, not deleted" in r.reason


def test_never_before_the_line_started():
    r = only(run(lines(vline()), snapshot([addition(1), addition(2, **dict(STALE, eff="2026-11-10"))])),
             key="demo|DC-1|S-2")
    assert r.cancelled_date == "2026-11-10" and r.flags[0] == "never_invoiced"


def test_a_line_already_ending_there_is_in_sync():
    snap = snapshot([addition(1), addition(2, **dict(STALE, cancelled="2026-11-30"))], invoices=[invoice("2026-11-01")])
    r = only(run(lines(vline()), snap), key="demo|DC-1|S-2")
    assert r.action == "in_sync" and r.request is None and "already ends on 2026-11-30" in r.reason


def test_lines_of_earlier_months_and_foreign_lines_are_left_alone():
    snap = snapshot([addition(1), addition(2, product=506, key="demo|DC-1|S-2|2026-10", eff="2026-10-01",
                                          cancelled="2026-11-30"), addition(3, product=502, key="phin|DC-1|X"),
                     addition(4, product=504, key=None)])
    assert set(run(lines(vline()), snap).rows["action"]) == {"in_sync"}


def test_a_line_that_moved_to_another_agreement_ends_on_the_old_one():
    other = {"id": 201, "name": "New Services", "company": {"id": 100}, "agreementStatus": "Active",
             "noEndingDateFlag": True}
    base = mappings()  # the customer stays on 200; its subscription S-1 is now billed on 201
    moved_to = pd.DataFrame([{"vendor_customer_id": CUST, "subscription_id": "S-1", "agreement_id": 201}])
    maps = Mappings(base.companies, pd.concat([base.agreements, moved_to], ignore_index=True), base.products)
    plan = run(lines(vline()), snapshot([addition(1)], extra_agreements=[other]), maps)
    assert only(plan, key="demo|DC-1|S-1").action == "create"
    moved = only(plan, key="demo|DC-1|S-1#1")
    assert (moved.action, moved.agreement_id) == ("cancel", 200)


@pytest.mark.parametrize("case, cause", [("cancelled", "agreement_cancelled"), ("manual", "manually_edited"),
                                         ("rule", "excluded_by_rule")])
def test_what_keeps_a_line_from_ending(case, cause):
    stale = dict(STALE, updated_by="mgarcia", last_updated="2026-10-22T08:00:00Z") if case == "manual" else STALE
    agreement = {"agreementStatus": "Cancelled"} if case == "cancelled" else None
    rules = [{"vendor_customer_id": CUST, "sku": None, "rule": "do_not_sync", "value": None}] if case == "rule" else ()
    r = only(run(lines(vline()), snapshot([addition(1), addition(2, **stale)], agreement=agreement),
                 mappings(rules=rules)), key="demo|DC-1|S-2")
    assert (r.action, r.cause, r.request) == ("blocked", cause, None)


def test_the_operator_may_end_a_line_a_person_edited():
    stale = dict(STALE, updated_by="mgarcia", last_updated="2026-10-22T08:00:00Z")
    r = only(run(lines(vline()), snapshot([addition(1), addition(2, **stale)]), overrides=frozenset({"demo|DC-1|S-2"})),
             key="demo|DC-1|S-2")
    assert r.action == "cancel" and r.flags == ("not_invoiced_this_month", "overrides_manual_edit")
