"""The product (Rule 4.5, section 8): a SKU without a product mapping, or mapped to a catalog item ConnectWise no
longer has, is blocked ``unmapped_product``; an inactive catalog item still bills, flagged."""

from __future__ import annotations

import pandas as pd

from billbridge.plan import Mappings
from rules_support import addition, lines, mappings, only, run, snapshot, vline


def test_an_unmapped_sku_is_blocked_and_names_the_sku_and_term():
    r = only(run(lines(vline(sku="FAX-LINE")), snapshot([])), key="demo|DC-1|S-1")
    assert r.cause == "unmapped_product"
    assert r.reason.startswith("The vendor SKU FAX-LINE (Fax-Line, monthly term) is not mapped")


def test_a_reason_never_says_none_for_what_the_line_lacks():
    line = vline(sku="FAX-LINE") | {"product_name": None, "term": None}
    r = only(run(lines(line), snapshot([]), mappings(company=False)), key="demo|DC-1|S-1")
    assert "None" not in r.reason and "nan" not in r.reason
    assert r.reason == "Acme Dental is not linked to a ConnectWise company yet: map the customer to sync FAX-LINE (10)."


def test_a_catalog_item_connectwise_no_longer_has():
    base = mappings()
    maps = Mappings(base.companies, base.agreements, pd.DataFrame([{"sku": "HPBX-SEAT", "catalog_item_id": 777}]))
    r = only(run(lines(vline()), snapshot([]), maps), key="demo|DC-1|S-1")
    assert r.cause == "unmapped_product" and "catalog item #777, which ConnectWise no longer has" in r.reason


def test_an_inactive_catalog_item_still_bills_flagged():
    snap = snapshot([addition(1)])
    snap["catalog"] = [dict(c, inactiveFlag=c["id"] == 501) for c in snap["catalog"]]
    r = only(run(lines(vline()), snap), key="demo|DC-1|S-1")
    assert r.action == "in_sync" and "catalog_item_inactive" in r.flags
