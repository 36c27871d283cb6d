"""Table-driven tests of the reconciliation (billbridge.plan.reconcile): every action, every cause, both sync modes.

The world is tiny and explicit: one customer per case, one company (100, "Acme Dental Group"),
one agreement (200, "Demo Cloud Services"), catalog items 501 HPBX-SEAT / 502 EXCH-MBX /
503 M365-BP-ANN / 504 PHONE-SETUP / 505 VOICE-MIN. Billing month 2026-11.
"""

from __future__ import annotations

import json
from decimal import Decimal as D

import pandas as pd
import pytest

from billbridge.errors import ConservationError
from billbridge.linekey import line_key
from billbridge.model import ACTIONS, CAUSES
from billbridge.plan import Context, plan_to_json, reconcile, snapshot_frames
from rules_support import CUST, addition, lines, mappings, only, run, snapshot, vline


# ---------------------------------------------------------------- actions ------------------

def test_in_sync_when_connectwise_already_bills_what_the_vendor_bills():
    plan = run(lines(vline()), snapshot([addition(1)]))
    r = only(plan, key="demo|DC-1|S-1")
    assert r.action == "in_sync" and r.cause is None
    assert r.writes == [] and r.request is None
    assert r.price_impact == 0 and r.margin_impact == 0
    assert plan.summary.status == "in_sync"
    assert "Acme Dental" in r.reason and "Hosted PBX seat" in r.reason


def test_update_quantity_writes_one_patch_op_and_the_dollar_impact():
    plan = run(lines(vline(qty="14")), snapshot([addition(1, qty=12)]))
    r = only(plan, key="demo|DC-1|S-1")
    assert r.action == "update"
    assert r.writes == [{"field": "quantity", "from": D("12.0"), "to": D("14")}]
    assert r.request == {"method": "PATCH", "path": "/finance/agreements/200/additions/1",
                         "body": [{"op": "replace", "path": "quantity", "value": 14}]}
    assert r.price_impact == D("50.00")  # 2 x 25.00
    assert r.margin_impact == D("14.00")  # 2 x (25 - 18)
    assert "12 -> 14" in r.reason
    assert plan.summary.status == "changes"


def test_update_price_and_cost_when_owned():
    plan = run(lines(vline(cost="19.00", price="26.00")), snapshot([addition(1)]))
    r = only(plan, key="demo|DC-1|S-1")
    assert r.action == "update"
    assert [w["field"] for w in r.writes] == ["unitPrice", "unitCost"]
    assert r.price_impact == D("10.00") and r.margin_impact == D("0.00")


def test_price_not_owned_means_no_price_write():
    plan = run(lines(vline(price="30.00")), snapshot([addition(1)]), mappings(own_price=False))
    r = only(plan, key="demo|DC-1|S-1")
    assert r.action == "in_sync" and r.writes == []
    plan = run(lines(vline(qty="11", price="30.00")), snapshot([addition(1)]), mappings(own_price=False))
    r = only(plan, key="demo|DC-1|S-1")
    assert [w["field"] for w in r.writes] == ["quantity"]
    assert r.price_impact == D("25.00")  # one more seat at ConnectWise's own price


def test_create_when_no_addition_exists_posts_the_full_body_with_the_line_key():
    plan = run(lines(vline(qty="9")), snapshot([]))
    r = only(plan, key="demo|DC-1|S-1")
    assert r.action == "create"
    assert r.request == {
        "method": "POST", "path": "/finance/agreements/200/additions",
        "body": {"product": {"id": 501}, "billCustomer": "Billable", "quantity": 9, "unitPrice": 25, "unitCost": 18,
                 "effectiveDate": "2026-11-01T00:00:00Z",
                 "customFields": [{"id": 7, "caption": "BillbridgeKey", "value": "demo|DC-1|S-1"}]},
    }
    assert r.price_impact == D("225.00") and r.margin_impact == D("63.00")


def test_create_without_owned_price_omits_unit_price_and_uses_catalog_price_for_impact():
    plan = run(lines(vline(qty="2", price="30.00")), snapshot([]), mappings(own_price=False))
    r = only(plan, key="demo|DC-1|S-1")
    assert "unitPrice" not in r.request["body"]
    assert r.price_impact == D("50.00")


@pytest.mark.parametrize("invoices, expected", [
    ([{"id": 9, "type": "Agreement", "agreement": {"id": 200}, "date": "2026-11-01T00:00:00Z"}], "2026-11-30"),
    ([{"id": 9, "type": "Agreement", "agreement": {"id": 200}, "date": "2026-10-01T00:00:00Z"}], "2026-10-31"),
    ([], "2026-10-31"),
    ([{"id": 9, "type": "Agreement", "applyToType": "Agreement", "applyToId": 200, "date": "2026-11-01T00:00:00Z"}], "2026-11-30"),
], ids=["invoiced-this-month", "invoiced-last-month-only", "no-invoice", "applyTo-invoice-this-month"])
def test_cancel_date_is_the_end_of_the_last_invoiced_month(invoices, expected):
    plan = run(lines(vline()), snapshot([addition(1), addition(2, product=506, qty=9, price=5.0, cost=3.0, key="demo|DC-1|S-2")],
                                        invoices=invoices))
    r = only(plan, key="demo|DC-1|S-2")
    assert r.action == "cancel"
    assert r.request["method"] == "PATCH"  # never DELETE
    assert r.request["body"] == [{"op": "replace", "path": "cancelledDate", "value": f"{expected}T00:00:00Z"}]
    assert r.writes == [{"field": "cancelledDate", "from": None, "to": expected}]
    assert r.price_impact == D("-45.00") and r.margin_impact == D("-18.00")
    assert "E-mail archiving mailbox" in r.reason and "not deleted" in r.reason


def test_cancel_never_dates_before_the_lines_own_start():
    plan = run(lines(vline()), snapshot([addition(1), addition(2, product=506, key="demo|DC-1|S-2", eff="2026-11-10")]))
    r = only(plan, key="demo|DC-1|S-2")
    assert r.cancelled_date == "2026-11-10" and "never_invoiced" in r.flags


def test_keyless_or_foreign_lines_are_never_cancelled():
    snap = snapshot([addition(1), addition(2, product=506, key=None, updated_by="jsmith"),
                     addition(3, product=502, key="phin|DC-1|X")])
    plan = run(lines(vline()), snap)
    assert set(plan.rows["action"]) == {"in_sync"}


# ---------------------------------------------------------------- causes -------------------

def test_blocked_unmapped_customer():
    plan = run(lines(vline()), snapshot([]), mappings(company=False))
    r = only(plan, key="demo|DC-1|S-1")
    assert (r.action, r.cause, r.bucket) == ("blocked", "unmapped_customer", "blocked")
    assert "not linked to a ConnectWise company" in r.reason


def test_blocked_unmapped_product():
    plan = run(lines(vline(sku="FAX-LINE")), snapshot([]))
    r = only(plan, key="demo|DC-1|S-1")
    assert (r.action, r.cause) == ("blocked", "unmapped_product")
    assert "FAX-LINE" in r.reason


def test_blocked_no_agreement():
    plan = run(lines(vline()), snapshot([]), mappings(agreement=False))
    assert only(plan, key="demo|DC-1|S-1").cause == "no_agreement"


def test_blocked_mapped_agreement_missing_from_connectwise():
    snap = snapshot([])
    snap["agreements"] = []
    assert only(run(lines(vline()), snap), key="demo|DC-1|S-1").cause == "no_agreement"


@pytest.mark.parametrize("agreement, cause", [
    ({"agreementStatus": "Cancelled", "cancelledFlag": True}, "agreement_cancelled"),
    ({"agreementStatus": "Expired", "noEndingDateFlag": False, "endDate": "2026-06-30T00:00:00Z"}, "agreement_expired"),
    ({"agreementStatus": "Active", "noEndingDateFlag": False, "endDate": "2026-10-31T00:00:00Z"}, "agreement_expired"),
    ({"agreementStatus": "Inactive"}, "agreement_inactive"),
])
def test_blocked_agreement_status(agreement, cause):
    plan = run(lines(vline()), snapshot([addition(1, qty=3)], agreement=agreement))
    r = only(plan, key="demo|DC-1|S-1")
    assert (r.action, r.cause) == ("blocked", cause)
    assert r.request is None and r.price_impact == 0


def test_blocked_company_deleted():
    snap = snapshot([])
    snap["companies"][0]["deletedFlag"] = True
    assert only(run(lines(vline()), snap), key="demo|DC-1|S-1").cause == "company_deleted"


def test_ambiguous_two_keyless_additions_for_one_product():
    snap = snapshot([addition(1, key=None, updated_by="jsmith"), addition(2, key=None, updated_by="jsmith", qty=2)])
    r = only(run(lines(vline()), snap), key="demo|DC-1|S-1")
    assert (r.action, r.cause) == ("blocked", "ambiguous")
    assert "2 active" in r.reason


def test_ambiguous_a_second_line_next_to_the_one_billbridge_manages():
    snap = snapshot([addition(1), addition(2, key=None, updated_by="mgarcia", qty=2)])
    assert only(run(lines(vline()), snap), key="demo|DC-1|S-1").cause == "ambiguous"


def test_ambiguous_two_additions_carrying_the_same_key():
    snap = snapshot([addition(1), addition(2)])
    r = only(run(lines(vline()), snap), key="demo|DC-1|S-1")
    assert r.cause == "ambiguous" and "duplicate" in r.reason


def test_standing_adopts_a_single_keyless_line_and_writes_the_key():
    snap = snapshot([addition(1, key=None, updated_by="jsmith", entered_by="jsmith", qty=8)])
    r = only(run(lines(vline(qty="9")), snap), key="demo|DC-1|S-1")
    assert r.action == "update" and "adopts_existing_line" in r.flags
    assert {"op": "replace", "path": "customFields",
            "value": [{"id": 7, "caption": "BillbridgeKey", "value": "demo|DC-1|S-1"}]} in r.request["body"]
    assert {"op": "replace", "path": "quantity", "value": 9} in r.request["body"]


def test_one_keyless_line_for_two_vendor_subscriptions_is_ambiguous():
    snap = snapshot([addition(1, key=None, updated_by="jsmith")])
    plan = run(lines(vline(sub="S-1"), vline(sub="S-9")), snap)
    assert set(plan.rows["cause"]) == {"ambiguous"}


def test_manually_edited_is_protected_and_named():
    snap = snapshot([addition(1, qty=22, updated_by="jsmith", last_updated="2026-10-20T15:00:00Z")])
    r = only(run(lines(vline(qty="21")), snap), key="demo|DC-1|S-1")
    assert (r.action, r.cause) == ("blocked", "manually_edited")
    assert "jsmith" in r.reason and "2026-10-20" in r.reason
    assert r.request is None


def test_manual_edit_override_turns_the_row_into_an_update():
    snap = snapshot([addition(1, qty=22, updated_by="jsmith", last_updated="2026-10-20T15:00:00Z")])
    r = only(run(lines(vline(qty="21")), snap, overrides=frozenset({"demo|DC-1|S-1"})), key="demo|DC-1|S-1")
    assert r.action == "update" and "overrides_manual_edit" in r.flags
    assert r.request["body"] == [{"op": "replace", "path": "quantity", "value": 21}]


def test_manual_edit_detection_uses_the_journal_when_present():
    snap = snapshot([addition(1, qty=22, updated_by="jsmith", last_updated="2026-10-20T15:00:00Z")])
    journal = pd.DataFrame([{"key": "demo|DC-1|S-1", "addition_id": 1, "written_at": "2026-10-25T09:00:00Z"}])
    # billbridge wrote after the person: not a manual edit any more
    r = only(run(lines(vline(qty="21")), snap, journal=journal), key="demo|DC-1|S-1")
    assert r.action == "update"
    journal = pd.DataFrame([{"key": "demo|DC-1|S-1", "addition_id": 1, "written_at": "2026-10-02T09:00:00Z"}])
    r = only(run(lines(vline(qty="21")), snap, journal=journal), key="demo|DC-1|S-1")
    assert r.cause == "manually_edited"


def test_manual_edit_that_agrees_with_the_vendor_is_just_in_sync():
    snap = snapshot([addition(1, qty=21, updated_by="jsmith", last_updated="2026-10-20T15:00:00Z")])
    assert only(run(lines(vline(qty="21")), snap), key="demo|DC-1|S-1").action == "in_sync"


def test_manual_edit_protects_a_cancel_too():
    snap = snapshot([addition(1), addition(2, product=506, key="demo|DC-1|S-2", updated_by="mgarcia",
                                           last_updated="2026-10-22T08:00:00Z")])
    r = only(run(lines(vline()), snap), key="demo|DC-1|S-2")
    assert (r.action, r.cause) == ("blocked", "manually_edited")


def test_excluded_by_rule_do_not_sync():
    plan = run(lines(vline()), snapshot([addition(1, qty=3)]),
               mappings(rules=[{"vendor_customer_id": CUST, "sku": None, "rule": "do_not_sync", "value": None}]))
    r = only(plan, key="demo|DC-1|S-1")
    assert (r.action, r.cause, r.bucket) == ("blocked", "excluded_by_rule", "excluded")
    assert plan.summary.lines_excluded == 1 and plan.summary.dollars_excluded == D("180.00")


def test_out_of_period_line_is_excluded_and_the_month_is_not_in_sync():
    plan = run(lines(vline(period=("2026-12-04", "2027-01-03"))), snapshot([addition(1)]))
    r = only(plan, cause="out_of_period")
    assert r.bucket == "excluded" and r.key.endswith("|out")
    assert plan.summary.status == "nothing_in_period"
    # the standing line it would have kept alive is not cancelled because of it
    assert "cancel" not in set(plan.rows["action"])


def test_empty_month_is_empty_not_in_sync():
    plan = run(lines(), snapshot([addition(1)]))
    assert plan.summary.status == "empty" and plan.summary.lines_checked == 0


@pytest.mark.parametrize("rule, value, expected", [("fixed_quantity", "5", D("5")), ("cap", "8", D("8")), ("cap", "50", D("10"))])
def test_quantity_rules(rule, value, expected):
    plan = run(lines(vline(qty="10")), snapshot([]),
               mappings(rules=[{"vendor_customer_id": CUST, "sku": "HPBX-SEAT", "rule": rule, "value": D(value)}]))
    r = only(plan, key="demo|DC-1|S-1")
    assert r.vendor_quantity == expected and r.vendor_quantity_raw == D("10")
    assert r.request["body"]["quantity"] == int(expected)
    assert r.vendor_amount == D("180.00")  # conservation counts what the vendor billed


# ---------------------------------------------------------------- modes ---------------------

def test_monthly_mode_creates_a_line_dated_first_to_last_with_the_month_in_the_key():
    plan = run(lines(vline()), snapshot([addition(1, key="demo|DC-1|S-1|2026-10", eff="2026-10-01", cancelled="2026-10-31")]),
               mappings(mode="monthly"))
    r = only(plan, key="demo|DC-1|S-1|2026-11")
    assert r.action == "create"
    assert r.request["body"]["effectiveDate"] == "2026-11-01T00:00:00Z"
    assert r.request["body"]["cancelledDate"] == "2026-11-30T00:00:00Z"
    assert len(plan.rows) == 1  # last month's line is left alone


def test_monthly_mode_in_sync_when_this_months_line_exists():
    add = addition(1, key="demo|DC-1|S-1|2026-11", eff="2026-11-01", cancelled="2026-11-30")
    plan = run(lines(vline()), snapshot([add]), mappings(mode="monthly"))
    assert only(plan, key="demo|DC-1|S-1|2026-11").action == "in_sync"


def test_monthly_mode_never_adopts_a_keyless_line():
    snap = snapshot([addition(1, key=None, updated_by="jsmith")])
    r = only(run(lines(vline()), snap, mappings(mode="monthly")), key="demo|DC-1|S-1|2026-11")
    assert r.cause == "ambiguous"


def test_standing_mode_key_matches_the_sandbox_seed_format():
    assert line_key("demo", "DC-10001", "S-1001") == "demo|DC-10001|S-1001"


# ---------------------------------------------------------------- charge types ---------------

def test_credit_is_matched_to_the_original_line_and_becomes_a_one_month_credit_addition():
    credit = vline(sub="S-2", sku="ARCHIVE", qty="-9", cost="-1.50", price=None, charge_type="credit")
    snap = snapshot([addition(1), addition(2, product=506, qty=9, price=5.0, cost=3.0, key="demo|DC-1|S-2")])
    plan = run(lines(vline(), credit), snap)
    r = only(plan, charge_type="credit")
    assert r.key == "demo|DC-1|S-2|2026-11|credit"
    assert r.action == "create" and r.credit_for == "demo|DC-1|S-2"
    body = r.request["body"]
    assert body["quantity"] == -9 and body["unitCost"] == 1.5 and body["unitPrice"] == 1.5
    assert (body["effectiveDate"], body["cancelledDate"]) == ("2026-11-01T00:00:00Z", "2026-11-30T00:00:00Z")
    assert r.vendor_amount == D("-13.50") and "credit_priced_at_cost" in r.flags
    # the credit does not keep the standing line alive: it is cancelled as usual
    assert only(plan, key="demo|DC-1|S-2").action == "cancel"
    assert plan.summary.dollars_checked == D("166.50")


def test_one_time_charge_is_an_addition_starting_and_ending_in_the_month():
    one = vline(sub="S-3", sku="PHONE-SETUP", qty="3", cost="49.00", price="99.00", charge_type="one_time",
                effective="2026-11-02", period=None)
    r = only(run(lines(one), snapshot([])), charge_type="one_time")
    assert r.key == "demo|DC-1|S-3|2026-11"
    b = r.request["body"]
    assert (b["effectiveDate"], b["cancelledDate"]) == ("2026-11-01T00:00:00Z", "2026-11-30T00:00:00Z")
    assert r.price_impact == D("297.00")


def test_usage_in_arrears_updates_the_standing_line_and_lands_from_last_month():
    use = vline(sub="S-4", sku="VOICE-MIN", qty="12385", cost="0.0120", price="0.0200", charge_type="usage",
                period=("2026-10-05", "2026-11-04"))
    snap = snapshot([addition(4, product=505, qty=11040, price=0.02, cost=0.012, key="demo|DC-1|S-4")])
    r = only(run(lines(use), snap), key="demo|DC-1|S-4")
    assert r.action == "update" and "usage_in_arrears" in r.flags
    assert r.price_impact == D("26.90")  # 1345 x 0.02
    assert r.vendor_amount == D("148.62")  # 12385 x 0.012 = 148.62


def test_proration_shows_connectwise_and_vendor_amounts_for_a_mid_month_start():
    mid = vline(sub="S-5", qty="3", effective="2026-11-17", period=("2026-11-01", "2026-11-30"))
    r = only(run(lines(mid), snapshot([], agreement={"prorateFlag": True})), key="demo|DC-1|S-5")
    assert r.action == "create" and r.request["body"]["effectiveDate"] == "2026-11-17T00:00:00Z"
    assert "prorated_by_connectwise" in r.flags
    assert r.cw_proration == D("35.00")  # 3 x 25 x 14/30
    assert r.vendor_proration == D("35.00")


def test_proration_rounds_once_per_line():
    # 7 x 26.40 x 13/31 = 77.4967..., one rounding -> 77.50 (rounding the daily rate first would give 77.42)
    mid = vline(sub="S-6", sku="M365-BP-ANN", qty="7", cost="22.00", price="26.40", effective="2026-12-19",
                period=("2026-12-01", "2026-12-31"))
    plan = reconcile(lines(mid), snapshot([], agreement={"prorateFlag": True}), mappings(),
                     Context(month="2026-12", vendor="demo"))
    r = only(plan, key="demo|DC-1|S-6")
    assert r.cw_proration == D("77.50")


def test_money_is_rounded_once_per_line():
    # 3 x 0.335 = 1.005 -> 1.01 per line; two lines of one key sum the rounded amounts
    plan = run(lines(vline(qty="3", cost="0.335"), vline(qty="3", cost="0.335")), snapshot([]))
    r = only(plan, key="demo|DC-1|S-1")
    assert r.vendor_amount == D("2.02") and r.vendor_quantity == D("6") and r.vendor_lines == [1, 2]


def test_annual_term_decrease_is_flagged():
    plan = run(lines(vline(sub="S-7", sku="M365-BP-ANN", qty="16", cost="22.00", price="26.40", term="annual")),
               snapshot([addition(7, product=503, qty=18, price=26.4, cost=22.0, key="demo|DC-1|S-7")]))
    r = only(plan, key="demo|DC-1|S-7")
    assert r.action == "update" and "annual_term_decrease" in r.flags and "not refunded" in r.reason


def test_late_month_bdom_is_flagged():
    r = only(run(lines(vline(created="2026-10-29")), snapshot([])), key="demo|DC-1|S-1")
    assert "late_month_bdom" in r.flags


# ---------------------------------------------------------------- summary & json -----------

def test_summary_conserves_lines_and_dollars_and_counts_by_action_and_cause():
    vl = lines(vline(sub="S-1", qty="14"), vline(sub="S-8", sku="FAX-LINE"), vline(sub="S-9", cust="DC-2"))
    plan = run(vl, snapshot([addition(1)]))
    s = plan.summary
    assert s.lines_checked == 3 and s.dollars_checked == D("612.00")
    assert s.lines_reconciled + s.lines_blocked + s.lines_excluded == 3
    assert s.dollars_reconciled + s.dollars_blocked + s.dollars_excluded == s.dollars_checked
    assert s.by_action["update"]["rows"] == 1 and s.by_cause["unmapped_product"]["dollars"] == D("180.00")
    assert s.by_cause["unmapped_customer"]["lines"] == 1


def test_every_action_and_cause_is_documented():
    assert set(ACTIONS) == {"in_sync", "update", "create", "cancel", "blocked"}
    for cause in ("unmapped_customer", "unmapped_product", "no_agreement", "agreement_cancelled", "agreement_expired",
                  "ambiguous", "manually_edited", "excluded_by_rule"):
        assert cause in CAUSES


def test_plan_to_json_has_strings_for_decimals_and_is_serialisable():
    plan = run(lines(vline(qty="14")), snapshot([addition(1, qty=12)]))
    out = plan_to_json(plan)
    text = json.dumps(out)
    row = out["rows"][0]
    assert {"key", "action", "cause", "reason", "writes", "request", "price_impact", "margin_impact"} <= set(row)
    assert row["price_impact"] == "50.00" and row["writes"][0]["to"] == "14"
    assert out["summary"]["dollars_checked"] == "252.00" and "status" in out["summary"]
    assert json.loads(text)["rows"][0]["request"]["body"][0]["value"] == 14


def test_snapshot_frames_are_accepted_in_place_of_json_lists():
    snap = snapshot([addition(1, qty=12)])
    a = run(lines(vline(qty="14")), snap)
    b = run(lines(vline(qty="14")), snapshot_frames(snap))
    assert a.rows["key"].tolist() == b.rows["key"].tolist()
    assert a.rows["action"].tolist() == b.rows["action"].tolist()


def test_conservation_error_is_an_assertion():
    assert issubclass(ConservationError, AssertionError)


def test_do_not_sync_also_protects_lines_the_vendor_stopped_billing():
    snap = snapshot([addition(1), addition(2, product=506, key="demo|DC-1|S-2")])
    plan = run(lines(vline()), snap,
               mappings(rules=[{"vendor_customer_id": CUST, "sku": None, "rule": "do_not_sync", "value": None}]))
    r = only(plan, key="demo|DC-1|S-2")
    assert (r.action, r.cause, r.bucket, r.request) == ("blocked", "excluded_by_rule", "excluded", None)
