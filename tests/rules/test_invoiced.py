"""Invoiced periods and past months (Rule 6.6; section 9 "Rule 6.6 for standing lines"), dated cases in billing
month 2026-11 (the rule world: Acme Dental, HPBX-SEAT at $25.00, agreement 200):

| newest pushed | line                | November invoiced | override        | row                                          |
|---------------|---------------------|-------------------|-----------------|----------------------------------------------|
| none/2026-11  | standing 12 -> 14   | -                 | -               | update (not guarded)                         |
| 2026-12       | standing 12 -> 14   | no                | -               | blocked past_month, correction +2 x $25.00   |
| 2026-12       | standing 12 -> 14   | no                | confirmed       | create correction 2 x $25.00, 11-01..11-30   |
| 2026-12       | standing 12 -> 14   | 2026-11-01        | confirmed       | blocked already_invoiced                     |
| 2026-12       | standing 12 -> 14   | 2026-11-01        | with a reason   | create correction, overrides_invoiced        |
| 2026-12       | correction on CW    | -                 | confirmed       | in sync, the correction line is not ended    |
| 2026-12       | standing line ended | -                 | -               | blocked past_month (nothing ended)           |
| -             | monthly line        | 2026-11-01        | -               | blocked already_invoiced                     |
"""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from rules_support import addition, lines, mappings, only, run, snapshot, vline

KEY = "demo|DC-1|S-1"
CORRECTION_KEY = "demo|DC-1|S-1|2026-11|correction"
NOVEMBER_INVOICE = {"id": 9, "type": "Agreement", "agreement": {"id": 200}, "date": "2026-11-01T00:00:00Z"}


def past(qty="14", invoices=(), additions=None, **kw):
    """The 2026-11 plan after 2026-12 was pushed: the standing line holds December's 12 seats."""
    adds = additions if additions is not None else [addition(1, qty=12)]
    return run(lines(vline(qty=qty)), snapshot(adds, invoices=list(invoices)), newest_pushed_month="2026-12", **kw)


@pytest.mark.parametrize("newest", [None, "2026-11", "2026-10"])
def test_a_plan_with_no_newer_month_pushed_is_not_guarded(newest):
    r = only(run(lines(vline(qty="14")), snapshot([addition(1, qty=12)]), newest_pushed_month=newest), key=KEY)
    assert r.action == "update" and r.cause is None
    assert not {"correction_line", "overrides_invoiced"} & set(r.flags) and r.override_reason is None


def test_a_past_month_never_writes_the_standing_line_and_shows_the_correction_it_would_take():
    r = only(past(), key=KEY)
    assert (r.action, r.cause, r.request, r.writes) == ("blocked", "past_month", None, [])
    assert r.price_impact == D(0)
    assert "December" in r.reason and "12" in r.reason and "14" in r.reason
    assert "2 x $25.00 = $50.00" in r.reason and "billbridge override 2026-11 demo|DC-1|S-1" in r.reason


def test_a_confirmed_past_month_row_adds_a_dated_correction_line_for_the_difference():
    r = only(past(override_reasons={KEY: ""}), key=KEY)
    assert (r.action, r.cause) == ("create", None) and "correction_line" in r.flags
    body = r.request["body"]
    assert r.request["method"] == "POST" and r.request["path"] == "/finance/agreements/200/additions"
    assert (body["quantity"], body["unitPrice"], body["unitCost"]) == (2, 25, 18)
    assert (body["effectiveDate"], body["cancelledDate"]) == ("2026-11-01T00:00:00Z", "2026-11-30T00:00:00Z")
    assert body["customFields"][0]["value"] == CORRECTION_KEY
    assert (r.new_quantity, r.effective_date, r.cancelled_date) == (D("2"), "2026-11-01", "2026-11-30")
    assert (r.price_impact, r.margin_impact) == (D("50.00"), D("14.00"))
    assert r.cw_quantity == D("12")  # the standing line itself is left as it is
    assert "correction" in r.reason and "$50.00" in r.reason


def test_a_seat_decrease_in_a_past_month_is_a_negative_correction():
    r = only(past(qty="9", override_reasons={KEY: ""}), key=KEY)
    assert r.request["body"]["quantity"] == -3 and r.price_impact == D("-75.00")


def test_a_price_change_in_a_past_month_is_corrected_as_one_line_of_the_dollar_difference():
    vl = vline(qty="12", price="27.00")
    r = only(run(lines(vl), snapshot([addition(1, qty=12)]), newest_pushed_month="2026-12",
                 override_reasons={KEY: ""}), key=KEY)
    body = r.request["body"]
    assert (body["quantity"], body["unitPrice"], body["unitCost"]) == (1, 24, 0)  # 12 x (27.00 - 25.00)
    assert r.price_impact == D("24.00")


def test_a_correction_in_a_month_connectwise_already_invoiced_needs_a_reason():
    r = only(past(invoices=[NOVEMBER_INVOICE], override_reasons={KEY: ""}), key=KEY)
    assert (r.action, r.cause, r.request) == ("blocked", "already_invoiced", None)
    assert "2026-11-01" in r.reason and "$50.00" in r.reason and "--reason" in r.reason


def test_an_override_with_a_reason_writes_the_correction_into_the_invoiced_month_and_keeps_the_reason():
    why = "customer agreed to a credit memo"
    r = only(past(invoices=[NOVEMBER_INVOICE], override_reasons={KEY: why}), key=KEY)
    assert r.action == "create" and {"correction_line", "overrides_invoiced"} <= set(r.flags)
    assert r.override_reason == why and why in r.reason


def test_a_correction_line_connectwise_already_has_is_in_sync_and_never_ended():
    correction = addition(2, qty=2, key=CORRECTION_KEY, eff="2026-11-01", cancelled="2026-11-30")
    plan = past(additions=[addition(1, qty=12), correction], override_reasons={KEY: ""})
    r = only(plan, key=KEY)
    assert r.action == "in_sync" and r.request is None and "correction_line" in r.flags
    assert "correction" in r.reason
    assert not (plan.rows["cw_addition_id"].eq(2) & plan.rows["action"].eq("cancel")).any()


def test_a_standing_line_the_vendor_stopped_billing_is_not_ended_from_a_past_month():
    plan = run(lines(vline(qty="12")), snapshot([addition(1, qty=12), addition(2, product=506, qty=9, key="demo|DC-1|S-2")]),
               newest_pushed_month="2026-12")
    r = only(plan, key="demo|DC-1|S-2")
    assert (r.action, r.cause, r.request) == ("blocked", "past_month", None)
    assert "December" in r.reason


def test_a_monthly_line_in_an_invoiced_month_is_blocked_and_written_only_with_a_reason():
    maps = mappings(mode="monthly")
    key = "demo|DC-1|S-1|2026-11"
    r = only(run(lines(vline(qty="14")), snapshot([], invoices=[NOVEMBER_INVOICE]), maps), key=key)
    assert (r.action, r.cause) == ("blocked", "already_invoiced")
    assert "2026-11-01" in r.reason
    r = only(run(lines(vline(qty="14")), snapshot([], invoices=[NOVEMBER_INVOICE]), maps,
                 override_reasons={key: "invoice deleted and run again"}), key=key)
    assert r.action == "create" and "overrides_invoiced" in r.flags and r.override_reason


def test_a_monthly_line_of_a_past_month_is_its_own_line_and_not_guarded_as_a_standing_one():
    r = only(run(lines(vline(qty="14")), snapshot([]), mappings(mode="monthly"), newest_pushed_month="2026-12"),
             key="demo|DC-1|S-1|2026-11")
    assert (r.action, r.cause) == ("create", None)


from hypothesis import given, settings, strategies as hs  # noqa: E402

from billbridge.money import extended  # noqa: E402


@settings(max_examples=40, deadline=None)
@given(need=hs.integers(0, 60), held=hs.integers(1, 60), price=hs.sampled_from(["25.00", "27.35", "19.99"]))
def test_a_correction_always_bills_exactly_what_the_month_needed_minus_what_the_standing_line_billed(need, held, price):
    r = only(run(lines(vline(qty=str(need), price=price)), snapshot([addition(1, qty=held)]),
                 newest_pushed_month="2026-12", override_reasons={KEY: ""}), key=KEY)
    expected = extended(need, D(price)) - extended(held, D("25.00"))
    if expected == 0:
        assert r.action in ("in_sync", "blocked") and r.request is None
    else:
        assert r.action == "create" and r.price_impact == expected


def test_a_line_a_person_edited_by_hand_stays_theirs_in_a_past_month_no_correction_is_offered():
    # 2026-12 was pushed; jsmith then set the standing line to 22 by hand (2026-10-20, after no billbridge write):
    # the 2026-11 plan cannot tell that 22 is December's, so the person's edit is protected, not corrected
    edited = addition(1, qty=22, updated_by="jsmith", last_updated="2026-10-20T15:00:00Z")
    r = only(past(qty="14", additions=[edited]), key=KEY)
    assert (r.action, r.cause, r.request) == ("blocked", "manually_edited", None)
    assert "correction" not in r.reason and "jsmith" in r.reason
