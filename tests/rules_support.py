"""A tiny, explicit world for the rule tests (billing month 2026-11).

One customer (DC-1, "Acme Dental") mapped to company 100 ("Acme Dental Group") and agreement 200 ("Demo Cloud
Services"); catalog items 501 HPBX-SEAT / 502 EXCH-MBX / 503 M365-BP-ANN / 504 PHONE-SETUP / 505 VOICE-MIN /
506 ARCHIVE. ``vline`` builds a vendor line, ``addition`` a ConnectWise addition, ``snapshot`` the records,
``mappings`` the operator's mappings, ``run`` reconciles, ``only`` picks the one row matching filters.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D
from types import SimpleNamespace

import pandas as pd

from billbridge.plan import Context, Mappings, reconcile

MONTH = "2026-11"
API = "BillbridgeAPI"
CUST = "DC-1"


# ---------------------------------------------------------------- builders -----------------

def vline(sub="S-1", sku="HPBX-SEAT", qty="10", cost="18.00", price="25.00", charge_type="recurring", cust=CUST,
          name="Acme Dental", term="monthly", period=("2026-11-01", "2026-11-30"), effective=None, line_no=None,
          created=None):
    return {
        "line_no": line_no, "vendor_customer_id": cust, "vendor_customer_name": name,
        "customer_created": date.fromisoformat(created) if created else date(2020, 1, 4),
        "subscription_id": sub, "sku": sku, "product_name": sku.title(), "charge_type": charge_type,
        "billing_frequency": "monthly", "term": term, "quantity": D(qty), "unit_cost": D(cost),
        "unit_price": D(price) if price is not None else None,
        "period_start": date.fromisoformat(period[0]) if period else None,
        "period_end": date.fromisoformat(period[1]) if period else None,
        "effective_date": date.fromisoformat(effective) if effective else None, "currency": "USD",
    }


def lines(*ls):
    df = pd.DataFrame(list(ls))
    df["line_no"] = range(1, len(df) + 1)
    return df


def addition(aid, product=501, qty=10, price=25.0, cost=18.0, key="demo|DC-1|S-1", agr=200, eff="2026-01-01",
             cancelled=None, updated_by=API, last_updated="2026-10-01T10:00:00Z", entered="2026-10-01T10:00:00Z",
             entered_by=API):
    cf = [{"id": 7, "caption": "BillbridgeKey", "type": "Text", "value": key}] if key else []
    return {
        "id": aid, "agreementId": agr, "product": {"id": product, "identifier": f"P{product}"},
        "quantity": qty, "unitPrice": price, "unitCost": cost, "billCustomer": "Billable",
        "effectiveDate": f"{eff}T00:00:00Z", "cancelledDate": f"{cancelled}T00:00:00Z" if cancelled else None,
        "customFields": cf,
        "_info": {"lastUpdated": last_updated, "updatedBy": updated_by, "dateEntered": entered, "enteredBy": entered_by},
    }


CATALOG = [
    {"id": 501, "identifier": "HPBX-SEAT", "description": "Hosted PBX seat", "price": 25.0, "cost": 18.0},
    {"id": 502, "identifier": "EXCH-MBX", "description": "Hosted Exchange mailbox", "price": 7.0, "cost": 4.5},
    {"id": 503, "identifier": "M365-BP-ANN", "description": "M365 Business Premium (annual)", "price": 26.4, "cost": 22.0},
    {"id": 504, "identifier": "PHONE-SETUP", "description": "Phone onboarding", "price": 99.0, "cost": 49.0},
    {"id": 505, "identifier": "VOICE-MIN", "description": "Outbound voice minutes", "price": 0.02, "cost": 0.012},
    {"id": 506, "identifier": "ARCHIVE", "description": "E-mail archiving mailbox", "price": 5.0, "cost": 3.0},
]


def snapshot(additions=(), agreement=None, invoices=(), extra_agreements=()):
    agr = {"id": 200, "name": "Demo Cloud Services", "company": {"id": 100, "identifier": "AcmeDental", "name": "Acme Dental Group"},
           "type": {"id": 1, "name": "Demo Cloud"}, "agreementStatus": "Active", "cancelledFlag": False,
           "prorateFlag": False, "noEndingDateFlag": True, "startDate": "2024-01-01T00:00:00Z"}
    agr.update(agreement or {})
    return {
        "companies": [{"id": 100, "identifier": "AcmeDental", "name": "Acme Dental Group", "accountNumber": "DC-1"}],
        "agreements": [agr, *extra_agreements], "additions": list(additions), "catalog": CATALOG,
        "agreement_types": [{"id": 1, "name": "Demo Cloud"}], "invoices": list(invoices),
    }


def mappings(mode="standing", company=True, agreement=True, own_price=True, own_cost=True, rules=(),
             period_rule="advance", skus=("HPBX-SEAT", "EXCH-MBX", "M365-BP-ANN", "PHONE-SETUP", "VOICE-MIN", "ARCHIVE")):
    ids = {c["identifier"]: c["id"] for c in CATALOG}
    return Mappings(
        companies=pd.DataFrame([{"vendor_customer_id": CUST, "company_id": 100}] if company else [],
                               columns=["vendor_customer_id", "company_id"]),
        agreements=pd.DataFrame([{"vendor_customer_id": CUST, "subscription_id": None, "agreement_id": 200,
                                  "sync_mode": mode, "period_rule": period_rule}] if agreement else [],
                                columns=["vendor_customer_id", "subscription_id", "agreement_id", "sync_mode", "period_rule"]),
        products=pd.DataFrame([{"sku": s, "term": None, "billing_frequency": None, "catalog_item_id": ids[s],
                                "own_cost": own_cost, "own_price": own_price, "quantity_basis": "purchased seats, end of period"}
                               for s in skus]),
        rules=pd.DataFrame(list(rules), columns=["vendor_customer_id", "sku", "rule", "value"]),
    )


def ctx(**kw):
    return Context(month=MONTH, vendor="demo", api_member=API, today=date(2026, 11, 20), **kw)


def run(vl, snap, maps=None, **kw):
    return reconcile(vl, snap, maps or mappings(), ctx(**kw))


def only(plan, **filters):
    rows = plan.rows
    for k, v in filters.items():
        rows = rows[rows[k] == v]
    assert len(rows) == 1, f"expected one row for {filters}, got {len(rows)}:\n{plan.rows[['key', 'action', 'cause']]}"
    return SimpleNamespace(**rows.iloc[0].to_dict())
