"""billbridge.matching: suggestions best first, flagged candidates never auto-accepted."""

from __future__ import annotations

import time

import pandas as pd
import pytest

from billbridge import demo_world as dw
from billbridge.matching import (
    AUTO_ACCEPT_THRESHOLD, best_suggestions, normalise_name, suggest_agreements, suggest_companies, suggest_products,
)


def vc(*pairs):
    return pd.DataFrame(pairs, columns=["vendor_customer_id", "vendor_customer_name"])


def co(cid, name, ident=None, acct=None, **extra):
    return {"id": cid, "name": name, "identifier": ident or f"C{cid}", "accountNumber": acct, **extra}


@pytest.mark.parametrize("a, b", [
    ("Bluebird Logistics Inc.", "Bluebird Logistics"),
    ("Cedar & Pine Law, LLP", "Cedar and Pine Law"),
    ("Delta Veterinary Clinic", "Delta Veterinary Clinic, Inc."),
    ("ACME DENTAL GROUP", "acme dental group"),
    ("Müller GmbH", "Muller"),
    ("Golden Gate Title Co.", "golden gate title"),
    ("The Orchid Spa & Wellness", "Orchid Spa and Wellness"),
])
def test_normalise_name_equates_case_punctuation_ampersand_and_suffixes(a, b):
    assert normalise_name(a) == normalise_name(b)


def test_normalise_name_keeps_real_differences():
    assert normalise_name("Acme Dental Group - Eastside") != normalise_name("Acme Dental Group")
    assert normalise_name("Inc") == "inc"  # a name made only of a suffix is kept


def test_account_number_beats_an_exact_name():
    s = suggest_companies(vc(("DC-1", "Acme Dental Group")),
                          [co(1, "Acme Dental Group"), co(2, "Acme Dental Grp", acct="DC-1")])
    best = best_suggestions(s).iloc[0]
    assert (best.company_id, best.score, best.method, bool(best.auto_ok)) == (2, 100, "account number", True)
    assert list(s["company_id"]) == [2, 1]  # both listed, best first


def test_identifier_match_scores_just_below_account_number():
    s = suggest_companies(vc(("ACMEDENTAL", "Acme")), [co(7, "Something Else", ident="AcmeDental")])
    assert (s.iloc[0].score, s.iloc[0].method) == (99, "identifier")


def test_normalised_exact_name_is_auto_ok():
    s = suggest_companies(vc(("X", "Cedar & Pine Law, LLP")), [co(3, "Cedar and Pine Law")])
    r = s.iloc[0]
    assert (r.score, r.method, bool(r.auto_ok)) == (95, "same name", True)


def test_fuzzy_below_threshold_is_listed_but_never_auto():
    s = suggest_companies(vc(("X", "Quartz Analytics")), [co(4, "Quartz Analytic Partners")])
    r = s.iloc[0]
    assert r.method == "similar name" and r.score < AUTO_ACCEPT_THRESHOLD and not r.auto_ok
    assert "confirm by hand" in r.reason


def test_fuzzy_never_outranks_an_exact_name():
    s = suggest_companies(vc(("X", "Bluebird Logistics")), [co(1, "Bluebird Logistic"), co(2, "Bluebird Logistics LLC")])
    assert s.iloc[0].company_id == 2 and s.iloc[1].score <= 94


@pytest.mark.parametrize("extra, flag", [
    ({"deletedFlag": True}, "deleted"),
    ({"types": [{"id": 2, "name": "Prospect"}]}, "prospect"),
    ({"status": {"id": 3, "name": "Not-Approved"}}, "not_approved"),
    ({"status": {"id": 4, "name": "Inactive"}}, "inactive"),
])
def test_deleted_prospect_and_not_approved_companies_are_flagged_and_never_auto(extra, flag):
    s = suggest_companies(vc(("DC-9", "Harbor View Hotel")), [co(9, "Harbor View Hotel", acct="DC-9", **extra)])
    r = s.iloc[0]
    assert r.score == 100 and flag in r["flags"] and not r.auto_ok
    assert "confirm by hand" in r.reason


def test_the_live_company_wins_over_its_recycle_bin_duplicate():
    s = suggest_companies(vc(("DC-2", "Bluebird Logistics Inc.")),
                          [co(1, "Blue Bird Logistics", deletedFlag=True), co(2, "Bluebird Logistics", acct="DC-2")])
    assert best_suggestions(s).iloc[0].company_id == 2
    assert "deleted" in s.set_index("company_id").loc[1, "flags"]


def test_two_companies_with_the_same_name_tie_and_are_not_auto():
    s = suggest_companies(vc(("X", "Northwind Traders")), [co(1, "Northwind Traders"), co(2, "Northwind Traders Inc")])
    assert not s["auto_ok"].any() and all("tie" in f for f in s["flags"])


def test_best_suggestions_lists_customers_without_candidates():
    cust = vc(("A", "Acme Dental Group"), ("Z", "Zzyzx Qwerty"))
    s = suggest_companies(cust, [co(1, "Acme Dental Group")])
    best = best_suggestions(s, cust).set_index("vendor_customer_id")
    assert best.loc["A", "company_id"] == 1 and best.loc["Z", "score"] == 0 and not best.loc["Z", "auto_ok"]


def demo_companies():
    """A minimal ConnectWise companies list built from demo_world (the sandbox seed's intent)."""
    out, cid = [], 100
    for c in dw.CUSTOMERS:
        if c.company_name is None:
            continue
        cid += 1
        rec = co(cid, c.company_name, ident=c.company_identifier, acct=c.vendor_id if c.account_number_matches else None,
                 types=[{"id": 2 if c.cw == "prospect" else 1, "name": "Prospect" if c.cw == "prospect" else "Client"}])
        out.append(rec)
    for name, ident, kind in dw.OTHER_COMPANIES:
        cid += 1
        extra = {"types": [{"name": {"prospect": "Prospect", "vendor": "Vendor", "owner": "Owner"}.get(kind, "Client")}]}
        if kind == "deleted":
            extra["deletedFlag"] = True
        if kind == "not_approved":
            extra["status"] = {"name": "Not-Approved"}
        out.append(co(cid, name, ident=ident, **extra))
    return out


def test_every_demo_customer_gets_the_expected_best_suggestion():
    companies = demo_companies()
    by_name = {c["name"]: c["id"] for c in companies}
    cust = vc(*[(c.vendor_id, c.vendor_name) for c in dw.CUSTOMERS])
    best = best_suggestions(suggest_companies(cust, companies), cust).set_index("vendor_customer_id")
    for c in dw.CUSTOMERS:
        r = best.loc[c.vendor_id]
        if c.company_name is None:  # brand-new customers: nothing may be auto-accepted
            assert not r.auto_ok, c.vendor_name
            continue
        assert r.company_id == by_name[c.company_name], c.vendor_name
        if c.cw == "prospect":
            assert not r.auto_ok and "prospect" in r["flags"]
        else:
            assert r.auto_ok, (c.vendor_name, r.method, r.score, r.flags)
            assert r.method == ("account number" if c.account_number_matches else "same name"), c.vendor_name
    # the lookalike of the brand-new Quartz Analytics is offered, below the threshold
    q = best.loc["DC-10017"]
    assert q.company_name == "Quartz Analytic Partners" and q.score < AUTO_ACCEPT_THRESHOLD


def test_agreement_suggestions_prefer_the_vendor_named_active_agreement():
    cc = pd.DataFrame([{"vendor_customer_id": "DC-1", "company_id": 1}, {"vendor_customer_id": "DC-2", "company_id": 2},
                       {"vendor_customer_id": "DC-3", "company_id": 3}])
    agreements = [
        {"id": 10, "name": "Managed Services", "company": {"id": 1}, "agreementStatus": "Active"},
        {"id": 11, "name": "Demo Cloud Services", "company": {"id": 1}, "agreementStatus": "Active"},
        {"id": 20, "name": "Managed Services", "company": {"id": 2}, "agreementStatus": "Active"},
        {"id": 21, "name": "Old", "company": {"id": 2}, "agreementStatus": "Cancelled", "cancelledFlag": True},
        {"id": 30, "name": "Demo Cloud Services", "company": {"id": 3}, "agreementStatus": "Expired",
         "endDate": "2026-06-30T00:00:00Z"},
    ]
    s = suggest_agreements(cc, agreements, "Demo Cloud", today="2026-11-20")
    best = s.groupby("vendor_customer_id").head(1).set_index("vendor_customer_id")
    assert (best.loc["DC-1", "agreement_id"], bool(best.loc["DC-1", "auto_ok"])) == (11, True)
    assert (best.loc["DC-2", "agreement_id"], best.loc["DC-2", "score"], bool(best.loc["DC-2", "auto_ok"])) == (20, 80, True)
    assert best.loc["DC-3", "agreement_id"] == 30 and "expired" in best.loc["DC-3", "flags"] and not best.loc["DC-3", "auto_ok"]
    assert "cancelled" in s.set_index("agreement_id").loc[21, "flags"]


def test_product_suggestions_identifier_vendor_sku_and_inactive_flag():
    vp = pd.DataFrame([{"sku": "HPBX-SEAT", "term": "monthly", "billing_frequency": "monthly", "product_name": "Hosted PBX seat"},
                       {"sku": "SMS-PACK", "term": "monthly", "billing_frequency": "monthly", "product_name": "SMS bundle"},
                       {"sku": "V-123", "term": "monthly", "billing_frequency": "monthly", "product_name": "Fax"},
                       {"sku": "FAX-LINE", "term": "monthly", "billing_frequency": "monthly", "product_name": "Cloud fax line"}])
    cat = [{"id": 1, "identifier": "HPBX-SEAT", "description": "Hosted PBX seat"},
           {"id": 2, "identifier": "SMS-PACK", "description": "SMS bundle (500 messages)", "inactiveFlag": True},
           {"id": 3, "identifier": "FAXSVC", "description": "Cloud fax service", "vendorSku": "V-123"}]
    s = suggest_products(vp, cat)
    best = best_suggestions(s, id_column="sku").set_index("sku")
    assert (best.loc["HPBX-SEAT", "catalog_item_id"], bool(best.loc["HPBX-SEAT", "auto_ok"])) == (1, True)
    assert "inactive" in best.loc["SMS-PACK", "flags"] and not best.loc["SMS-PACK", "auto_ok"]
    assert (best.loc["V-123", "catalog_item_id"], best.loc["V-123", "method"]) == (3, "vendor SKU")
    assert best.loc["FAX-LINE", "method"] == "similar description" and not best.loc["FAX-LINE", "auto_ok"]


def test_suggest_companies_is_fast_for_5000_customers_and_10000_companies():
    import random
    rnd = random.Random(7)
    words = ["acme", "blue", "cedar", "delta", "echo", "fox", "granite", "harbor", "iron", "juniper", "kestrel",
             "lake", "maple", "north", "orchid", "pine", "quartz", "red", "summit", "tide", "union", "vantage"]
    kinds = ["dental", "logistics", "law", "clinic", "labs", "realty", "hotel", "bakery", "marine", "spa"]
    companies = [co(i, f"{rnd.choice(words).title()} {rnd.choice(words).title()} {rnd.choice(kinds).title()} {i}",
                    acct=f"V{i}" if i % 3 == 0 else None) for i in range(10_000)]
    cust = vc(*[(f"V{i * 2}", companies[i * 2]["name"] + (" Inc." if i % 2 else "")) for i in range(5_000)])
    t = time.perf_counter()
    s = suggest_companies(cust, companies)
    elapsed = time.perf_counter() - t
    best = best_suggestions(s)
    assert len(best) == 5_000 and (best["company_id"] == best["vendor_customer_id"].str[1:].astype(int)).all()
    assert elapsed < 60, elapsed
