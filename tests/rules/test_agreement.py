"""The agreement (section 8, Rule 6.4): no agreement mapped or none in ConnectWise, cancelled, expired (status,
or an end date before the billing month), inactive: blocked, never written. A child agreement and an
agreement of another company are flagged."""

from __future__ import annotations

import pytest

from rules_support import addition, lines, mappings, only, run, snapshot, vline


def test_no_agreement_mapped():
    r = only(run(lines(vline()), snapshot([]), mappings(agreement=False)), key="demo|DC-1|S-1")
    assert r.cause == "no_agreement" and "has no demo agreement mapped" in r.reason


def test_a_mapped_agreement_connectwise_no_longer_has():
    snap = snapshot([])
    snap["agreements"] = []
    r = only(run(lines(vline()), snap), key="demo|DC-1|S-1")
    assert r.cause == "no_agreement" and "agreement #200, which ConnectWise no longer has" in r.reason


@pytest.mark.parametrize("agreement, cause", [
    ({"agreementStatus": "Cancelled", "cancelledFlag": True}, "agreement_cancelled"),
    ({"agreementStatus": "Active", "cancelledFlag": True}, "agreement_cancelled"),
    ({"agreementStatus": "Expired", "noEndingDateFlag": False, "endDate": "2026-06-30T00:00:00Z"}, "agreement_expired"),
    ({"agreementStatus": "Active", "noEndingDateFlag": False, "endDate": "2026-10-31T00:00:00Z"}, "agreement_expired"),
    ({"agreementStatus": "Active", "noEndingDateFlag": False, "endDate": "2026-11-01T00:00:00Z"}, None),
    ({"agreementStatus": "Inactive"}, "agreement_inactive"),
])
def test_an_agreement_that_cannot_take_the_line(agreement, cause):
    r = only(run(lines(vline()), snapshot([addition(1, qty=3)], agreement=agreement)), key="demo|DC-1|S-1")
    assert r.cause == cause
    if cause:
        assert (r.action, r.request, r.price_impact) == ("blocked", None, 0)


def test_a_child_agreement_and_an_agreement_of_another_company_are_flagged():
    r = only(run(lines(vline()), snapshot([addition(1)], agreement={
        "parentAgreement": {"id": 1, "name": "Master"}, "company": {"id": 999, "name": "Other Co"}})),
        key="demo|DC-1|S-1")
    assert r.action == "in_sync" and {"child_agreement", "agreement_company_mismatch"} <= set(r.flags)
