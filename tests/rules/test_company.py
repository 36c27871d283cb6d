"""The customer's company (section 8): a vendor customer without a company mapping is blocked
``unmapped_customer``; one mapped to a company ConnectWise has deleted is blocked ``company_deleted``."""

from __future__ import annotations

from rules_support import lines, mappings, only, run, snapshot, vline


def test_a_customer_without_a_company_is_blocked_and_says_what_to_map():
    r = only(run(lines(vline()), snapshot([]), mappings(company=False)), key="demo|DC-1|S-1")
    assert (r.action, r.cause, r.bucket) == ("blocked", "unmapped_customer", "blocked")
    assert r.reason == "Acme Dental is not linked to a ConnectWise company yet: map the customer to sync Hosted PBX seat (10)."


def test_a_deleted_company_is_blocked_with_its_name():
    snap = snapshot([])
    snap["companies"][0]["deletedFlag"] = True
    r = only(run(lines(vline()), snap), key="demo|DC-1|S-1")
    assert r.cause == "company_deleted" and "Acme Dental Group, which is deleted" in r.reason
