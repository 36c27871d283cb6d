"""Deterministic seed data for the sandbox, built from :mod:`billbridge.demo_world`.

What ConnectWise holds for each demo customer follows ``demo_world.CW_SCENARIOS`` exactly:

- the vendor agreement is named ``"<VENDOR_NAME> Services"`` (``"Demo Cloud Services"``), type
  ``Recurring Services`` (no agreement type is named after the vendor: billbridge creates that);
- its additions mirror last month's quantities; ``effectiveDate`` is the subscription's explicit
  start, or the agreement start when the subscription started with the account; unit price/cost come
  from the product; SKUs without an active catalog item, or not billed last month, have no addition;
- billbridge-written additions carry the line key :func:`demo_line_key` in the ``BillbridgeKey``
  custom field and ``enteredBy``/``updatedBy`` = ``demo_world.API_MEMBER``.

Plus: every ``OTHER_COMPANIES`` entry (clients get "Managed Services" agreements with additions of
non-demo products; some also a cancelled or an expired agreement), a catalog with product types,
agreement types (``Managed Services`` is the default), billing cycles (Monthly default) and agreement
invoices for last month (all active vendor agreements) and this month (the first three). Every agreement
carries the site's currency (USD, ``resources.SITE_CURRENCY``).

**Pax8.** The Pax8 emulator (:mod:`billbridge.sandbox.pax8`) bills the same customers. Each customer
ConnectWise keeps in sync (``synced``) also has a ``"Pax8 Services"`` agreement whose additions are last
month's Pax8 lines, keyed as billbridge keys Pax8 lines (:func:`billbridge.sandbox.pax8.pax8_line_key`), so
with nothing configured a pull of this month's Pax8 bill, once its mapping suggestions are accepted,
reconciles with lines in sync, to update, to create and to end, and some blocked (the customers without
a Pax8 agreement, a prospect, unmapped products). These records come after all the others, so the demo
vendor's ids are what they always were.

**Evergreen.** The seed is built for the demo window of a day (:func:`billbridge.demo_world.world`;
default :func:`billbridge.clock.today`): the same all month, rebuilt when the month changes.
:func:`seed_stamp` names the window a seed was built for; the sandbox stores it with the records and
reseeds a stored ``sandbox.db`` whose window is not today's (see :class:`billbridge.sandbox.Sandbox`).
One company (``Yardley Print Shop``) carries a legacy ``yearEstablished`` of 201, so any PATCH of it
fails re-validation, as on a real site.
"""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta, timezone
from typing import Any

from billbridge import demo_world as dw

from .pax8 import pax8_line_key
from .resources import RESOURCES, SITE_CURRENCY, WriteContext, _compute, fmt_date, fmt_dt, line_key_field

__all__ = ["SEED_VERSION", "VENDOR_AGREEMENT_NAME", "PAX8_AGREEMENT_NAME", "demo_line_key", "build_seed", "seed_stamp"]

VENDOR_AGREEMENT_NAME = f"{dw.VENDOR_NAME} Services"
#: the agreement the synced customers have for what Pax8 bills them (named after the vendor, as billbridge
#: would create it, so the mapping suggestions find it)
PAX8_AGREEMENT_NAME = "Pax8 Services"


#: what the seed holds, beyond its window: a stored sandbox of another version is reseeded (2: agreements
#: carry their currency; the synced customers' "Pax8 Services" agreements)
SEED_VERSION = "2"


def seed_stamp(today: date | None = None) -> str:
    """What a seed built on ``today`` depends on: the demo window's current month (``YYYY-MM``)."""
    return dw.world(today).current_month


def demo_line_key(vendor_id: str, sub_id: str) -> str:
    """billbridge's line key for a seeded demo addition: ``demo|<vendor_id>|<sub_id>``."""
    return f"{dw.VENDOR}|{vendor_id}|{sub_id}"


def _ts(d: date, hh: int = 9, mm: int = 0) -> str:
    return fmt_dt(datetime(d.year, d.month, d.day, hh, mm, tzinfo=timezone.utc))


def _info(entered: str, by: str, updated: str | None = None, upd_by: str | None = None) -> dict:
    return {"lastUpdated": updated or entered, "updatedBy": upd_by or by, "dateEntered": entered, "enteredBy": by}


COMPANY_STATUSES = [(1, "Active"), (2, "Inactive"), (3, "Not-Approved"), (4, "Imported")]
COMPANY_TYPES = [(1, "Client"), (2, "Prospect"), (3, "Vendor"), (4, "Owner"), (5, "Competitor"), (6, "Partner")]
BILLING_CYCLES = [(1, "Monthly", "Monthly", True), (2, "Quarterly", "Quarterly", False),
                  (3, "SemiAnnual", "Semi-Annual", False), (4, "Yearly", "Yearly", False),
                  (5, "OneTime", "One Time", False)]
PRODUCT_TYPES = [(1, "Demo_Cloud_Services", "Service", False), (2, "Managed Services", "Service", True),
                 (3, "Hardware", "InventoryPart", False), (4, "Software", "NonInventoryPart", False),
                 (5, "Labor", "Service", False)]
#: (id, name, defaultFlag, prorateFlag, inactiveFlag)
AGREEMENT_TYPES = [(1, "Managed Services", True, False, False), (2, "Recurring Services", False, False, False),
                   (3, "Master Services", False, False, False), (4, "Block Time", False, False, False),
                   (5, "Hardware as a Service", False, True, False), (6, "Legacy Support", False, False, True)]
#: non-demo catalog items: (sku, description, type id, price, cost, recurring, inactive)
OTHER_PRODUCTS = [
    ("MS-WKSTN", "Managed workstation", 2, 45.0, 15.0, True, False),
    ("MS-SERVER", "Managed server", 2, 150.0, 50.0, True, False),
    ("MS-NET", "Managed network device", 2, 25.0, 8.0, True, False),
    ("BACKUP-TB", "Cloud backup per TB", 2, 60.0, 25.0, True, False),
    ("AV-ENDPOINT", "Endpoint antivirus", 4, 5.0, 2.0, True, False),
    ("FW-RENTAL", "Firewall rental", 3, 35.0, 20.0, True, False),
    ("LAPTOP-STD", "Standard business laptop", 3, 1200.0, 950.0, False, False),
    ("LABOR-HR", "Remote support hour", 5, 125.0, 0.0, False, False),
    ("LEGACY-VOIP", "Legacy VoIP seat (retired)", 2, 20.0, 12.0, True, True),
]
_FIRST = ["Alex", "Jordan", "Taylor", "Morgan", "Casey", "Riley", "Jamie", "Avery", "Quinn", "Drew", "Sam", "Robin"]
_LAST = ["Nguyen", "Patel", "Garcia", "Smith", "Kim", "Brown", "Lopez", "Chen", "Okafor", "Miller", "Rossi", "Weber"]
_CITIES = [("Portland", "OR", "97201"), ("Tacoma", "WA", "98402"), ("Boise", "ID", "83702"), ("Eugene", "OR", "97401"),
           ("Spokane", "WA", "99201"), ("Reno", "NV", "89501")]


class _Builder:
    def __init__(self, seed: int):
        self.rng = random.Random(seed)
        self.data: dict[str, dict[int, dict]] = {}
        self.ids: dict[str, int] = {}

    def add(self, coll: str, rec: dict) -> dict:
        rid = self.ids.get(coll, 1)
        self.ids[coll] = rid + 1
        rec = {"id": rid, **{k: v for k, v in rec.items() if k != "id"}}
        self.data.setdefault(coll, {})[rid] = rec
        return rec


def _ref(rec: dict, *keys: str) -> dict:
    out = {"id": rec["id"]}
    for k in keys:
        if rec.get(k) is not None:
            out[k] = rec[k]
    return out


def _agr_ref(agr: dict) -> dict:
    return {"id": agr["id"], "name": agr["name"], "type": agr["type"]["name"], "chargeFirmFlag": False}


def build_seed(seed: int = 42, extra_agreements: int = 0, extra_additions: int = 0,
               today: date | None = None) -> tuple[dict, dict]:
    """Build every collection for the demo window of ``today`` (default :func:`billbridge.clock.today`);
    returns ``(data, next_ids)`` for :meth:`Store.replace_all`."""
    world = dw.world(today)
    M, Y = world.M, world.Y  # noqa: N806 - month-relative and long-ago dates of this world
    last_month = world.months[-2]
    b = _Builder(seed)
    seed_entered = _ts(Y(2019, 1, 7))
    statuses = {n: b.add("company_statuses", {"name": n, "defaultFlag": n == "Active",
                                              "_info": _info(seed_entered, "jsmith")})
                for _, n in COMPANY_STATUSES}
    ctypes = {n: b.add("company_types", {"name": n, "defaultFlag": n == "Client", "vendorFlag": n == "Vendor",
                                         "_info": _info(seed_entered, "jsmith")})
              for _, n in COMPANY_TYPES}
    cycles = {}
    for _, ident, name, default in BILLING_CYCLES:
        opts = {"Monthly": "Monthly", "Quarterly": "Quarterly", "SemiAnnual": "SemiAnnual", "Yearly": "Yearly",
                "OneTime": "NotRecurring"}[ident]
        cycles[ident] = b.add("billing_cycles", {"identifier": ident, "name": name, "defaultFlag": default,
                                                 "billingOptions": opts, "_info": _info(seed_entered, "jsmith")})
    monthly = _ref(cycles["Monthly"], "name")
    ptypes = {name: b.add("product_types", {"name": name, "inactiveFlag": False, "typeXref": xref,
                                            "defaultFlag": default, "_info": _info(seed_entered, "jsmith")})
              for _, name, xref, default in PRODUCT_TYPES}
    atypes = {}
    for _, name, default, prorate, inactive in AGREEMENT_TYPES:
        atypes[name] = b.add("agreement_types", {
            "name": name, "prefixSuffixOption": "Prefix", "defaultFlag": default, "inactiveFlag": inactive,
            "prePaymentFlag": False, "restrictLocationFlag": False, "restrictDepartmentFlag": False,
            "applicationUnits": "Amount", "applicationUnlimitedFlag": False, "oneTimeFlag": False,
            "coverAgreementTimeFlag": False, "coverAgreementProductFlag": False, "coverAgreementExpenseFlag": False,
            "coverSalesTaxFlag": False, "carryOverUnusedFlag": False, "allowOverrunsFlag": False,
            "expireWhenZero": False, "chargeToFirmFlag": False, "employeeCompRate": "Actual",
            "employeeCompNotExceed": "Billing", "billingCycle": monthly, "billOneTimeFlag": False,
            "invoicingCycle": "ContractYear", "billAmount": 0.0, "taxableFlag": False,
            "restrictDownPaymentFlag": False, "topCommentFlag": False, "bottomCommentFlag": False,
            "billTime": "Billable", "billExpenses": "Billable", "billProducts": "Billable",
            "billableTimeInvoiceFlag": False, "billableExpenseInvoiceFlag": False,
            "billableProductInvoiceFlag": True, "copyWorkRolesFlag": False, "copyWorkTypesFlag": False,
            "prorateFlag": prorate, "autoInvoiceFlag": False, "billZeroAmountFlag": False,
            "invoiceProratedAdditionsFlag": prorate, "_info": _info(seed_entered, "jsmith")})

    # ---------------------------------------------------------------- catalog
    catalog: dict[str, dict] = {}

    def cat_item(sku, desc, ptype, price, cost, recurring, inactive):
        catalog[sku] = b.add("catalog", {
            "identifier": sku, "description": desc, "inactiveFlag": inactive,
            "subcategory": {"id": 1 if ptype == "Demo_Cloud_Services" else 2,
                            "name": "Cloud" if ptype == "Demo_Cloud_Services" else "General"},
            "type": _ref(ptypes[ptype], "name"), "productClass": "NonInventory" if recurring else "Inventory",
            "serializedFlag": False, "serializedCostFlag": False, "phaseProductFlag": False,
            "unitOfMeasure": {"id": 1, "name": "Each"}, "price": price, "cost": cost,
            "priceAttribute": "FixedFee", "taxableFlag": False, "dropShipFlag": False, "specialOrderFlag": False,
            "customerDescription": desc, "recurringFlag": recurring,
            "recurringRevenue": price if recurring else 0.0, "recurringCost": cost if recurring else 0.0,
            "recurringOneTimeFlag": False, "recurringBillCycle": monthly if recurring else None,
            "calculatedPriceFlag": False, "calculatedCostFlag": False,
            "category": {"id": 1, "name": "Services"}, "billableOption": "Billable",
            "_info": _info(_ts(Y(2023, 2, 1)), "jsmith")})

    for p in dw.PRODUCTS:
        if p.in_catalog:
            cat_item(p.sku, p.name, "Demo_Cloud_Services", float(p.unit_price), float(p.unit_cost),
                     p.charge_type == "recurring", not p.catalog_active)
    ptype_by_id = {t[0]: t[1] for t in PRODUCT_TYPES}
    for sku, desc, tid, price, cost, rec, inactive in OTHER_PRODUCTS:
        cat_item(sku, desc, ptype_by_id[tid], price, cost, rec, inactive)

    # ---------------------------------------------------------------- companies
    companies: list[tuple[dict, str, Any]] = []  # (company, kind, customer|None)

    def company(name: str, ident: str, kind: str, created: date, account: str | None, cust=None) -> dict:
        n = len(companies)
        city, state, zc = _CITIES[n % len(_CITIES)]
        status = {"not_approved": "Not-Approved", "deleted": "Inactive"}.get(kind, "Active")
        ctype = {"client": "Client", "prospect": "Prospect", "deleted": "Client", "not_approved": "Client",
                 "vendor": "Vendor", "owner": "Owner"}[kind]
        entered = _ts(created, 15, 30)
        rec = {
            "identifier": ident, "name": name, "status": _ref(statuses[status], "name"),
            "addressLine1": f"{100 + 7 * n} Main Street", "city": city, "state": state, "zip": zc,
            "country": {"id": 1, "identifier": "US", "name": "United States"},
            "phoneNumber": f"555{(1000000 + 7919 * n) % 10000000:07d}", "website": f"www.{ident.lower()}.example",
            "territory": {"id": 1, "name": "Main"}, "market": {"id": 1, "name": "Small Business"},
            "accountNumber": account, "dateAcquired": _ts(created, 0, 0),
            "leadFlag": kind == "prospect", "unsubscribeFlag": False, "isVendorFlag": kind == "vendor",
            "deletedFlag": kind == "deleted", "types": [_ref(ctypes[ctype], "name")],
            "billingTerms": {"id": 1, "name": "Net 30"}, "numberOfEmployees": 5 + (n * 13) % 120,
            "yearEstablished": 1975 + (n * 7) % 48,
            "_info": _info(entered, "jsmith", _ts(max(created, M(-5, 1)), 10, 0), "mgarcia"),
        }
        if kind == "deleted":
            rec["dateDeleted"] = _ts(M(-8, 14), 10, 0)
            rec["deletedBy"] = "jsmith"
        if ident == "YardleyPrint":
            rec["yearEstablished"] = 201  # legacy typo: a PATCH of this company fails re-validation
        rec = b.add("companies", rec)
        contact = b.add("contacts", {"name": f"{_FIRST[n % 12]} {_LAST[(n * 5) % 12]}",
                                     "company": _ref(rec, "identifier", "name"),
                                     "_info": _info(entered, "jsmith")})
        rec["defaultContact"] = _ref(contact, "name")
        rec["billingContact"] = _ref(contact, "name")
        companies.append((rec, kind, cust))
        return rec

    for c in world.customers:
        if c.company_name is None:
            continue
        kind = "prospect" if c.cw == "prospect" else "client"
        company(c.company_name, c.company_identifier, kind, c.created, c.vendor_id if c.account_number_matches else None, c)
    for i, (name, ident, kind) in enumerate(dw.OTHER_COMPANIES):
        company(name, ident, kind, Y(2018 + i % 8, 1 + i % 12, 1 + (i * 3) % 28), f"ACCT-{4100 + i}")

    # ---------------------------------------------------------------- agreements + additions
    ctx = WriteContext(store=None, member=None, today=M(0, 1))  # type: ignore[arg-type]
    add_res = RESOURCES["additions"]

    def agreement(comp: dict, name: str, atype: str, start: date, *, end: date | None = None,
                  cancelled: date | None = None, prorate: bool = False, parent: dict | None = None,
                  entered_by: str = "jsmith", currency: dict | None = None, entered_at: str | None = None) -> dict:
        contact = comp["defaultContact"]
        rec = {
            "name": name, "type": _ref(atypes[atype], "name"), "company": _ref(comp, "identifier", "name"),
            "contact": dict(contact), "parentAgreement": _agr_ref(parent) if parent else None,
            "restrictLocationFlag": False, "restrictDepartmentFlag": False,
            "startDate": fmt_date(start), "endDate": fmt_date(end) if end else None, "noEndingDateFlag": end is None,
            "cancelledFlag": cancelled is not None, "dateCancelled": fmt_date(cancelled) if cancelled else None,
            "reasonCancelled": "Customer left" if cancelled else None,
            "applicationUnits": "Amount", "applicationUnlimitedFlag": False, "oneTimeFlag": False,
            "coverAgreementTime": False, "coverAgreementProduct": False, "coverAgreementExpense": False,
            "coverSalesTax": False, "carryOverUnused": False, "allowOverruns": False, "expireWhenZero": False,
            "chargeToFirm": False, "employeeCompRate": "Actual", "employeeCompNotExceed": "Billing",
            "billingCycle": dict(monthly), "billOneTimeFlag": False, "invoicingCycle": "ContractYear",
            "billToCompany": _ref(comp, "identifier", "name"), "billToContact": dict(contact), "billAmount": 0.0,
            "taxable": False, "prorateFirstBill": 0.0, "billStartDate": fmt_date(start), "restrictDownPayment": False,
            "prorateFlag": prorate, "invoiceProratedAdditionsFlag": prorate, "topComment": False,
            "bottomComment": False, "billTime": "Billable", "billExpenses": "Billable", "billProducts": "Billable",
            "billableTimeInvoice": False, "billableExpenseInvoice": False, "billableProductInvoice": True,
            "periodType": "Current", "autoInvoiceFlag": False, "billZeroAmountFlag": False,
            "currency": dict(currency or SITE_CURRENCY), "_info": _info(entered_at or _ts(start, 11, 0), entered_by),
        }
        return b.add("agreements", rec)

    def addition(agr: dict, sku: str, qty: float, eff: date, info: dict, *, key: str | None = None,
                 cancelled: date | None = None, unit_price: float | None = None) -> dict:
        item = catalog[sku]
        rec = {
            "product": {"id": item["id"], "identifier": sku, "serializedFlag": False},
            "quantity": float(qty), "lessIncluded": 0.0,
            "unitPrice": item["price"] if unit_price is None else unit_price, "unitCost": item["cost"],
            "billCustomer": "Billable", "effectiveDate": fmt_date(eff),
            "cancelledDate": fmt_date(cancelled) if cancelled else None, "taxableFlag": False,
            "invoiceDescription": item["description"], "purchaseItemFlag": False, "specialOrderFlag": False,
            "description": item["description"], "uom": "Each",
            "sequenceNumber": float(sum(1 for a in b.data.get("additions", {}).values() if a["agreementId"] == agr["id"]) + 1)
            if len(b.data.get("additions", {})) < 5000 else 1.0,
            "prorateCurrentPeriodFlag": None, "customFields": [line_key_field(key)], "_info": info,
            "agreementId": agr["id"],
        }
        ctx.parent = agr
        _compute(add_res, rec, ctx)
        return b.add("additions", rec)

    vendor_agreements: list[dict] = []
    bb_written = _ts(world.billbridge_wrote, 14, 5)
    rng = b.rng
    for comp, kind, cust in companies:
        if kind != "client":
            continue
        idx = comp["id"]
        # every client has a Managed Services agreement with a couple of non-demo lines
        ms_start = Y(2021 + idx % 4, 1 + idx % 12, 1)
        ms = agreement(comp, "Managed Services", "Managed Services", ms_start)
        ms_info = _info(_ts(ms_start, 11, 30), "jsmith")
        addition(ms, "MS-WKSTN", 5 + rng.randrange(40), ms_start, dict(ms_info))
        addition(ms, "MS-SERVER", 1 + rng.randrange(4), ms_start, dict(ms_info))
        if idx % 3 == 0:
            addition(ms, "AV-ENDPOINT", 5 + rng.randrange(40), ms_start, dict(ms_info))
        if cust is None:
            if idx % 5 == 0:
                old = agreement(comp, "Managed Services (legacy)", "Legacy Support", Y(2019, 4, 1),
                                cancelled=Y(2025, 12, 31))
                addition(old, "LEGACY-VOIP", 4 + idx % 9, Y(2019, 4, 1), _info(_ts(Y(2019, 4, 1)), "jsmith"))
            if idx % 7 == 0:
                exp = agreement(comp, f"Backup Services {Y(2025, 1, 1).year}", "Recurring Services", Y(2025, 1, 1),
                                end=Y(2025, 12, 31))
                addition(exp, "BACKUP-TB", 1 + idx % 3, Y(2025, 1, 1), _info(_ts(Y(2025, 1, 1)), "mgarcia"))
            if idx % 4 == 1:
                haas = agreement(comp, "Firewall Rental", "Hardware as a Service", Y(2025, 6, 1), prorate=True)
                addition(haas, "FW-RENTAL", 1, Y(2025, 6, 1), _info(_ts(Y(2025, 6, 1)), "mgarcia"))
            continue
        scenario = cust.cw
        if scenario == "no_agreement":
            continue
        parent = None
        if scenario == "child_agreement":
            parent = agreement(comp, "Kestrel Master Services", "Master Services", cust.created)
        agr = agreement(
            comp, VENDOR_AGREEMENT_NAME, "Recurring Services", cust.created, prorate=cust.prorate, parent=parent,
            cancelled=world.agreement_cancelled if scenario == "agreement_cancelled" else None,
            end=world.agreement_expired if scenario == "agreement_expired" else None,
        )
        if scenario not in ("agreement_cancelled", "agreement_expired"):
            vendor_agreements.append(agr)
        for si, sub in enumerate(cust.subscriptions):
            product = dw.PRODUCTS_BY_SKU[sub.sku]
            qty = world.quantity(sub, last_month)
            if qty <= 0 or not product.in_catalog or not product.catalog_active:
                continue
            eff = sub.start or cust.created
            first_month = next(m for m in world.months if world.quantity(sub, m) > 0)
            entered = _ts(date(int(first_month[:4]), int(first_month[5:]), 2), 14, 5)
            if scenario == "manual":
                info = _info(_ts(eff + timedelta(days=1), 16, 10), dw.PEOPLE[0])
                addition(agr, sub.sku, qty, eff, info)
                continue
            info = _info(entered, dw.API_MEMBER, bb_written, dw.API_MEMBER)
            if scenario == "person_edited" and si == 0:
                info = _info(entered, dw.API_MEMBER, _ts(world.person_edited, 16, 42), dw.PEOPLE[1])
                qty = qty + 3
            addition(agr, sub.sku, qty, eff, info, key=demo_line_key(cust.vendor_id, sub.sub_id))
            if scenario == "ambiguous" and si == 0:
                addition(agr, sub.sku, qty, Y(2025, 3, 1), _info(_ts(Y(2025, 3, 1), 10, 15), dw.PEOPLE[0]))

    # ---------------------------------------------------------------- Pax8 (the emulator's customers)
    # the customers ConnectWise keeps in sync get a "Pax8 Services" agreement too, after every other
    # record (so the demo vendor's ids stay as they were): its lines are last month's Pax8 bill, keyed as
    # billbridge keys Pax8 lines, so this month's pull has lines in sync, to update, to create and to end
    for comp, kind, cust in companies:
        if kind != "client" or cust is None or cust.cw != "synced":
            continue
        agr = agreement(comp, PAX8_AGREEMENT_NAME, "Recurring Services", cust.created,
                        entered_at=_ts(cust.created, 11, 30))  # entered after the demo agreement of that day
        for sub in cust.subscriptions:
            product = dw.PRODUCTS_BY_SKU[sub.sku]
            qty = world.quantity(sub, last_month)
            if qty <= 0 or not product.in_catalog or not product.catalog_active or product.charge_type == "one_time":
                continue
            first_month = next(m for m in world.months if world.quantity(sub, m) > 0)
            entered = _ts(date(int(first_month[:4]), int(first_month[5:]), 5), 14, 5)
            addition(agr, sub.sku, qty, sub.start or cust.created, _info(entered, dw.API_MEMBER, bb_written, dw.API_MEMBER),
                     key=pax8_line_key(cust.vendor_id, sub.sub_id))

    # ---------------------------------------------------------------- invoices
    inv_no = 10480
    paid_month, sent_month = world.invoice_months
    for month_start, agrs in ((_first_day(paid_month), vendor_agreements), (_first_day(sent_month), vendor_agreements[:3])):
        for agr in agrs:
            comp = b.data["companies"][agr["company"]["id"]]
            lines = [a for a in b.data["additions"].values() if a["agreementId"] == agr["id"]
                     and a["cancelledDate"] is None]
            total = round(sum(a["extPrice"] for a in lines), 2)
            inv_no += 1
            paid = month_start == _first_day(paid_month)
            b.add("invoices", {
                "invoiceNumber": str(inv_no), "type": "Agreement",
                "status": {"id": 2 if paid else 1, "name": "Paid" if paid else "Sent", "isClosed": paid},
                "company": dict(agr["company"]), "billToCompany": dict(agr["company"]),
                "accountNumber": comp.get("accountNumber"), "applyToType": "Agreement", "applyToId": agr["id"],
                "billingTerms": {"id": 1, "name": "Net 30"}, "date": fmt_date(month_start),
                "dueDate": fmt_date(month_start + timedelta(days=30)), "locationId": 1, "departmentId": 1,
                "taxableFlag": False, "serviceTotal": 0.0, "expenseTotal": 0.0, "productTotal": 0.0,
                "agreementAmount": total, "subtotal": total, "total": total, "salesTax": 0.0,
                "payments": total if paid else 0.0, "credits": 0.0, "balance": 0.0 if paid else total,
                "specialInvoiceFlag": False, "agreement": _agr_ref(agr),
                "_info": _info(_ts(month_start, 6, 0), "mgarcia"),
            })

    # ---------------------------------------------------------------- bulk filler (benchmarks)
    if extra_agreements or extra_additions:
        _bulk(b, companies, atypes, catalog, extra_agreements, extra_additions, Y(2024, 1, 1))

    data = b.data
    for coll in ("agreements", "additions", "invoices"):
        data.setdefault(coll, {})
    next_ids = dict(b.ids)
    return data, next_ids


def _first_day(month: str) -> date:
    return date(int(month[:4]), int(month[5:7]), 1)


def _bulk(b: _Builder, companies, atypes, catalog, n_agr: int, n_add: int, start: date) -> None:
    clients = [c for c, kind, _ in companies if kind == "client"]
    start_s = fmt_date(start)
    info = _info(_ts(start), "jsmith")
    mtype = {"id": atypes["Managed Services"]["id"], "name": "Managed Services"}
    targets: list[dict] = []
    base = next(iter(b.data["agreements"].values()))
    for i in range(n_agr):
        comp = clients[i % len(clients)]
        rec = dict(base)
        rec.update({"name": f"Bulk Services {i + 1:05d}", "type": dict(mtype),
                    "company": {"id": comp["id"], "identifier": comp["identifier"], "name": comp["name"]},
                    "contact": dict(comp["defaultContact"]), "billToCompany": {"id": comp["id"], "identifier": comp["identifier"], "name": comp["name"]},
                    "billToContact": dict(comp["defaultContact"]), "parentAgreement": None, "startDate": start_s,
                    "billStartDate": start_s, "endDate": None, "noEndingDateFlag": True, "cancelledFlag": False,
                    "dateCancelled": None, "reasonCancelled": None, "prorateFlag": False, "_info": dict(info)})
        targets.append(b.add("agreements", rec))
    if not targets:
        targets = [a for a in b.data["agreements"].values() if a["name"] == "Managed Services"]
    items = [catalog[s] for s, *_rest, inactive in OTHER_PRODUCTS if not inactive]
    rng = b.rng
    seqs: dict[int, int] = {}
    for j in range(n_add):
        agr = targets[j % len(targets)]
        item = items[(j // len(targets)) % len(items)]
        qty = float(1 + rng.randrange(50))
        seq = seqs[agr["id"]] = seqs.get(agr["id"], 0) + 1
        price, cost = item["price"], item["cost"]
        b.add("additions", {
            "product": {"id": item["id"], "identifier": item["identifier"], "serializedFlag": False},
            "quantity": qty, "lessIncluded": 0.0, "unitPrice": price, "unitCost": cost, "billCustomer": "Billable",
            "effectiveDate": start_s, "taxableFlag": False, "invoiceDescription": item["description"],
            "purchaseItemFlag": False, "specialOrderFlag": False, "agreementId": agr["id"],
            "description": item["description"], "billedQuantity": qty, "uom": "Each",
            "extPrice": round(qty * price, 2), "extCost": round(qty * cost, 2),
            "sequenceNumber": float(seq), "margin": round(qty * (price - cost), 2), "prorateCost": cost,
            "proratePrice": price, "extendedProrateCost": round(qty * cost, 2),
            "extendedProratePrice": round(qty * price, 2), "prorateCurrentPeriodFlag": False,
            "customFields": [line_key_field()], "_info": dict(info),
        })
