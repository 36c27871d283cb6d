"""Which cause blocks a row first (the order of blocked.CAUSE_ORDER): lines of another month and lines
excluded on purpose before anything to fix, then customer, agreement, product."""

from __future__ import annotations

from billbridge.rules.blocked import CAUSE_ORDER
from rules_support import CUST, lines, mappings, only, run, snapshot, vline


def test_the_customer_is_fixed_before_the_product():
    r = only(run(lines(vline(sku="FAX-LINE")), snapshot([]), mappings(company=False)), key="demo|DC-1|S-1")
    assert r.cause == "unmapped_customer"


def test_a_rule_excludes_before_any_mapping_is_missing():
    rule = {"vendor_customer_id": CUST, "sku": None, "rule": "do_not_sync", "value": None}
    r = only(run(lines(vline()), snapshot([]), mappings(company=False, rules=[rule])), key="demo|DC-1|S-1")
    assert (r.cause, r.bucket) == ("excluded_by_rule", "excluded")


def test_another_months_line_is_out_of_period_whatever_else_is_wrong():
    r = only(run(lines(vline(period=("2026-12-04", "2027-01-03"))), snapshot([]), mappings(company=False)),
             cause="out_of_period")
    assert r.bucket == "excluded"


def test_an_agreement_problem_comes_before_an_unmapped_product():
    r = only(run(lines(vline(sku="FAX-LINE")), snapshot([], agreement={"agreementStatus": "Inactive"})),
             key="demo|DC-1|S-1")
    assert r.cause == "agreement_inactive"
    assert [c.split("(")[0] for c in CAUSE_ORDER][:3] == ["out_of_period", "excluded_by_rule", "unmapped_customer"]
