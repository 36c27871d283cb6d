"""Mappings (Rules 4.5, 1.6, 7.3, 3.5): a product mapping for the SKU's term and billing frequency wins over
one for its term, which wins over one for any term; a subscription's agreement mapping wins over the
customer's; missing values take the mapping defaults; the first of two mappings wins."""

from __future__ import annotations

import pandas as pd

from billbridge.plan import Mappings
from rules_support import CUST, lines, mappings, only, run, snapshot, vline


def products(*rows):
    return pd.DataFrame([{"sku": "HPBX-SEAT", "term": t, "billing_frequency": f, "catalog_item_id": c}
                         for t, f, c in rows])


def test_the_most_specific_product_mapping_wins():
    base = mappings()
    for rows, expected in [([(None, None, 506), ("monthly", None, 502), ("monthly", "monthly", 503)], 503),
                           ([(None, None, 506), ("monthly", None, 502)], 502),
                           ([(None, None, 506), ("annual", None, 502)], 506)]:
        maps = Mappings(base.companies, base.agreements, products(*rows), base.rules)
        assert only(run(lines(vline()), snapshot([]), maps), key="demo|DC-1|S-1").catalog_item_id == expected


def test_a_subscription_mapping_wins_over_the_customers():
    base = mappings()
    agreements = pd.DataFrame([{"vendor_customer_id": CUST, "subscription_id": None, "agreement_id": 200},
                               {"vendor_customer_id": CUST, "subscription_id": "S-2", "agreement_id": 201,
                                "sync_mode": "monthly"}])
    snap = snapshot([], extra_agreements=[{"id": 201, "name": "Demo Cloud Monthly", "company": {"id": 100},
                                           "agreementStatus": "Active", "noEndingDateFlag": True}])
    plan = run(lines(vline(sub="S-1"), vline(sub="S-2")), snap, Mappings(base.companies, agreements, base.products))
    assert only(plan, subscription_id="S-1").agreement_id == 200
    s2 = only(plan, subscription_id="S-2")
    assert (s2.agreement_id, s2.sync_mode) == (201, "monthly")


def test_missing_mapping_values_take_the_defaults():
    base = mappings()
    agreements = pd.DataFrame([{"vendor_customer_id": CUST, "agreement_id": 200}])
    prods = pd.DataFrame([{"sku": "HPBX-SEAT", "catalog_item_id": 501}])
    r = only(run(lines(vline(qty="9")), snapshot([]), Mappings(base.companies, agreements, prods)), key="demo|DC-1|S-1")
    assert r.sync_mode == "standing" and r.request["body"]["unitPrice"] == 25  # own_price defaults to True


def test_the_first_of_two_company_mappings_wins():
    base = mappings()
    companies = pd.DataFrame([{"vendor_customer_id": CUST, "company_id": 100},
                              {"vendor_customer_id": CUST, "company_id": 999}])
    r = only(run(lines(vline()), snapshot([]), Mappings(companies, base.agreements, base.products)), key="demo|DC-1|S-1")
    assert r.company_id == 100
