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


# ---------------------------------------------------------------- once per customer (issue 11)
def known(*rows):
    """Customers already mapped for other vendors: (vendor label, customer id, name, company id, extra keys)."""
    cols = ["vendor", "vendor_label", "vendor_customer_id", "vendor_customer_name", "company_id",
            "vendor_customer_external_id", "vendor_customer_domain"]
    return pd.DataFrame([{"vendor": lab.lower(), "vendor_label": lab, "vendor_customer_id": cid,
                          "vendor_customer_name": name, "company_id": comp, **kw} for lab, cid, name, comp, kw in rows],
                        columns=cols)


def vck(cid, name, ext=None, domain=None):
    return pd.DataFrame([{"vendor_customer_id": cid, "vendor_customer_name": name, "vendor_customer_external_id": ext,
                          "vendor_customer_domain": domain}])


COMPANIES = [co(1, "Acme Dental Group"), co(2, "Acme Dental Grp East"), co(3, "Zenith Law")]


def test_a_customer_mapped_for_another_vendor_gets_that_company_saying_for_which_vendor():
    # Pax8's externalId is the id the demo vendor bills Acme under: the same customer
    s = suggest_companies(vck("uuid-1", "ACME Dental", ext="DC-10001"), COMPANIES,
                          known=known(("Demo Cloud", "DC-10001", "Acme Dental Group", 2, {})))
    best = s.iloc[0]
    assert (best.company_id, best.score, best.method, bool(best.auto_ok)) == (2, 99, "already mapped", True)
    assert best.reason.startswith("already mapped for Demo Cloud") and "DC-10001" in best.reason


@pytest.mark.parametrize("mine, theirs, why", [
    ({"ext": "ACC-7"}, {"vendor_customer_external_id": "ACC-7"}, "the same external id ACC-7"),
    ({"domain": "acme.onmicrosoft.com"}, {"vendor_customer_domain": "ACME.onmicrosoft.com"},
     "the same Microsoft tenant domain acme.onmicrosoft.com"),
])
def test_the_same_external_id_or_tenant_domain_is_the_same_customer(mine, theirs, why):
    s = suggest_companies(vck("X-1", "Completely Different Name", **mine), COMPANIES,
                          known=known(("Pax8", "P-9", "Zenith Law", 3, theirs)))
    best = s.iloc[0]
    assert (best.company_id, best.score) == (3, 99) and why in best.reason and best.auto_ok


def test_another_vendors_external_id_naming_this_customers_id_is_the_same_customer():
    s = suggest_companies(vck("DC-10003", "Cedar & Pine Law, LLP"), COMPANIES,
                          known=known(("Pax8", "uuid-3", "Cedar Pine", 3, {"vendor_customer_external_id": "DC-10003"})))
    assert (s.iloc[0].company_id, s.iloc[0].score) == (3, 99)
    assert "the external id there is this customer's id DC-10003" in s.iloc[0].reason


def test_two_vendors_plain_ids_that_happen_to_be_equal_say_nothing():
    s = suggest_companies(vck("C1", "Nobody Alike"), COMPANIES, known=known(("Phin", "C1", "Zenith Law", 3, {})))
    assert 3 not in set(s["company_id"])


def test_the_same_name_mapped_elsewhere_beats_a_same_name_company_but_not_an_id():
    k = known(("Intermedia", "IM-1", "Acme Dental Group, Inc.", 2, {}))
    s = suggest_companies(vck("V-1", "Acme Dental Group"), COMPANIES, known=k)
    assert list(s["company_id"][:2]) == [2, 1] and (s.iloc[0].score, s.iloc[1].score) == (97, 95)
    assert s.iloc[0].reason == "already mapped for Intermedia: the same customer name" and s.iloc[0].auto_ok
    by_account = [co(1, "Acme Dental Group", acct="V-1"), *COMPANIES[1:]]
    assert suggest_companies(vck("V-1", "Acme Dental Group"), by_account, known=k).iloc[0].company_id == 1


def test_two_vendors_disagreeing_about_the_company_is_a_tie_never_accepted_blindly():
    k = known(("Pax8", "P-1", "Acme Dental Group", 1, {}), ("Sherweb", "S-1", "Acme Dental Group", 2, {}))
    s = suggest_companies(vck("V-1", "Acme Dental Group"), COMPANIES, known=k)
    top = s[s["score"] == s["score"].max()]
    assert set(top["company_id"]) == {1, 2} and not top["auto_ok"].any() and all("tie" in f for f in top["flags"])


def test_a_company_the_snapshot_no_longer_holds_is_not_offered():
    s = suggest_companies(vck("uuid-1", "Someone", ext="DC-1"), COMPANIES,
                          known=known(("Demo Cloud", "DC-1", "Someone", 99, {})))
    assert 99 not in set(s["company_id"])


@pytest.mark.parametrize("company, method, score, words", [
    (co(5, "Tenant Co", acct="acme.onmicrosoft.com"), "account number", 100,
     "the Microsoft tenant domain acme.onmicrosoft.com is the company's account number"),
    (co(5, "Tenant Co", ident="ACC-7"), "identifier", 99, "the vendor's external id ACC-7 is the company's identifier"),
    (co(5, "Tenant Co", customFields=[{"id": 3, "caption": "M365 tenant", "value": "acme.onmicrosoft.com"}]),
     "custom field", 98, "is the company's custom field M365 tenant"),
])
def test_connectwise_holding_the_vendors_own_id_of_the_customer_finds_the_company(company, method, score, words):
    s = suggest_companies(vck("uuid-1", "Something Else", ext="ACC-7", domain="acme.onmicrosoft.com"), [company])
    best = s.iloc[0]
    assert (best.company_id, best.method, best.score) == (5, method, score) and words in best.reason


def test_the_month_suggests_the_company_mapped_for_the_other_vendor_by_tenant_domain(tmp_path):
    from billbridge import mappings, sources
    from billbridge import store as st
    from billbridge.store import Store

    store = Store.open(tmp_path / "b.db")
    recon = sources.sample_bytes("microsoft")
    assert sources.load_month(store, "2026-11", recon, "recon.csv", "microsoft").status == "loaded"
    # a second reseller bills the same tenant under another name and id
    other = recon.decode("utf-8-sig").replace("Delta Veterinary Clinic", "DVC Holdings").replace(
        "3b34853f-892b-5c26-8de3-4b865bf3d0d6", "11111111-2222-3333-4444-555555555555").encode()
    assert sources.load_month(store, "2026-11", other, "other.csv", "microsoft", vendor="reseller").status == "loaded"
    delta = mappings.vendor_customers(store, "2026-11").query("vendor == 'microsoft' and vendor_customer_name == "
                                                              "'Delta Veterinary Clinic'")
    st.set_mappings(store, "company", "microsoft", [{"vendor_customer_id": delta["vendor_customer_id"].iloc[0],
                                                     "vendor_customer_name": "Delta Veterinary Clinic", "company_id": 4}])
    snapshot = {"companies": [co(4, "Delta Veterinary Clinic, Inc."), co(7, "DVC Holdings Group")],
                "agreements": [], "catalog": []}
    sug = mappings.suggestions(store, "2026-11", snapshot)["companies"]
    dvc = sug[(sug["vendor"] == "reseller") & (sug["vendor_customer_name"] == "DVC Holdings")].iloc[0]
    assert (dvc.company_id, dvc.score) == (4, 99)
    assert dvc.reason == ("already mapped for Microsoft: the same Microsoft tenant domain "
                          "deltaveterinaryclinic.onmicrosoft.com")
    assert mappings.accept(store, "2026-11", snapshot, kinds=("company",))["company"] >= 1
    got = st.get_mappings(store, "company", "reseller")
    assert 4 in set(got["company_id"])
